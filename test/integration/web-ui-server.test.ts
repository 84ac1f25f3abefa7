// What the web UI needs from the server, over real HTTP and MQTT: the app shell and its assets
// (caching, a strict CSP), GET /api/v1/session, organization names that would shadow UI routes,
// controller counts, extended listings with each sequence's latest value, and presence messages.
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { createOrg } from '../../core/admin.ts'
import { WEB_DIST } from '../../http/web-ui.ts'
import { providers } from '../helpers/core.ts'
import { fixture } from '../helpers/fixtures.ts'
import { basicAuth, eventually } from '../helpers/http.ts'
import { connect, endAll, nextMessage } from '../helpers/mqtt.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

const HTML = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'

/** Signs in over the API as the UI does; returns the cookie and the CSRF token. */
async function signIn(url: string, email: string, password: string) {
  const res = await fetch(`${url}/sign-in`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email_address: email, password }),
  })
  assert.equal(res.status, 200)
  const cookie = res.headers.get('set-cookie')!.split(';')[0]!
  return { cookie, csrf: ((await res.json()) as { csrf_token: string }).csrf_token }
}

describe('web UI shell and assets', () => {
  let server: TestServer
  before(async () => {
    assert.ok(existsSync(join(WEB_DIST, 'manifest.json')), 'web/dist is built by npm install (or npm run build:web)')
    server = await startTestServer('sqlite')
  })
  after(() => server?.close())

  test('a browser asking for any page gets the shell, whose scripts and styles are hashed, same-origin files', async () => {
    for (const path of ['/', '/sign-in?next=%2Facme', '/acme/greenhouse/pi-1', '/x%20y/%C3%A9t%C3%A9']) {
      const res = await fetch(server.url + path, { headers: { accept: HTML } })
      assert.equal(res.status, 200, path)
      assert.match(res.headers.get('content-type')!, /^text\/html/)
      assert.equal(res.headers.get('cache-control'), 'no-cache')
      const html = await res.text()
      assert.match(html, /<script type="module" src="\/assets\/main-[A-Z0-9]+\.js"><\/script>/)
      assert.match(html, /<link rel="stylesheet" href="\/assets\/main-[A-Z0-9]+\.css">/)
      assert.doesNotMatch(html, /<script>|<script [^>]*>[^<]/, 'no inline script')
      const csp = res.headers.get('content-security-policy')!
      assert.match(csp, /script-src 'self';/)
      assert.match(csp, /style-src 'self';/)
      assert.match(csp, /connect-src 'self'/)
      assert.doesNotMatch(csp, /unsafe-inline|https:|upgrade-insecure-requests/)
    }
  })

  test('assets are served with immutable caching; a missing one is a 404', async () => {
    const manifest = JSON.parse(readFileSync(join(WEB_DIST, 'manifest.json'), 'utf8')) as {
      scripts: string[]
      styles: string[]
    }
    for (const file of [...manifest.scripts, ...manifest.styles]) {
      const res = await fetch(`${server.url}/${file}`)
      assert.equal(res.status, 200, file)
      assert.equal(res.headers.get('cache-control'), 'public, max-age=31536000, immutable')
      assert.match(res.headers.get('content-type')!, file.endsWith('.js') ? /javascript/ : /text\/css/)
    }
    const missing = await fetch(`${server.url}/assets/nothing-ABC.js`, { headers: { accept: HTML } })
    assert.equal(missing.status, 404)
    assert.equal(((await missing.json()) as { status: string }).status, 'error')
  })

  test('the API, non-HTML requests and other methods keep their JSON answers', async () => {
    const cases: [string, RequestInit][] = [
      ['/api/v1/nothing', { headers: { accept: HTML } }],
      ['/api/v1/resources/acme', { headers: { accept: HTML } }],
      ['/', { headers: { accept: 'application/json' } }],
      ['/acme/greenhouse', { headers: { accept: '*/*' } }],
      ['/acme', { method: 'DELETE', headers: { accept: HTML } }],
    ]
    for (const [path, init] of cases) {
      const res = await fetch(server.url + path, init)
      assert.match(res.headers.get('content-type')!, /application\/json/, path)
      assert.ok(res.status === 404 || res.status === 401, `${path}: ${res.status}`)
    }
    const health = await fetch(`${server.url}/health`, { headers: { accept: HTML } })
    assert.equal(((await health.json()) as { status: string }).status, 'ok')
  })
})

for (const provider of providers) {
  describe(`web UI API (${provider})`, () => {
    let server: TestServer
    let controller: { id: number; path: string; key: string }
    let userKey: string
    before(async () => {
      server = await startTestServer(provider)
      const f = await fixture(server.core, {
        orgs: ['acme', 'other'],
        fullNames: { acme: 'Acme Greenhouses' },
        users: { ann: { admin: true }, root: { systemAdmin: true, key: false } },
        controllers: ['/acme/greenhouse/pi-1', '/acme/greenhouse/pi-2'],
      })
      controller = f.controllers['/acme/greenhouse/pi-1']
      userKey = f.users.ann.key
    })
    after(async () => {
      endAll()
      await server?.close()
    })

    test('GET /api/v1/session answers the signed-in user, their organizations and the CSRF token', async () => {
      const { cookie, csrf } = await signIn(server.url, 'ann@example.com', 'long enough pw')
      const res = await fetch(`${server.url}/api/v1/session`, { headers: { cookie } })
      assert.equal(res.status, 200)
      const body = (await res.json()) as Record<string, unknown>
      assert.equal(body.csrf_token, csrf)
      assert.equal(
        body.upload_limit,
        server.core.config.uploadLimit,
        'the page refuses a larger file before sending it',
      )
      assert.deepEqual(body.user, {
        id: (body.user as { id: number }).id,
        email: 'ann@example.com',
        full_name: '',
        system_admin: false,
      })
      assert.deepEqual(
        (body.organizations as Record<string, unknown>[]).map(({ name, full_name, is_admin }) => ({
          name,
          full_name,
          is_admin,
        })),
        [{ name: 'acme', full_name: 'Acme Greenhouses', is_admin: true }],
      )
      // and the token it hands out works for a change
      const change = await fetch(`${server.url}/api/v1/resources`, {
        method: 'POST',
        headers: { cookie, 'x-csrf-token': String(body.csrf_token), 'content-type': 'application/json' },
        body: JSON.stringify({ path: '/acme', name: 'made-after-reload', type: 10 }),
      })
      assert.equal(change.status, 200)
    })

    test('GET /api/v1/session without a session is a 401 in JSON, also for a key', async () => {
      for (const headers of [
        {},
        { cookie: 'tendril_session=not-a-session' },
        { authorization: basicAuth(userKey) },
      ] as Record<string, string>[]) {
        const res = await fetch(`${server.url}/api/v1/session`, { headers })
        assert.equal(res.status, 401)
        assert.equal(((await res.json()) as { status: string }).status, 'error')
      }
    })

    test('organization names that would shadow the UI or the API are refused with a clear 400', async () => {
      const { cookie, csrf } = await signIn(server.url, 'root@example.com', 'long enough pw')
      const create = (name: string) =>
        fetch(`${server.url}/api/v1/organizations`, {
          method: 'POST',
          headers: { cookie, 'x-csrf-token': csrf, 'content-type': 'application/json' },
          body: JSON.stringify({ folder_name: name }),
        })
      for (const name of ['api', 'assets', 'sign-in', 'Sign-Out', 'settings', 'ADMIN', 'health', 'mqtt', 'activity']) {
        const res = await create(name)
        assert.equal(res.status, 400, name)
        assert.match(((await res.json()) as { message: string }).message, /cannot name an organization/)
      }
      assert.equal((await create('greenhouse-lab')).status, 200)
      await assert.rejects(createOrg(server.core, 'assets'), /cannot name an organization/) // the CLI's create-org too
    })

    test('organizations with extended=1 count their controllers online and offline', async () => {
      const { cookie } = await signIn(server.url, 'ann@example.com', 'long enough pw')
      const counts = async () =>
        (await (
          await fetch(`${server.url}/api/v1/organizations?extended=1`, { headers: { cookie } })
        ).json()) as Record<string, { name: string; controllers: unknown }>
      assert.deepEqual(
        Object.values(await counts()).map((o) => [o.name, o.controllers]),
        [['acme', { online: 0, offline: 2 }]],
      )
      const pi = await connect(server.mqttUrl, controller.key)
      assert.ok(
        await eventually(
          async () => JSON.stringify(Object.values(await counts())[0]!.controllers) === '{"online":1,"offline":1}',
        ),
      )
      pi.end(true)
      const plain = (await (
        await fetch(`${server.url}/api/v1/organizations`, { headers: { cookie } })
      ).json()) as Record<string, Record<string, unknown>>
      assert.equal(Object.values(plain)[0]!.controllers, undefined, 'rhizo-shaped without extended')
    })

    test('an extended listing carries each sequence latest value and timestamp, in rhizo shape otherwise', async () => {
      const auth = { authorization: basicAuth(controller.key) }
      const put = await fetch(`${server.url}/api/v1/resources`, {
        method: 'PUT',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({
          values: { [`${controller.path}/status/processor_usage`]: '41.5', [`${controller.path}/log`]: 'booted, ok' },
          timestamp: '2026-03-01T10:00:00Z',
        }),
      })
      assert.equal(put.status, 200, await put.clone().text())
      const listing = (await (
        await fetch(`${server.url}/api/v1/resources${controller.path}?extended=1`, { headers: auth })
      ).json()) as Record<string, unknown>[]
      const log = listing.find((e) => e.name === 'log')!
      assert.equal(log.last_value, 'booted, ok')
      // (a controller's timestamps are corrected for its clock's drift: this one's is far behind)
      assert.ok(
        Math.abs(Date.parse(String(log.last_value_timestamp)) - Date.now()) < 60_000,
        String(log.last_value_timestamp),
      )
      const status = (await (
        await fetch(`${server.url}/api/v1/resources${controller.path}/status?extended=1`, { headers: auth })
      ).json()) as Record<string, unknown>[]
      const cpu = status.find((e) => e.name === 'processor_usage')!
      assert.equal(cpu.last_value, '41.5')
      const empty = status.find((e) => e.name !== 'processor_usage')
      if (empty) assert.deepEqual([empty.last_value, empty.last_value_timestamp], [null, null])
      const plain = (await (
        await fetch(`${server.url}/api/v1/resources${controller.path}`, { headers: auth })
      ).json()) as Record<string, unknown>[]
      assert.deepEqual(Object.keys(plain[0]!).sort(), ['id', 'name', 'type'])
    })

    test("a controller's connect and disconnect are announced on its folder's topic, not to the controller itself", async () => {
      const watcher = await connect(server.mqttUrl, userKey)
      await watcher.subscribeAsync('acme/greenhouse')
      const pi = await connect(server.mqttUrl, controller.key, { clientId: 'pi-1-first' })
      // an earlier test's session of pi-1 may announce its end just now (presence is written in batches)
      let online = await nextMessage(watcher, 3000)
      while (online?.payload.includes('"connected":false')) online = await nextMessage(watcher, 3000)
      assert.equal(online?.topic, 'acme/greenhouse')
      const message = JSON.parse(online!.payload) as {
        type: string
        parameters: { controller: string; connected: boolean; timestamp: string }
      }
      assert.equal(message.type, 'presence')
      assert.deepEqual([message.parameters.controller, message.parameters.connected], ['pi-1', true])
      assert.ok(Math.abs(Date.parse(message.parameters.timestamp) - Date.now()) < 10_000)
      // a second session of the same controller, subscribed to its own folder, hears nothing of itself
      await pi.subscribeAsync('acme/greenhouse/pi-1')
      pi.end(true)
      const offline = await nextMessage(watcher, 3000)
      assert.equal(offline?.topic, 'acme/greenhouse')
      assert.deepEqual((JSON.parse(offline!.payload) as { parameters: unknown }).parameters, {
        controller: 'pi-1',
        connected: false,
        timestamp: (JSON.parse(offline!.payload) as { parameters: { timestamp: string } }).parameters.timestamp,
      })
      const again = await connect(server.mqttUrl, controller.key, { clientId: 'pi-1-second' })
      await again.subscribeAsync('acme/greenhouse/pi-1')
      assert.equal(await nextMessage(again, 700), null, 'no presence on the controller topic')
      again.end(true)
      watcher.end(true)
    })
  })
}
