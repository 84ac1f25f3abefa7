// Reads that could build an answer of any size are bounded (issue 24, item 6): a folder's message
// history by --history-response-limit bytes (the newest that fit, a Tendril-Truncated header), a file's
// revision list by a row cap (a 413, never a list cut short).
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createController, createOrg } from '../../core/admin.ts'
import { MAX_REVISIONS_LISTED } from '../../core/resources/files.ts'
import { insertRevisionRows } from '../../core/resources/revisions.ts'
import { createResource, findPath } from '../../core/resources/tree.ts'
import { ResourceType } from '../../core/resources/types.ts'
import { providers } from '../helpers/core.ts'
import { basicAuth } from '../helpers/http.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

const LIMIT = 4096

for (const provider of providers) {
  describe(`bounded reads on ${provider}`, () => {
    let server: TestServer
    let key: string

    before(async () => {
      server = await startTestServer(provider, { config: { 'history-response-limit': LIMIT } })
      await createOrg(server.core, 'acme')
      key = (await createController(server.core, 'acme/pi')).key
    })
    after(() => server.close())

    const get = (path: string) => fetch(`${server.url}${path}`, { headers: { authorization: basicAuth(key) } })

    test('GET /api/v1/messages answers the newest messages whose parameters fit in --history-response-limit, and says it left some out', async () => {
      const text = 'x'.repeat(1100)
      for (let i = 0; i < 10; i++) {
        const res = await fetch(`${server.url}/api/v1/messages`, {
          method: 'POST',
          headers: { authorization: basicAuth(key), 'content-type': 'application/json' },
          body: JSON.stringify({ folder_path: '/acme/pi', type: 'big', parameters: { i, text } }),
        })
        assert.equal(res.status, 200)
      }
      const all = await get('/api/v1/messages?folder_path=/acme/pi&count=10&type=big')
      assert.equal(all.status, 200)
      assert.equal(all.headers.get('tendril-truncated'), 'true')
      const kept = ((await all.json()) as { parameters: { i: number } }[]).map((m) => m.parameters.i)
      // each message's parameters are a little over 1100 bytes: the newest three fit in 4096, oldest first
      assert.deepEqual(kept, [7, 8, 9])
      const two = await get('/api/v1/messages?folder_path=/acme/pi&count=2&type=big')
      assert.equal(two.headers.get('tendril-truncated'), null)
      assert.deepEqual(
        ((await two.json()) as { parameters: { i: number } }[]).map((m) => m.parameters.i),
        [8, 9],
      )
    })

    test(`a file with more than ${MAX_REVISIONS_LISTED} revisions: revisions=1 is a 413 with a message, not a list cut short`, async () => {
      const pi = (await findPath(server.core.db, '/acme/pi'))!.at(-1)!
      const file = await createResource(server.core.db, {
        parentId: pi.id,
        organizationId: pi.organizationId,
        name: 'notes.txt',
        type: ResourceType.file,
      })
      const t0 = Date.parse('2026-12-01T00:00:00Z')
      const revision = (i: number) => ({
        resourceId: file.id,
        timestamp: new Date(t0 + i * 1000),
        content: { data: new Uint8Array(Buffer.from(`v${i}`)), blobHash: null, size: 2 },
        numericValue: null,
      })
      await insertRevisionRows(
        server.core.db,
        Array.from({ length: MAX_REVISIONS_LISTED }, (_, i) => revision(i)),
      )
      const full = await get('/api/v1/resources/acme/pi/notes.txt?revisions=1')
      assert.equal(full.status, 200)
      assert.equal(((await full.json()) as unknown[]).length, MAX_REVISIONS_LISTED)
      await insertRevisionRows(server.core.db, [revision(MAX_REVISIONS_LISTED)])
      const over = await get('/api/v1/resources/acme/pi/notes.txt?revisions=1')
      assert.equal(over.status, 413)
      assert.match(((await over.json()) as { message: string }).message, /more than 10000 revisions/)
    })
  })
}
