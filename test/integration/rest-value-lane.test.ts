// A controller's single value (PUT /api/v1/resources/<sequence> with a key and a value) is answered
// before Express (http/value-lane.ts). It must answer exactly as the app's route does — the same
// status, body and security headers, the same refusals — and hand everything else to the app.
// The route itself is reached with a query string, which the lane leaves to the app. Both answer a
// write once it is on disk.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { sqliteWalFlushes } from '../../core/db/sqlite-connection.ts'
import { providers } from '../helpers/core.ts'
import { fixture } from '../helpers/fixtures.ts'
import { basicAuth } from '../helpers/http.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

const b64 = (s: string) => Buffer.from(s).toString('base64')
const FORM = 'application/x-www-form-urlencoded'
/** headers that differ between any two responses, or that only Express adds (ETag) */
const VARYING = new Set(['date', 'etag', 'content-length', 'keep-alive', 'connection'])

for (const provider of providers) {
  describe(`the value lane on ${provider}`, () => {
    let server: TestServer
    let piKey: string
    let otherKey: string
    let counter = 0

    before(async () => {
      server = await startTestServer(provider)
      const f = await fixture(server.core, {
        orgs: ['acme', 'globex'],
        users: { ann: { key: false } },
        controllers: ['acme/lab/pi-1', 'globex/lab/pi-9'],
      })
      piKey = f.controllers['acme/lab/pi-1'].key
      otherKey = f.controllers['globex/lab/pi-9'].key
    })
    after(() => server.close())

    const put = (
      path: string,
      body: string,
      options: { key?: string; type?: string; viaApp?: boolean; headers?: Record<string, string> } = {},
    ) =>
      fetch(`${server.url}/api/v1/resources${path}${options.viaApp ? '?via=app' : ''}`, {
        method: 'PUT',
        headers: {
          ...(options.key === '' ? {} : { authorization: basicAuth(options.key ?? piKey) }),
          'content-type': options.type ?? FORM,
          ...options.headers,
        },
        body,
      })
    const sequence = async (dataType = '1') => {
      const name = `s${++counter}`
      const res = await fetch(`${server.url}/api/v1/resources`, {
        method: 'POST',
        headers: { authorization: basicAuth(piKey), 'content-type': FORM },
        body: new URLSearchParams({
          path: '/acme/lab/pi-1',
          name,
          type: '21',
          data_type: dataType,
          decimal_places: '1',
        }),
      })
      assert.equal(res.status, 200)
      return { path: `/acme/lab/pi-1/${name}`, id: ((await res.json()) as { id: number }).id }
    }
    const stored = (id: number) => server.core.db.resourceRevision.count({ where: { resourceId: id } })
    const answer = async (res: Response) => ({
      status: res.status,
      body: await res.json(),
      headers: (() => {
        const kept: Record<string, string> = {}
        res.headers.forEach((value, name) => void (VARYING.has(name) || (kept[name] = value)))
        return kept
      })(),
    })

    test('a value is answered as the route answers it: status, body and security headers', async () => {
      const { path, id } = await sequence()
      const flushesBefore = sqliteWalFlushes(server.core.db)
      const lane = await answer(await put(path, `data=${encodeURIComponent(b64('21.46'))}`))
      const app = await answer(await put(path, `data=${encodeURIComponent(b64('21.44'))}`, { viaApp: true }))
      // each was answered once on disk: a WAL flush each on SQLite (PostgreSQL flushes in its commit)
      assert.equal(sqliteWalFlushes(server.core.db) - flushesBefore, provider === 'sqlite' ? 2 : 0)
      assert.deepEqual(lane, app)
      assert.deepEqual(lane.body, { status: 'ok', id, stored: true })
      assert.equal(lane.headers['x-content-type-options'], 'nosniff')
      assert.ok(lane.headers['content-security-policy'])
      const json = await answer(
        await put(path, JSON.stringify({ value: 22, timestamp: '2030-01-01T00:00:00Z' }), { type: 'application/json' }),
      )
      assert.deepEqual(json, lane)
      assert.equal(await stored(id), 3)
    })

    test('bad values, bad timestamps and malformed bodies get the route’s 400 and store nothing', async () => {
      const { path, id } = await sequence()
      for (const [body, type] of [
        [`value=warm`, FORM],
        [`value=1&timestamp=${encodeURIComponent('not a time')}`, FORM],
        [`data=${encodeURIComponent('***')}`, FORM],
        ['{"value": 1', 'application/json'],
        ['', FORM],
      ] as const) {
        const lane = await answer(await put(path, body, { type }))
        const app = await answer(await put(path, body, { type, viaApp: true }))
        assert.equal(lane.status, 400, body)
        assert.deepEqual(lane, app, body)
      }
      assert.equal(await stored(id), 0)
    })

    test('a wrong key, another organization’s path and a missing one are refused as the app refuses them', async () => {
      const { path, id } = await sequence()
      const value = `value=1`
      for (const [target, key, status] of [
        [path, 'not-a-key', 401],
        [path, otherKey, 404],
        ['/acme/lab/pi-1/missing', piKey, 404],
        ['/globex/lab/pi-9/missing', piKey, 404],
      ] as const) {
        const lane = await answer(await put(target, value, { key }))
        const app = await answer(await put(target, value, { key, viaApp: true }))
        assert.equal(lane.status, status, `${target} with ${key.slice(0, 6)}`)
        assert.deepEqual(lane, app)
      }
      assert.equal(await stored(id), 0)
    })

    test('a body that changes the resource, or a session cookie without its CSRF token, is the app’s', async () => {
      const { path, id } = await sequence()
      const renamed = await put(path, `name=renamed-${counter}&value=5`)
      assert.equal(renamed.status, 200)
      const row = await server.core.db.resource.findUniqueOrThrow({ where: { id } })
      assert.equal(row.name, `renamed-${counter}`)
      assert.equal(await stored(id), 1)
      const signIn = await fetch(`${server.url}/sign-in`, {
        method: 'POST',
        headers: { 'content-type': FORM },
        body: 'email_address=ann%40example.com&password=long+enough+pw',
      })
      assert.equal(signIn.status, 200)
      const cookie = signIn.headers
        .getSetCookie()
        .map((c) => c.split(';')[0])
        .join('; ')
      const withCookie = await put(`/acme/lab/pi-1/renamed-${counter}`, 'value=6', { key: '', headers: { cookie } })
      assert.equal(withCookie.status, 403)
      assert.equal(await stored(id), 1)
    })
  })
}
