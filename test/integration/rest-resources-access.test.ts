// Who may do what through the REST API: the whole permission matrix. A folder grants one kind of
// principal (public, org users, org controllers, one user, one controller) none, read or write; every
// caller (no credentials, two users, two controllers, a system admin) then tries every action on the
// folder and on what is below it (inheritance): reading, listing, writing files, creating, renaming,
// moving, deleting, sequence values (through the value lane and the app's route), messages and
// controller keys. Then: an unscoped system admin session, children with their own lists, and other
// organizations' paths answering exactly like paths that do not exist.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { findPath } from '../../core/resources/tree.ts'
import { providers } from '../helpers/core.ts'
import { fixture as accounts } from '../helpers/fixtures.ts'
import { basicAuth } from '../helpers/http.ts'
import { b64 } from '../helpers/resources.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

const callers = ['public', 'ann', 'bob', 'pi', 'pi2', 'admin'] as const
type Caller = (typeof callers)[number]
const controllers: readonly Caller[] = ['pi', 'pi2']
const levels = { none: 0, read: 10, write: 20 } as const
type Level = keyof typeof levels

/** Which callers an entry [type, principal] names (the admin, signed in, writes whatever the list says). */
const entries: { type: number; label: string; principal: (ids: Ids) => number | null; matches: Caller[] }[] = [
  { type: 100, label: 'public', principal: () => null, matches: ['public', 'ann', 'bob', 'pi', 'pi2'] },
  { type: 110, label: 'org users', principal: (ids) => ids.acme, matches: ['ann', 'bob'] },
  { type: 120, label: 'org controllers', principal: (ids) => ids.acme, matches: ['pi', 'pi2'] },
  { type: 130, label: 'one user', principal: (ids) => ids.ann, matches: ['ann'] },
  { type: 140, label: 'one controller', principal: (ids) => ids.pi, matches: ['pi'] },
]
interface Ids {
  acme: number
  ann: number
  pi: number
}

function levelOf(caller: Caller, entry: (typeof entries)[number], level: Level): Level {
  if (caller === 'admin') return 'write'
  return entry.matches.includes(caller) ? level : 'none'
}

/** Credentials as request headers: an API key over HTTP Basic, or a session cookie with its CSRF token. */
type Credentials = Record<string, string>

interface Call {
  method: string
  /** from the server's root, e.g. /api/v1/messages?folder_path=… */
  url: string
  fields?: Record<string, string>
}

interface Fixture {
  folder: string
  caller: Caller
  /** a number no other call uses: values, message types */
  n: number
  /** the controller key the admin made for this caller to revoke */
  keyToRevoke: number
}

/** What one action sends, what it needs, and how to see afterwards whether it happened. */
interface Action {
  name: string
  need: 'read' | 'write'
  /** keys are managed by people: without credentials 401, with a controller key 403, whatever the level */
  peopleOnly?: boolean
  /** the answer to a caller who may read but not write (403 unless said otherwise) */
  readOnlyStatus?: number
  call(f: Fixture): Call
  /** the message of a 404, which must be the one a path that does not exist gets */
  notFound(f: Fixture): string
  /** whether the action took effect (checked for every caller, allowed or not); body is the answer's */
  took?(f: Fixture, t: TestServer, body: string): Promise<boolean>
}

const resources = '/api/v1/resources'
const missing = (path: string) => `resource not found: ${path}`
const exists = async (t: TestServer, path: string) => (await findPath(t.core.db, path)) !== null
const idAt = async (t: TestServer, path: string) => (await findPath(t.core.db, path))!.at(-1)!.id
const iso = (n: number) => new Date(Date.UTC(2024, 0, 1) + n * 1000).toISOString()

const actions: Action[] = [
  // reading
  {
    name: 'read the folder',
    need: 'read',
    call: (f) => ({ method: 'GET', url: `${resources}${f.folder}?meta=1` }),
    notFound: (f) => missing(f.folder),
  },
  {
    name: 'read a file inside',
    need: 'read',
    call: (f) => ({ method: 'GET', url: `${resources}${f.folder}/inner.txt` }),
    notFound: (f) => missing(`${f.folder}/inner.txt`),
  },
  {
    name: 'list the folder',
    need: 'read',
    call: (f) => ({ method: 'GET', url: `${resources}${f.folder}?recursive=1` }),
    notFound: (f) => missing(f.folder),
  },
  {
    name: "read a sequence's latest value",
    need: 'read',
    call: (f) => ({ method: 'GET', url: `${resources}${f.folder}/sub/level` }),
    notFound: (f) => missing(`${f.folder}/sub/level`),
  },
  {
    name: "read the folder's messages",
    need: 'read',
    call: (f) => ({ method: 'GET', url: `/api/v1/messages?folder_path=${f.folder}` }),
    notFound: (f) => `folder not found: ${f.folder}`,
  },
  // changing the tree
  {
    name: 'write a file',
    need: 'write',
    call: (f) => ({ method: 'PUT', url: `${resources}${f.folder}/inner.txt`, fields: { contents: f.caller } }),
    notFound: (f) => missing(`${f.folder}/inner.txt`),
  },
  {
    name: 'create in the folder',
    need: 'write',
    call: (f) => ({ method: 'POST', url: resources, fields: { path: f.folder, name: `by-${f.caller}`, type: '10' } }),
    notFound: (f) => missing(f.folder),
    took: (f, t) => exists(t, `${f.folder}/by-${f.caller}`),
  },
  {
    name: 'rename',
    need: 'write',
    call: (f) => ({
      method: 'PUT',
      url: `${resources}${f.folder}/ren-${f.caller}`,
      fields: { name: `renamed-${f.caller}` },
    }),
    notFound: (f) => missing(`${f.folder}/ren-${f.caller}`),
    took: (f, t) => exists(t, `${f.folder}/renamed-${f.caller}`),
  },
  {
    name: 'move into a subfolder',
    need: 'write',
    call: (f) => ({
      method: 'PUT',
      url: `${resources}${f.folder}/mv-${f.caller}`,
      fields: { parent: `${f.folder}/sub` },
    }),
    notFound: (f) => missing(`${f.folder}/mv-${f.caller}`),
    took: (f, t) => exists(t, `${f.folder}/sub/mv-${f.caller}`),
  },
  {
    name: 'delete',
    need: 'write',
    call: (f) => ({ method: 'DELETE', url: `${resources}${f.folder}/del-${f.caller}` }),
    notFound: (f) => missing(`${f.folder}/del-${f.caller}`),
    took: async (f, t) => !(await exists(t, `${f.folder}/del-${f.caller}`)),
  },
  // sequence values: a key's PUT of a value alone is answered by the value lane; the legacy POST by the app's route
  ...(['PUT', 'POST'] as const).map((method): Action => ({
    name: `store a sequence value (${method === 'PUT' ? 'PUT: the value lane' : "legacy POST: the app's route"})`,
    need: 'write',
    call: (f) => ({
      method,
      url: `${resources}${f.folder}/sub/level`,
      fields: { value: String(f.n), timestamp: iso(f.n) },
    }),
    notFound: (f) => missing(`${f.folder}/sub/level`),
    took: async (f, t) =>
      (await t.core.db.resourceRevision.count({
        where: { resourceId: await idAt(t, `${f.folder}/sub/level`), numericValue: f.n },
      })) === 1,
  })),
  {
    name: 'send a message to the folder',
    need: 'write',
    call: (f) => ({
      method: 'POST',
      url: '/api/v1/messages',
      fields: { folder_path: f.folder, type: `note_${f.n}`, parameters: '{}' },
    }),
    notFound: (f) => `folder not found: ${f.folder}`,
    took: async (f, t) => (await t.core.db.message.count({ where: { type: `note_${f.n}` } })) === 1,
  },
  // keys of a controller inside the folder: for whoever may write it
  {
    name: "list a controller's keys",
    need: 'write',
    peopleOnly: true,
    call: (f) => ({ method: 'GET', url: `/api/v1/keys?controller_path=${f.folder}/ctl` }),
    notFound: () => 'controller not found',
  },
  {
    name: 'make a controller key',
    need: 'write',
    peopleOnly: true,
    call: (f) => ({ method: 'POST', url: '/api/v1/keys', fields: { controller_path: `${f.folder}/ctl` } }),
    notFound: () => 'controller not found',
    took: async (f, t, body) => {
      const id = (JSON.parse(body) as { id?: number }).id
      const made = id === undefined ? null : await t.core.db.key.findUnique({ where: { id } })
      return (
        made !== null && made.accessAsControllerId === (await idAt(t, `${f.folder}/ctl`)) && made.revokedAt === null
      )
    },
  },
  {
    name: 'revoke a controller key',
    need: 'write',
    peopleOnly: true,
    readOnlyStatus: 404, // a key one may not manage is as absent as one that does not exist
    call: (f) => ({ method: 'DELETE', url: `/api/v1/keys/${f.keyToRevoke}` }),
    notFound: () => 'key not found',
    took: async (f, t) => (await t.core.db.key.findUniqueOrThrow({ where: { id: f.keyToRevoke } })).revokedAt !== null,
  },
]

function expectedStatus(action: Action, caller: Caller, level: Level): number {
  if (action.peopleOnly && caller === 'public') return 401
  if (action.peopleOnly && controllers.includes(caller)) return 403
  if (level === 'write' || (level === 'read' && action.need === 'read')) return 200
  if (level === 'none') return 404
  return action.readOnlyStatus ?? 403
}

for (const provider of providers) {
  describe(`REST access on ${provider}`, () => {
    let server: TestServer
    const as = {} as Record<Caller, Credentials>
    let betaController: Credentials
    let betaUser: Credentials
    let adminKey: Credentials
    let ids: Ids
    let counter = 0

    const send = (who: Credentials, { method, url, fields }: Call) =>
      fetch(`${server.url}${url}`, {
        method,
        headers: { ...who, ...(fields ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
        body: fields ? new URLSearchParams(fields) : undefined,
      })
    const key = (secret: string): Credentials => ({ authorization: basicAuth(secret) })

    before(async () => {
      server = await startTestServer(provider)
      const f = await accounts(server.core, {
        orgs: ['acme', 'beta'],
        users: { ann: {}, bob: {}, bea: { org: 'beta' }, root: { systemAdmin: true } },
        controllers: ['acme/devices/pi-1', 'acme/devices/pi-2', 'beta/pi-b'],
      })
      const pi = f.controllers['acme/devices/pi-1']
      ids = { acme: f.orgs.acme.id, ann: f.users.ann.id, pi: pi.id }
      as.public = {}
      as.ann = key(f.users.ann.key)
      as.bob = key(f.users.bob.key)
      as.pi = key(pi.key)
      as.pi2 = key(f.controllers['acme/devices/pi-2'].key)
      // a system admin signed in; their key is scoped to one organization and holds no admin power
      // (security-escalation.test.ts)
      const signIn = await fetch(`${server.url}/sign-in`, {
        method: 'POST',
        body: new URLSearchParams({ email_address: 'root@example.com', password: 'long enough pw' }),
      })
      as.admin = {
        cookie: signIn.headers.getSetCookie()[0]!.split(';')[0]!,
        'x-csrf-token': ((await signIn.json()) as { csrf_token: string }).csrf_token,
      }
      adminKey = key(f.users.root.key)
      betaController = key(f.controllers['beta/pi-b'].key)
      betaUser = key(f.users.bea.key)
    })
    after(() => server.close())

    /**
     * The folder, with what every caller's actions need inside it, made by who (the admin); then its permission list.
     */
    async function prepare(
      who: Credentials,
      folder: string,
      permissions: [number, number | null, number][],
    ): Promise<Record<Caller, number>> {
      const ok = async (call: Call) => {
        const res = await send(who, call)
        assert.equal(res.status, 200, `preparing ${folder}: ${call.method} ${call.url}`)
        return res.json() as Promise<{ id: number }>
      }
      await ok({
        method: 'POST',
        url: resources,
        fields: { path: folder, name: 'inner.txt', type: '20', data: b64('x') },
      })
      await ok({
        method: 'POST',
        url: resources,
        fields: { path: `${folder}/sub`, name: 'level', type: '21', data_type: '1' },
      })
      await ok({ method: 'PUT', url: `${resources}${folder}/sub/level`, fields: { value: '0.5', timestamp: iso(0) } })
      await ok({ method: 'POST', url: resources, fields: { path: folder, name: 'ctl', type: '12' } })
      const keyToRevoke = {} as Record<Caller, number>
      for (const caller of callers) {
        for (const prefix of ['ren', 'mv', 'del'])
          await ok({
            method: 'POST',
            url: resources,
            fields: { path: folder, name: `${prefix}-${caller}`, type: '10' },
          })
        keyToRevoke[caller] = (
          await ok({ method: 'POST', url: '/api/v1/keys', fields: { controller_path: `${folder}/ctl` } })
        ).id
      }
      await ok({ method: 'PUT', url: `${resources}${folder}`, fields: { permissions: JSON.stringify(permissions) } })
      return keyToRevoke
    }

    for (const entry of entries) {
      for (const level of Object.keys(levels) as Level[]) {
        test(`a folder granting ${entry.label} ${level}: every caller can do exactly what its level allows, there and below`, async () => {
          const folder = `/acme/m-${entry.type}-${level}`
          const keyToRevoke = await prepare(as.admin, folder, [[entry.type, entry.principal(ids), levels[level]]])
          for (const caller of callers) {
            const has = levelOf(caller, entry, level)
            for (const action of actions) {
              const fixture: Fixture = { folder, caller, n: ++counter, keyToRevoke: keyToRevoke[caller] }
              const want = expectedStatus(action, caller, has)
              const res = await send(as[caller], action.call(fixture))
              const what = `${caller} (${has}): ${action.name}`
              const body = await res.text()
              assert.equal(res.status, want, `${what}: ${body.slice(0, 200)}`)
              if (want === 404)
                assert.equal(
                  (JSON.parse(body) as { message: string }).message,
                  action.notFound(fixture),
                  `${what}: no hint that it exists`,
                )
              if (action.took)
                assert.equal(await action.took(fixture, server, body), want === 200, `${what}: took effect iff allowed`)
              // meta=1 tells the page what the caller may do, so it offers only that
              if (action.name === 'read the folder' && want === 200)
                assert.equal(
                  (JSON.parse(body) as { access: string }).access,
                  has === 'write' ? 'write' : 'read',
                  `${what}: access`,
                )
            }
          }
        })
      }
    }

    test('a system admin session (no organization scope) reads and writes everywhere, also where no list grants anyone anything', async () => {
      const signIn = await fetch(`${server.url}/sign-in`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ email_address: 'root@example.com', password: 'long enough pw' }),
      })
      assert.equal(signIn.status, 200)
      const session: Credentials = {
        cookie: signIn.headers.get('set-cookie')!.split(';')[0]!,
        'x-csrf-token': ((await signIn.json()) as { csrf_token: string }).csrf_token,
      }
      for (const folder of ['/acme/closed', '/beta/closed']) {
        const keyToRevoke = await prepare(session, folder, [[100, null, 0]])
        for (const action of actions) {
          const fixture: Fixture = { folder, caller: 'admin', n: ++counter, keyToRevoke: keyToRevoke.admin }
          const res = await send(session, action.call(fixture))
          const body = await res.text()
          assert.equal(res.status, 200, `${folder}: ${action.name}: ${body.slice(0, 200)}`)
          if (action.took) assert.ok(await action.took(fixture, server, body), `${folder}: ${action.name} took effect`)
        }
      }
      // a system admin's key acts inside its own organization only
      const scoped = await send(adminKey, { method: 'GET', url: `${resources}/beta/closed?meta=1` })
      assert.equal(scoped.status, 404)
    })

    test('a child with its own list is hidden from listings and downloads of callers it refuses, and protects its folder from their deletes', async () => {
      const asAnn = (call: Call) => send(as.ann, call)
      const asBob = (call: Call) => send(as.bob, call)
      await send(as.admin, {
        method: 'POST',
        url: resources,
        fields: { path: '/acme/mixed', name: 'open.txt', type: '20', data: b64('o') },
      })
      await send(as.admin, {
        method: 'POST',
        url: resources,
        fields: { path: '/acme/mixed/private', name: 'secret.txt', type: '20', data: b64('s') },
      })
      await send(as.admin, {
        method: 'PUT',
        url: `${resources}/acme/mixed/private`,
        fields: { permissions: JSON.stringify([[130, ids.ann, 20]]) },
      })
      const names = async (res: Response) => ((await res.json()) as { name: string }[]).map((i) => i.name)
      assert.deepEqual(await names(await asBob({ method: 'GET', url: `${resources}/acme/mixed?recursive=1` })), [
        'open.txt',
      ])
      assert.deepEqual(await names(await asAnn({ method: 'GET', url: `${resources}/acme/mixed?recursive=1` })), [
        'open.txt',
        'private',
        'secret.txt',
      ])
      const zip = await asBob({
        method: 'GET',
        url: `${resources}/acme/mixed?download=1&ids=${await idAt(server, '/acme/mixed/private')}`,
      })
      assert.equal(zip.status, 404)
      // deleting the folder would delete what bob may not touch: refused, and nothing goes
      assert.equal((await asBob({ method: 'DELETE', url: `${resources}/acme/mixed` })).status, 403)
      assert.equal(
        await (await asAnn({ method: 'GET', url: `${resources}/acme/mixed/private/secret.txt` })).text(),
        's',
      )
      assert.equal(await (await asBob({ method: 'GET', url: `${resources}/acme/mixed/open.txt` })).text(), 'o')
      assert.equal((await asAnn({ method: 'DELETE', url: `${resources}/acme/mixed` })).status, 200)
      assert.equal((await asAnn({ method: 'GET', url: `${resources}/acme/mixed/private/secret.txt` })).status, 404)
    })

    test("another organization's paths answer every action exactly like paths that do not exist, and nothing changes", async () => {
      const folder = '/acme/shared'
      const keyToRevoke = await prepare(as.admin, folder, [[110, ids.acme, 20]])
      const counts = async () => ({
        resources: await server.core.db.resource.count(),
        revisions: await server.core.db.resourceRevision.count(),
        messages: await server.core.db.message.count(),
        keys: await server.core.db.key.count({ where: { revokedAt: null } }),
      })
      const before = await counts()
      for (const [name, intruder] of [
        ['a beta controller', betaController],
        ['a beta user', betaUser],
      ] as const) {
        for (const action of actions) {
          // refused as a controller before any path is looked at
          if (action.peopleOnly && intruder === betaController) continue
          const real: Fixture = { folder, caller: 'ann', n: ++counter, keyToRevoke: keyToRevoke.ann }
          const absent: Fixture = {
            folder: '/acme/no-such-folder',
            caller: 'ann',
            n: ++counter,
            keyToRevoke: 2 ** 31 - 1,
          }
          const [shown, nothing] = await Promise.all([
            send(intruder, action.call(real)),
            send(intruder, action.call(absent)),
          ])
          assert.equal(shown.status, 404, `${name}: ${action.name}`)
          const [shownBody, nothingBody] = [
            (await shown.json()) as { message: string },
            (await nothing.json()) as { message: string },
          ]
          assert.equal(nothing.status, 404)
          assert.equal(
            shownBody.message,
            action.notFound(real),
            `${name}: ${action.name}: the answer for a path that does not exist`,
          )
          assert.equal(nothingBody.message, action.notFound(absent))
        }
        // nor can one move one's own resource into another organization
        const own = `mine-${intruder === betaController ? 'c' : 'u'}`
        assert.equal(
          (await send(intruder, { method: 'POST', url: resources, fields: { path: '/beta', name: own, type: '10' } }))
            .status,
          200,
        )
        assert.equal(
          (await send(intruder, { method: 'PUT', url: `${resources}/beta/${own}`, fields: { parent: folder } })).status,
          400,
        )
      }
      assert.deepEqual(
        await counts(),
        { ...before, resources: before.resources + 2 },
        'only the two folders made in beta',
      )
      assert.equal((await send(as.ann, { method: 'GET', url: `${resources}/beta?meta=1` })).status, 404)
    })
  })
}
