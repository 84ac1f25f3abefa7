// meta=1 tells a writer where a resource's access comes from (permission_source and the list that
// decides, effective_permissions), so the web UI's Access tab can show inherited access; readers
// and anonymous callers learn nothing of it.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { providers } from '../helpers/core.ts'
import { fixture } from '../helpers/fixtures.ts'
import { basicAuth } from '../helpers/http.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

for (const provider of providers) {
  describe(`meta=1 permission_source (${provider})`, () => {
    let server: TestServer
    let acme: number
    let annKey: string
    let bobKey: string
    const call = async (key: string | null, path: string, init: { method?: string; body?: unknown } = {}) => {
      const res = await fetch(`${server.url}/api/v1/resources${path}`, {
        method: init.method ?? 'GET',
        headers: { ...(key ? { authorization: basicAuth(key) } : {}), 'content-type': 'application/json' },
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
      })
      return { status: res.status, body: (await res.json()) as Record<string, unknown> }
    }

    before(async () => {
      server = await startTestServer(provider)
      const f = await fixture(server.core, { org: 'acme', users: { ann: { admin: true }, bob: {} } })
      acme = f.orgs.acme.id
      annKey = f.users.ann.key
      bobKey = f.users.bob.key
    })
    after(async () => server?.close())

    test('a writer sees the inherited list, then the folder own list once set; a reader sees neither', async () => {
      const created = await fetch(`${server.url}/api/v1/resources`, {
        method: 'POST',
        headers: { authorization: basicAuth(annKey), 'content-type': 'application/json' },
        body: JSON.stringify({ path: '/acme/lab', name: 'screen', type: 10 }),
      })
      assert.equal(created.status, 200, await created.text())
      const inherited = await call(annKey, '/acme/lab/screen?meta=1')
      assert.equal(inherited.body.permission_source, '/acme')
      assert.deepEqual(inherited.body.effective_permissions, [
        [110, acme, 20],
        [120, acme, 20],
      ])
      assert.deepEqual(inherited.body.permissions, [], 'rhizo field unchanged: no own list')

      const own = [
        [100, null, 10],
        [110, acme, 20],
        [130, 999, 0],
      ]
      assert.equal(
        (await call(annKey, '/acme/lab', { method: 'PUT', body: { permissions: JSON.stringify(own) } })).status,
        200,
      )
      for (const path of ['/acme/lab', '/acme/lab/screen']) {
        const meta = await call(annKey, `${path}?meta=1`)
        assert.equal(meta.body.permission_source, '/acme/lab', path)
        assert.deepEqual(meta.body.effective_permissions, own, path)
      }
      // bob (a member, so a writer) sees it too; anonymous, a reader through the public entry, does not
      assert.equal((await call(bobKey, '/acme/lab/screen?meta=1')).body.permission_source, '/acme/lab')
      const anonymous = await call(null, '/acme/lab/screen?meta=1')
      assert.equal(anonymous.status, 200)
      assert.equal(anonymous.body.access, 'read')
      assert.equal('permission_source' in anonymous.body, false)
      assert.equal('effective_permissions' in anonymous.body, false)

      // a child's own list decides for it; null goes back to inheriting
      assert.equal(
        (await call(annKey, '/acme/lab/screen', { method: 'PUT', body: { permissions: [[110, acme, 20]] } })).status,
        200,
      )
      assert.equal((await call(annKey, '/acme/lab/screen?meta=1')).body.permission_source, '/acme/lab/screen')
      assert.equal((await call(annKey, '/acme/lab', { method: 'PUT', body: { permissions: null } })).status, 200)
      assert.equal((await call(annKey, '/acme/lab?meta=1')).body.permission_source, '/acme', 'back to inheriting')
    })
  })
}
