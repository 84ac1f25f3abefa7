// REST /api/v1/keys: who may list, create and revoke which keys, across organizations; a key is
// shown once, its secret and hash never; revoking one ends its REST access and its MQTT session.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { findPath } from '../../core/resources/tree.ts'
import { providers } from '../helpers/core.ts'
import { fixture, grant } from '../helpers/fixtures.ts'
import { basicAuth } from '../helpers/http.ts'
import { closed, connect, endAll, refusalCode } from '../helpers/mqtt.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

interface Answer {
  status: number
  body: Record<string, unknown>
}
type KeyView = {
  id: number
  key_part: string
  access_as_user_id: number | null
  access_as_controller_id: number | null
  organization_id: number
  revoked: boolean
  controller_path?: string
}

for (const provider of providers) {
  describe(`REST keys on ${provider}`, () => {
    let server: TestServer
    const keys = {} as Record<'admin' | 'annAcmeAdmin' | 'bob' | 'bea' | 'pi' | 'piB', string>
    const ids = {} as Record<'pi' | 'piB' | 'readonly', number>

    const call = async (method: string, path: string, key?: string, body?: Record<string, string>): Promise<Answer> => {
      const headers: Record<string, string> = {}
      if (key !== undefined) headers.authorization = basicAuth(key)
      if (body) headers['content-type'] = 'application/x-www-form-urlencoded'
      const res = await fetch(server.url + path, {
        method,
        headers,
        body: body ? new URLSearchParams(body) : undefined,
      })
      return { status: res.status, body: (await res.json()) as Record<string, unknown> }
    }
    const listed = async (key: string, query = '') => {
      const answer = await call('GET', `/api/v1/keys${query}`, key)
      assert.equal(answer.status, 200)
      return Object.values(answer.body) as KeyView[]
    }
    const idOf = async (path: string) => (await findPath(server.core.db, path))!.at(-1)!.id

    before(async () => {
      server = await startTestServer(provider)
      const f = await fixture(server.core, {
        orgs: ['acme', 'beta'],
        users: { root: { systemAdmin: true }, ann: { admin: true }, bob: {}, bea: { org: 'beta', admin: true } },
        controllers: ['acme/lab/pi-1', 'beta/pi-b', 'acme/readonly/pi-r'],
      })
      await grant(server.core, '/acme/readonly', [{ to: 'members', level: 'read' }])
      Object.assign(keys, {
        admin: f.users.root.key,
        annAcmeAdmin: f.users.ann.key,
        bob: f.users.bob.key,
        bea: f.users.bea.key,
      })
      keys.pi = f.controllers['acme/lab/pi-1'].key
      keys.piB = f.controllers['beta/pi-b'].key
      ids.pi = f.controllers['acme/lab/pi-1'].id
      ids.piB = f.controllers['beta/pi-b'].id
      ids.readonly = f.controllers['acme/readonly/pi-r'].id
    })
    after(async () => {
      endAll()
      await server.close()
    })

    test('no credentials is 401; a controller key may not manage keys (403)', async () => {
      assert.equal((await call('GET', '/api/v1/keys')).status, 401)
      assert.equal((await call('POST', '/api/v1/keys', undefined, { controller_path: '/acme/lab/pi-1' })).status, 401)
      assert.equal((await call('GET', '/api/v1/keys', keys.pi)).status, 403)
      assert.equal((await call('POST', '/api/v1/keys', keys.pi, { controller_path: '/acme/lab/pi-1' })).status, 403)
      assert.equal((await call('DELETE', '/api/v1/keys/1', keys.pi)).status, 403)
    })

    test("an organization admin lists its organization's keys, never the secret or hash, and nothing of other organizations", async () => {
      const list = await listed(keys.annAcmeAdmin)
      const acme = await idOf('/acme')
      assert.ok(list.length >= 4)
      assert.ok(list.every((k) => k.organization_id === acme))
      assert.ok(list.some((k) => k.access_as_controller_id === ids.pi && k.controller_path === '/acme/lab/pi-1'))
      const body = JSON.stringify(list)
      for (const secret of Object.values(keys)) assert.ok(!body.includes(secret.slice(4)))
      assert.ok(!/hash/i.test(body))
      assert.ok(list.every((k) => /^[A-Z0-9]{6}$/.test(k.key_part)))
      // and answers rhizo's {id: key} shape
      const raw = await call('GET', '/api/v1/keys', keys.annAcmeAdmin)
      assert.deepEqual(
        Object.keys(raw.body),
        list.map((k) => String(k.id)),
      )
    })

    test('a member sees only their own keys; a system admin sees all', async () => {
      const bobId = (await server.core.db.user.findFirstOrThrow({ where: { email: 'bob@example.com' } })).id
      const mine = await listed(keys.bob)
      assert.ok(mine.length >= 1)
      assert.ok(mine.every((k) => k.access_as_user_id === bobId))
      // a system admin signed in sees every organization's keys; their key, scoped to acme like any user key, sees
      // acme's
      const signIn = await fetch(`${server.url}/sign-in`, {
        method: 'POST',
        body: new URLSearchParams({ email_address: 'root@example.com', password: 'long enough pw' }),
      })
      const cookie = signIn.headers.getSetCookie()[0]!.split(';')[0]!
      const all = Object.values(
        (await (await fetch(`${server.url}/api/v1/keys`, { headers: { cookie } })).json()) as object,
      ) as KeyView[]
      assert.ok(
        all.some((k) => k.access_as_controller_id === ids.piB) && all.some((k) => k.access_as_controller_id === ids.pi),
      )
      const scoped = await listed(keys.admin)
      assert.ok(
        scoped.some((k) => k.access_as_controller_id === ids.pi) &&
          !scoped.some((k) => k.access_as_controller_id === ids.piB),
      )
    })

    test("keys of one controller are listed to whoever can write it (rhizo's access_as_controller_id)", async () => {
      const list = await listed(keys.bob, `?access_as_controller_id=${ids.pi}`)
      assert.ok(list.length >= 1 && list.every((k) => k.access_as_controller_id === ids.pi))
      assert.equal((await call('GET', `/api/v1/keys?access_as_controller_id=${ids.readonly}`, keys.bob)).status, 403)
      assert.equal((await call('GET', `/api/v1/keys?access_as_controller_id=${ids.piB}`, keys.bob)).status, 404)
      assert.equal((await call('GET', '/api/v1/keys?access_as_controller_id=abc', keys.bob)).status, 400)
    })

    test('creating a controller key returns it once, and it works', async () => {
      const created = await call('POST', '/api/v1/keys', keys.bob, { controller_path: '/acme/lab/pi-1' })
      assert.equal(created.status, 200)
      assert.equal(created.body.status, 'ok')
      const secret = created.body.secret_key as string
      assert.match(secret, /^tdl_[A-Z0-9]{50}$/)
      assert.equal(
        (
          await fetch(`${server.url}/api/v1/messages?folder_path=/acme/lab/pi-1`, {
            headers: { authorization: basicAuth(secret) },
          })
        ).status,
        200,
      )
      const listedAfter = await listed(keys.annAcmeAdmin)
      assert.ok(listedAfter.some((k) => k.id === created.body.id))
      assert.ok(!JSON.stringify(listedAfter).includes(secret.slice(4)))
      // rhizo's form by id
      assert.equal(
        (await call('POST', '/api/v1/keys', keys.bob, { access_as_controller_id: String(ids.pi) })).status,
        200,
      )
    })

    test('creating a key needs write access to the controller; other organizations look absent', async () => {
      assert.equal(
        (await call('POST', '/api/v1/keys', keys.bob, { controller_path: '/acme/readonly/pi-r' })).status,
        403,
      )
      assert.equal((await call('POST', '/api/v1/keys', keys.bob, { controller_path: '/beta/pi-b' })).status, 404)
      assert.equal(
        (await call('POST', '/api/v1/keys', keys.bob, { access_as_controller_id: String(ids.piB) })).status,
        404,
      )
      assert.equal((await call('POST', '/api/v1/keys', keys.bob, { controller_path: '/acme/lab' })).status, 400)
      assert.equal((await call('POST', '/api/v1/keys', keys.bob, { access_as_controller_id: 'x' })).status, 400)
    })

    test('a user creates user keys for themself; only an organization admin for other members', async () => {
      const bobId = (await server.core.db.user.findFirstOrThrow({ where: { email: 'bob@example.com' } })).id
      const annId = (await server.core.db.user.findFirstOrThrow({ where: { email: 'ann@example.com' } })).id
      const acme = String(await idOf('/acme'))
      const beta = String(await idOf('/beta'))
      const own = await call('POST', '/api/v1/keys', keys.bob, {})
      assert.equal(own.status, 200)
      assert.equal((await call('GET', '/api/v1/organizations', own.body.secret_key as string)).status, 200)
      assert.equal(
        (await call('POST', '/api/v1/keys', keys.bob, { access_as_user_id: String(annId), organization_id: acme }))
          .status,
        403,
      )
      assert.equal(
        (
          await call('POST', '/api/v1/keys', keys.annAcmeAdmin, {
            access_as_user_id: String(bobId),
            organization_id: acme,
          })
        ).status,
        200,
      )
      assert.equal(
        (await call('POST', '/api/v1/keys', keys.bea, { access_as_user_id: String(bobId), organization_id: acme }))
          .status,
        404,
      )
      assert.equal(
        (
          await call('POST', '/api/v1/keys', keys.annAcmeAdmin, {
            access_as_user_id: String(annId),
            organization_id: beta,
          })
        ).status,
        404,
      )
    })

    test("an admin of one organization cannot revoke another organization's keys (404), nor can a member revoke others' keys", async () => {
      const piBKey = (await server.core.db.key.findFirstOrThrow({ where: { accessAsControllerId: ids.piB } })).id
      assert.equal((await call('DELETE', `/api/v1/keys/${piBKey}`, keys.annAcmeAdmin)).status, 404)
      const annKey = (await listed(keys.annAcmeAdmin)).find(
        (k) =>
          k.access_as_user_id !== null &&
          k.access_as_controller_id === null &&
          k.key_part === keys.annAcmeAdmin.slice(4, 7) + keys.annAcmeAdmin.slice(-3),
      )!
      assert.equal((await call('DELETE', `/api/v1/keys/${annKey.id}`, keys.bob)).status, 404)
      assert.equal((await call('DELETE', '/api/v1/keys/999999', keys.annAcmeAdmin)).status, 404)
      assert.equal((await call('DELETE', '/api/v1/keys/abc', keys.annAcmeAdmin)).status, 400)
      assert.equal((await call('GET', '/api/v1/organizations', keys.annAcmeAdmin)).status, 200) // still works
      assert.equal((await call('GET', '/api/v1/messages?folder_path=/beta/pi-b', keys.piB)).status, 200)
    })

    test('revoking a key over REST rejects its next REST call and closes its MQTT session within 2 s', async () => {
      const created = await call('POST', '/api/v1/keys', keys.bob, { controller_path: '/acme/lab/pi-1' })
      const secret = created.body.secret_key as string
      const client = await connect(server.mqttUrl, secret)
      const revoked = await call('DELETE', `/api/v1/keys/${created.body.id}`, keys.annAcmeAdmin)
      assert.equal(revoked.status, 200)
      assert.equal(revoked.body.status, 'ok')
      assert.equal((revoked.body.key as KeyView).revoked, true)
      assert.equal(
        (
          await fetch(`${server.url}/api/v1/messages?folder_path=/acme/lab/pi-1`, {
            headers: { authorization: basicAuth(secret) },
          })
        ).status,
        401,
      )
      assert.equal(await closed(client, 2500), true)
      assert.equal(await refusalCode(server.mqttUrl, secret), 4)
      const row = await server.core.db.key.findUniqueOrThrow({ where: { id: created.body.id as number } })
      assert.equal(
        row.revokedById,
        (await server.core.db.user.findFirstOrThrow({ where: { email: 'ann@example.com' } })).id,
      )
      // revoking twice is harmless
      assert.equal((await call('DELETE', `/api/v1/keys/${created.body.id}`, keys.annAcmeAdmin)).status, 200)
    })

    test('a user revokes their own key', async () => {
      const own = await call('POST', '/api/v1/keys', keys.bob, {})
      assert.equal((await call('DELETE', `/api/v1/keys/${own.body.id}`, keys.bob)).status, 200)
      assert.equal((await call('GET', '/api/v1/keys', own.body.secret_key as string)).status, 401)
    })
  })
}
