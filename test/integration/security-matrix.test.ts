// The isolation and escalation matrix: who (every kind of credential of organization "beta", and a
// user of both organizations holding a key scoped to beta) × what (every REST route, MQTT publish and
// subscribe with and without wildcards, the JSON websocket) against organization "alpha". Every
// attempt is refused and leaves alpha as it was. A route added to the app without a row here fails
// the route-coverage test, so a new endpoint cannot quietly reopen these doors.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { MqttClient } from 'mqtt'
import { createAdmin, createController, createKeyForUser, createOrg, createOrgUser } from '../../core/admin.ts'
import { addMember, requireOrganization } from '../../core/accounts/organizations.ts'
import { findUserByEmail } from '../../core/accounts/users.ts'
import { createApp } from '../../http/app.ts'
import { providers } from '../helpers/core.ts'
import { basicAuth } from '../helpers/http.ts'
import { openSocket, sendRhizo } from '../helpers/json-websocket.ts'
import { closed, collect, connect, endAll, granted } from '../helpers/mqtt.ts'
import { b64, resourceClient } from '../helpers/resources.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

const PASSWORD = 'a long enough password'

/** What alpha's watcher saw, less the presence notices of alpha's own controller connecting. */
const attemptsSeen = (messages: { topic: string; payload: string }[]) =>
  messages.filter((m) => !m.payload.includes('"type":"presence"'))

/** How a request authenticates: nothing, a session cookie with its CSRF token, or a key over Basic. */
type Credential =
  { kind: 'anonymous' } | { kind: 'session'; cookie: string; csrf: string } | { kind: 'key'; key: string }

async function signIn(url: string, email: string): Promise<Credential> {
  const res = await fetch(`${url}/sign-in`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email_address: email, password: PASSWORD }),
  })
  assert.equal(res.status, 200, `sign-in of ${email}`)
  const cookie = res.headers.get('set-cookie')!.split(';')[0]!
  const { csrf_token } = (await res.json()) as { csrf_token: string }
  return { kind: 'session', cookie, csrf: csrf_token }
}

function headersOf(credential: Credential): Record<string, string> {
  if (credential.kind === 'session') return { cookie: credential.cookie, 'x-csrf-token': credential.csrf }
  if (credential.kind === 'key') return { authorization: basicAuth(credential.key) }
  return {}
}

interface Attempt {
  /** the route as Express registers it, for the coverage check */
  route: string
  method: 'GET' | 'POST' | 'PUT' | 'DELETE'
  /** the concrete path and query */
  url: string
  body?: Record<string, unknown>
}

for (const provider of providers) {
  describe(`isolation and escalation matrix on ${provider}`, () => {
    let server: TestServer
    const ids: Record<string, number> = {}
    const keys = {} as { alphaPi: string; betaPi: string }
    const who: Record<string, Credential> = {}
    let attempts: Attempt[]
    let snapshot: () => Promise<unknown>

    before(async () => {
      server = await startTestServer(provider)
      const core = server.core
      const alpha = await createOrg(core, 'alpha')
      const beta = await createOrg(core, 'beta')
      ids.alpha = alpha.id
      ids.beta = beta.id
      ids.root = (await createAdmin(core, 'root@example.com', PASSWORD)).id
      ids.alphaAdmin = (await createOrgUser(core, 'alpha-admin@example.com', PASSWORD, 'alpha', true)).id
      await createOrgUser(core, 'beta-admin@example.com', PASSWORD, 'beta', true)
      await createOrgUser(core, 'beta-member@example.com', PASSWORD, 'beta', false)
      // a user of both organizations, whose key is scoped to beta: the key must not reach alpha
      ids.both = (await createOrgUser(core, 'both@example.com', PASSWORD, 'beta', false)).id
      await core.db.organizationUser.create({ data: { organizationId: alpha.id, userId: ids.both, isAdmin: true } })
      const alphaPi = await createController(core, 'alpha/lab/pi-a')
      ids.alphaPi = alphaPi.id
      keys.alphaPi = alphaPi.key
      const alphaKeyRow = await core.db.key.findFirst({ where: { accessAsControllerId: alphaPi.id } })
      ids.alphaPiKey = alphaKeyRow!.id
      keys.betaPi = (await createController(core, 'beta/pi-b')).key

      const admin = resourceClient(server.url, (await createKeyForUser(core, 'alpha-admin@example.com', 'alpha')).key)
      assert.equal(
        (await admin.send('POST', '', { path: 'alpha/lab/pi-a', name: 'temp', type: 21, data_type: 1 })).status,
        200,
      )
      assert.equal((await admin.send('PUT', '/alpha/lab/pi-a/temp', { data: b64('21.5') })).status, 200)
      assert.equal(
        (await admin.send('POST', '', { path: 'alpha/lab', name: 'notes.txt', type: 20, data: b64('secret notes') }))
          .status,
        200,
      )
      const notes = (await admin.json<{ id: number }>('/alpha/lab/notes.txt', { meta: 1 })).id
      ids.notes = notes

      who.anonymous = { kind: 'anonymous' }
      who['beta member session'] = await signIn(server.url, 'beta-member@example.com')
      who['beta admin session'] = await signIn(server.url, 'beta-admin@example.com')
      who['beta member key'] = {
        kind: 'key',
        key: (await createKeyForUser(core, 'beta-member@example.com', 'beta')).key,
      }
      who['beta admin key'] = { kind: 'key', key: (await createKeyForUser(core, 'beta-admin@example.com', 'beta')).key }
      who['beta controller key'] = { kind: 'key', key: keys.betaPi }
      who['key scoped to beta of an alpha admin'] = {
        kind: 'key',
        key: (await createKeyForUser(core, 'both@example.com', 'beta')).key,
      }

      const folder = 'alpha/lab/pi-a'
      attempts = [
        { route: 'GET /api/v1/resources/*path', method: 'GET', url: '/api/v1/resources/alpha/lab' },
        { route: 'GET /api/v1/resources/*path', method: 'GET', url: '/api/v1/resources/alpha/lab/pi-a/temp' },
        { route: 'GET /api/v1/resources/*path', method: 'GET', url: '/api/v1/resources/alpha/lab/pi-a/temp?count=10' },
        {
          route: 'GET /api/v1/resources/*path',
          method: 'GET',
          url: '/api/v1/resources/alpha/lab/pi-a/temp?download=1',
        },
        { route: 'GET /api/v1/resources/*path', method: 'GET', url: '/api/v1/resources/alpha/lab/notes.txt' },
        { route: 'GET /api/v1/resources/*path', method: 'GET', url: '/api/v1/resources/alpha/lab/notes.txt?meta=1' },
        {
          route: 'GET /api/v1/resources/*path',
          method: 'GET',
          url: `/api/v1/resources/alpha/lab?download=1&ids=${notes}`,
        },
        { route: 'GET /api/v1/resources/*path', method: 'GET', url: '/api/v1/resources/alpha?recursive=1&extended=1' },
        {
          route: 'POST /api/v1/resources',
          method: 'POST',
          url: '/api/v1/resources',
          body: { path: 'alpha/lab', name: 'planted', type: 10 },
        },
        {
          route: 'POST /api/v1/resources',
          method: 'POST',
          url: '/api/v1/resources',
          body: { path: 'alpha/lab', name: 'pi-planted', type: 12 },
        },
        {
          route: 'POST /api/v1/resources/*path',
          method: 'POST',
          url: '/api/v1/resources/alpha/lab/pi-a/temp',
          body: { data: b64('99') },
        },
        {
          route: 'PUT /api/v1/resources/*path',
          method: 'PUT',
          url: '/api/v1/resources/alpha/lab/pi-a/temp',
          body: { data: b64('99') },
        },
        {
          route: 'PUT /api/v1/resources/*path',
          method: 'PUT',
          url: '/api/v1/resources/alpha/lab/notes.txt',
          body: { name: 'renamed.txt' },
        },
        {
          route: 'PUT /api/v1/resources/*path',
          method: 'PUT',
          url: '/api/v1/resources/alpha/lab/pi-a',
          body: { system_attributes: JSON.stringify({ watchdog_recipients: 'x@example.com' }) },
        },
        {
          route: 'PUT /api/v1/resources',
          method: 'PUT',
          url: '/api/v1/resources',
          body: { values: JSON.stringify({ '/alpha/lab/pi-a/temp': 99 }) },
        },
        { route: 'DELETE /api/v1/resources/*path', method: 'DELETE', url: '/api/v1/resources/alpha/lab/notes.txt' },
        {
          route: 'DELETE /api/v1/resources/*path',
          method: 'DELETE',
          url: '/api/v1/resources/alpha/lab/pi-a/temp?data_only=1',
        },
        { route: 'GET /api/v1/messages', method: 'GET', url: `/api/v1/messages?folder_path=${folder}` },
        {
          route: 'POST /api/v1/messages',
          method: 'POST',
          url: '/api/v1/messages',
          body: { folder_path: folder, type: 'reboot', parameters: {} },
        },
        { route: 'GET /api/v1/keys', method: 'GET', url: `/api/v1/keys?controller_path=${folder}` },
        { route: 'GET /api/v1/keys', method: 'GET', url: `/api/v1/keys?access_as_controller_id=${alphaPi.id}` },
        { route: 'POST /api/v1/keys', method: 'POST', url: '/api/v1/keys', body: { controller_path: folder } },
        {
          route: 'POST /api/v1/keys',
          method: 'POST',
          url: '/api/v1/keys',
          body: { access_as_user_id: ids.alphaAdmin, organization_id: alpha.id },
        },
        // escalation: a key for the system admin, or for an alpha admin, scoped to the attacker's own organization
        {
          route: 'POST /api/v1/keys',
          method: 'POST',
          url: '/api/v1/keys',
          body: { access_as_user_id: ids.root, organization_id: beta.id },
        },
        {
          route: 'POST /api/v1/keys',
          method: 'POST',
          url: '/api/v1/keys',
          body: { access_as_user_id: ids.both, organization_id: alpha.id },
        },
        { route: 'DELETE /api/v1/keys/:id', method: 'DELETE', url: `/api/v1/keys/${ids.alphaPiKey}` },
        { route: 'GET /api/v1/organizations/:org', method: 'GET', url: '/api/v1/organizations/alpha' },
        {
          route: 'PUT /api/v1/organizations/:org',
          method: 'PUT',
          url: '/api/v1/organizations/alpha',
          body: { full_name: 'Owned' },
        },
        { route: 'GET /api/v1/organizations/:org/users', method: 'GET', url: '/api/v1/organizations/alpha/users' },
        {
          route: 'POST /api/v1/organizations/:org/users',
          method: 'POST',
          url: '/api/v1/organizations/alpha/users',
          body: { email_address: 'beta-member@example.com', is_admin: 1 },
        },
        {
          route: 'PUT /api/v1/organizations/:org/users/:user',
          method: 'PUT',
          url: `/api/v1/organizations/alpha/users/${ids.both}`,
          body: { is_admin: 0 },
        },
        {
          route: 'DELETE /api/v1/organizations/:org/users/:user',
          method: 'DELETE',
          url: `/api/v1/organizations/alpha/users/${ids.alphaAdmin}`,
        },
        {
          route: 'POST /api/v1/organizations',
          method: 'POST',
          url: '/api/v1/organizations',
          body: { name: 'planted-org' },
        },
        { route: 'GET /api/v1/users/:user', method: 'GET', url: `/api/v1/users/${ids.alphaAdmin}` },
        {
          route: 'PUT /api/v1/users/:user',
          method: 'PUT',
          url: `/api/v1/users/${ids.alphaAdmin}`,
          body: { password: 'taken over password' },
        },
        {
          route: 'PUT /api/v1/users/:user',
          method: 'PUT',
          url: `/api/v1/users/${ids.root}`,
          body: { password: 'taken over password' },
        },
        { route: 'DELETE /api/v1/users/:user', method: 'DELETE', url: `/api/v1/users/${ids.alphaAdmin}` },
        {
          route: 'POST /api/v1/users',
          method: 'POST',
          url: '/api/v1/users',
          body: { email_address: 'planted@example.com', password: PASSWORD, system_admin: 1 },
        },
        { route: 'GET /api/v1/system/stats', method: 'GET', url: '/api/v1/system/stats' },
        { route: 'GET /api/v1/system/controllers', method: 'GET', url: '/api/v1/system/controllers' },
        // escalation: making oneself, or alpha's admin, a system admin
        { route: 'PUT /api/v1/users/:user', method: 'PUT', url: '/api/v1/users/current', body: { system_admin: 1 } },
        {
          route: 'PUT /api/v1/users/:user',
          method: 'PUT',
          url: `/api/v1/users/${ids.alphaAdmin}`,
          body: { system_admin: 1 },
        },
        { route: 'PUT /api/v1/pins/:pin', method: 'PUT', url: '/api/v1/pins/1234', body: { controller: folder } },
      ]

      // what the attempts must not change: alpha's tree, values, keys, members, and the users
      snapshot = async () => ({
        resources: await core.db.resource.findMany({
          where: { organizationId: alpha.id },
          orderBy: { id: 'asc' },
          select: { id: true, name: true, parentId: true, deleted: true, systemAttributes: true, lastRevisionId: true },
        }),
        organizations: await core.db.resource.count({ where: { parentId: null } }),
        keys: await core.db.key.findMany({
          orderBy: { id: 'asc' },
          select: { id: true, organizationId: true, accessAsUserId: true, revokedAt: true },
        }),
        members: await core.db.organizationUser.findMany({
          where: { organizationId: alpha.id },
          orderBy: { userId: 'asc' },
        }),
        users: await core.db.user.findMany({
          orderBy: { id: 'asc' },
          select: { id: true, role: true, passwordHash: true, deleted: true },
        }),
        alphaName: (await core.db.resource.findUnique({ where: { id: alpha.id } }))?.systemAttributes,
      })
    })
    after(async () => {
      endAll()
      await server?.close()
    })

    test('every route of the app has at least one attempt in the matrix', () => {
      const app = createApp(server.core, { bus: { deliver: () => {} } as never })
      const registered = new Set<string>()
      const walk = (
        stack: { route?: { path: string; methods: Record<string, boolean> }; handle?: { stack?: unknown[] } }[],
      ) => {
        for (const layer of stack) {
          if (layer.route)
            for (const m of Object.keys(layer.route.methods)) registered.add(`${m.toUpperCase()} ${layer.route.path}`)
          else if (layer.handle?.stack) walk(layer.handle.stack as never)
        }
      }
      walk((app as unknown as { router: { stack: never[] } }).router.stack)
      // routes that take no credentials by design, or that only concern the caller itself
      const own = new Set([
        'GET /health',
        'GET /api/v1/openapi.json',
        'POST /sign-in',
        'POST /sign-out',
        'GET /api/v1/mqtt-info',
        'POST /api/v1/pins',
        'GET /api/v1/pins/:pin',
        'GET /api/v1/organizations',
        'GET /api/v1/users',
        'GET /api/v1/session',
      ])
      const covered = new Set(attempts.map((a) => a.route))
      const missing = [...registered].filter((r) => !own.has(r) && !covered.has(r))
      assert.ok(registered.size > 20, `walked the router: ${[...registered].join(', ')}`)
      assert.deepEqual(missing, [], 'routes without an attempt in the matrix')
    })

    test('no credential of beta reads, writes, lists or deletes anything of alpha over REST', async () => {
      const before = await snapshot()
      const let_through: string[] = []
      for (const [name, credential] of Object.entries(who)) {
        for (const attempt of attempts) {
          const res = await fetch(server.url + attempt.url, {
            method: attempt.method,
            headers: { ...headersOf(credential), ...(attempt.body ? { 'content-type': 'application/json' } : {}) },
            body: attempt.body ? JSON.stringify(attempt.body) : undefined,
          })
          const text = await res.text()
          // 400 only where the request names something the caller may not use (e.g. a key for a non-member)
          if (![400, 401, 403, 404, 410].includes(res.status))
            let_through.push(`${name}: ${attempt.method} ${attempt.url} → ${res.status} ${text.slice(0, 120)}`)
          else if (/secret notes|21\.5/.test(text))
            let_through.push(`${name}: ${attempt.method} ${attempt.url} leaked alpha's data in its error`)
        }
      }
      assert.deepEqual(let_through, [])
      assert.deepEqual(await snapshot(), before, 'alpha, its keys, members and the users are as they were')
    })

    test('listings open to every user show nothing of alpha to beta', async () => {
      for (const [name, credential] of Object.entries(who)) {
        for (const url of [
          '/api/v1/organizations',
          '/api/v1/keys',
          '/api/v1/openapi.json',
          '/api/v1/users',
          '/api/v1/resources/beta?recursive=1',
        ]) {
          const res = await fetch(server.url + url, { headers: headersOf(credential) })
          if (res.status !== 200) continue
          const text = await res.text()
          assert.doesNotMatch(text, /alpha/, `${name}: ${url} mentions alpha`)
          assert.doesNotMatch(
            text,
            /alpha-admin@example\.com|root@example\.com/,
            `${name}: ${url} lists users outside beta`,
          )
        }
      }
    })

    test('no key of beta subscribes to alpha or publishes there, over TCP and WebSocket', async () => {
      const mqttKeys = Object.entries(who).filter(
        (e): e is [string, { kind: 'key'; key: string }] => e[1].kind === 'key',
      )
      const watcher = await connect(server.mqttUrl, keys.alphaPi)
      assert.equal(await granted(watcher, 'alpha/#'), 0)
      const seen = collect(watcher, 1500)
      for (const [name, { key }] of mqttKeys) {
        for (const url of [server.mqttUrl, server.wsUrl]) {
          const client: MqttClient = await connect(url, key)
          for (const filter of ['alpha/lab/pi-a', 'alpha/#', 'alpha/+/pi-a', '+/lab/#', '#', '+', '$SYS/#']) {
            const code = await granted(client, filter)
            assert.equal(code, 128, `${name} over ${url}: subscribe ${filter} granted ${code}`)
          }
          const gone = closed(client)
          client.publish('alpha/lab/pi-a', JSON.stringify({ reboot: {} }))
          assert.ok(await gone, `${name} over ${url}: a publish to alpha closes the connection`)
        }
      }
      assert.deepEqual(attemptsSeen(await seen), [], 'alpha saw nothing of the attempts')
    })

    test('an MQTT token from a beta session reaches nothing of alpha', async () => {
      for (const name of ['beta admin session', 'beta member session']) {
        const info = (await (
          await fetch(`${server.url}/api/v1/mqtt-info`, { headers: headersOf(who[name]!) })
        ).json()) as { token: string }
        const client = await connect(server.wsUrl, info.token, { username: 'token' })
        for (const filter of ['alpha/#', '#', 'alpha/lab/pi-a'])
          assert.equal(await granted(client, filter), 128, `${name}: ${filter}`)
        const gone = closed(client)
        client.publish('alpha/lab/pi-a', 'x')
        assert.ok(await gone)
      }
    })

    test('an anonymous viewer token (public read-only pages) reaches nothing of alpha, which has no public folder', async () => {
      const info = (await (await fetch(`${server.url}/api/v1/mqtt-info`)).json()) as { token: string; clientId: string }
      for (const url of [server.wsUrl, server.mqttUrl]) {
        const client = await connect(url, info.token, { username: 'token', clientId: info.clientId })
        for (const filter of ['alpha/lab/pi-a', 'alpha/#', 'alpha/+/pi-a', '+/lab/#', '#', '+', '$SYS/#'])
          assert.equal(await granted(client, filter), 128, `${url}: ${filter}`)
        const gone = closed(client)
        client.publish('alpha/lab/pi-a', JSON.stringify({ reboot: {} }))
        assert.ok(await gone, `${url}: a publish closes the connection`)
      }
    })

    test('no key of beta follows or writes alpha through the JSON websocket', async () => {
      const mqttKeys = Object.values(who).filter((c): c is { kind: 'key'; key: string } => c.kind === 'key')
      const watcher = await connect(server.mqttUrl, keys.alphaPi)
      assert.equal(await granted(watcher, 'alpha/#'), 0)
      const seen = collect(watcher, 1500)
      for (const { key } of mqttKeys) {
        const ws = await openSocket(server.url, key)
        sendRhizo(ws, {
          type: 'subscribe',
          parameters: { subscriptions: [{ folder: 'alpha/lab/pi-a', include_children: true }] },
        })
        sendRhizo(ws, { type: 'reboot', folder: 'alpha/lab/pi-a', parameters: {} })
        sendRhizo(ws, { type: 'update_sequence', parameters: { sequence: '/alpha/lab/pi-a/temp', value: '99' } })
        await ws.next(1000, 'error')
        ws.close()
      }
      assert.deepEqual(attemptsSeen(await seen), [])
      const value = await fetch(`${server.url}/api/v1/resources/alpha/lab/pi-a/temp`, {
        headers: { authorization: basicAuth(keys.alphaPi) },
      })
      assert.equal(await value.text(), '21.5')
    })

    test('a cookie session cannot open the JSON websocket from another site', async () => {
      const session = who['beta member session'] as { cookie: string }
      await assert.rejects(
        () =>
          new Promise((resolve, reject) => {
            void import('ws').then(({ default: WebSocket }) => {
              const ws = new WebSocket(server.url.replace('http', 'ws') + '/api/v1/websocket', {
                headers: { cookie: session.cookie, origin: 'http://evil.example' },
              })
              ws.once('open', () => (ws.close(), resolve(undefined)))
              ws.once('unexpected-response', (_req, res) =>
                reject(Object.assign(new Error('refused'), { status: res.statusCode })),
              )
              ws.once('error', reject)
            })
          }),
        (err: { status?: number }) => err.status === 403 || err.status === 401,
      )
    })

    test('a member added to beta by its admin cannot be acted for in alpha', async () => {
      // beta's admin adds the alpha admin to beta (no consent needed) and asks for a key for them
      const core = server.core
      const betaOrg = await requireOrganization(core.db, 'beta')
      const alphaAdmin = (await findUserByEmail(core.db, 'alpha-admin@example.com'))!
      await addMember(core.db, betaOrg.id, alphaAdmin.id, false)
      const res = await fetch(`${server.url}/api/v1/keys`, {
        method: 'POST',
        headers: { ...headersOf(who['beta admin key']!), 'content-type': 'application/json' },
        body: JSON.stringify({ access_as_user_id: alphaAdmin.id, organization_id: betaOrg.id }),
      })
      if (res.status !== 200) return // refusing to act for a member at all is also safe
      const { secret_key } = (await res.json()) as { secret_key: string }
      const taken = resourceClient(server.url, secret_key)
      assert.ok([401, 403, 404].includes((await taken.get('/alpha/lab/notes.txt')).status))
      const client = await connect(server.mqttUrl, secret_key)
      assert.equal(await granted(client, 'alpha/#'), 128)
      const info = await fetch(`${server.url}/api/v1/mqtt-info`, { headers: { authorization: basicAuth(secret_key) } })
      if (info.status === 200) {
        const { token } = (await info.json()) as { token: string }
        const viaToken = await connect(server.wsUrl, token, { username: 'token' })
        assert.equal(await granted(viaToken, 'alpha/#'), 128)
      }
    })
  })
}
