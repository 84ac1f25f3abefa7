// A controller writing values over REST is served from caches (the shared path resolver, the key
// cache, a short store transaction that trusts the settings it was handed); what a user changes
// must still apply to the very next value: new settings, a rename, a delete, a permission change.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createController } from '../../core/admin.ts'
import { providers } from '../helpers/core.ts'
import { fixture } from '../helpers/fixtures.ts'
import { basicAuth } from '../helpers/http.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

const b64 = (s: string) => Buffer.from(s).toString('base64')

for (const provider of providers) {
  describe(`REST sequence writes through the caches on ${provider}`, () => {
    let server: TestServer
    let piKey: string
    let annKey: string
    let counter = 0

    before(async () => {
      server = await startTestServer(provider)
      const f = await fixture(server.core, { org: 'acme', users: { ann: {} }, controllers: ['acme/lab/pi-1'] })
      piKey = f.controllers['acme/lab/pi-1'].key
      annKey = f.users.ann.key
    })
    after(() => server.close())

    const send = (method: string, key: string, path: string, body: Record<string, string> = {}) =>
      fetch(`${server.url}/api/v1/resources${path}`, {
        method,
        headers: { authorization: basicAuth(key), 'content-type': 'application/x-www-form-urlencoded' },
        body: method === 'GET' ? undefined : new URLSearchParams(body),
      })
    const latest = async (path: string) =>
      (await fetch(`${server.url}/api/v1/resources${path}`, { headers: { authorization: basicAuth(annKey) } })).text()
    /** a numeric sequence with one decimal place, written to a few times so every cache holds it */
    const warmSequence = async (folder = '/acme/lab/pi-1') => {
      const name = `s${++counter}`
      assert.equal(
        (await send('POST', annKey, '', { path: folder, name, type: '21', data_type: '1', decimal_places: '1' }))
          .status,
        200,
      )
      const path = `${folder}/${name}`
      for (const v of ['1.01', '2.02', '3.03'])
        assert.equal((await send('PUT', piKey, path, { data: b64(v) })).status, 200)
      assert.equal(await latest(path), '3')
      return path
    }

    test('new settings apply to the very next value written', async () => {
      const path = await warmSequence()
      assert.equal((await send('PUT', annKey, path, { decimal_places: '3' })).status, 200)
      assert.equal((await send('PUT', piKey, path, { data: b64('4.04444') })).status, 200)
      assert.equal(await latest(path), '4.044')
    })

    test('the latest value stays the one with the latest timestamp when an older one arrives later', async () => {
      const path = await warmSequence()
      assert.equal((await send('PUT', piKey, path, { data: b64('7'), timestamp: '2030-01-01T00:00:00Z' })).status, 200)
      assert.equal((await send('PUT', piKey, path, { data: b64('5'), timestamp: '2029-01-01T00:00:00Z' })).status, 200)
      assert.equal(await latest(path), '7')
    })

    test('a deleted sequence refuses the very next value (404) and stores nothing', async () => {
      const path = await warmSequence()
      const id = ((await (await send('GET', annKey, `${path}?meta=1`)).json()) as { id: number }).id
      assert.equal((await send('DELETE', annKey, path)).status, 200)
      assert.equal((await send('PUT', piKey, path, { data: b64('9') })).status, 404)
      assert.equal(await server.core.db.resourceRevision.count({ where: { resourceId: id } }), 3)
    })

    test('after a rename the old path is not found at once and the new one takes values', async () => {
      const path = await warmSequence()
      assert.equal((await send('PUT', annKey, path, { name: 'renamed' })).status, 200)
      assert.equal((await send('PUT', piKey, path, { data: b64('9') })).status, 404)
      assert.equal((await send('PUT', piKey, '/acme/lab/pi-1/renamed', { data: b64('9') })).status, 200)
      assert.equal(await latest('/acme/lab/pi-1/renamed'), '9')
    })

    test('a folder whose permissions shut controllers out refuses their very next value', async () => {
      await createController(server.core, 'acme/shut/pi-2')
      const path = await warmSequence('/acme/shut')
      assert.equal((await send('PUT', piKey, path, { data: b64('8') })).status, 200)
      const orgId = ((await (await send('GET', annKey, '/acme?meta=1')).json()) as { id: number }).id
      assert.equal(
        (await send('PUT', annKey, '/acme/shut', { permissions: JSON.stringify([[110, orgId, 20]]) })).status,
        200,
      )
      assert.equal((await send('PUT', piKey, path, { data: b64('9') })).status, 404)
      assert.equal(await latest(path), '8')
    })
  })
}
