// What the web UI's sequence explorer and file views ask of the server (issue 18), on SQLite and
// PostgreSQL: the range a buckets answer covers and its count of values that are not numbers, an
// image sequence's revisions listed without their bytes, and a file save guarded by the revision the editor loaded
// (409, nothing overwritten).
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createController, createOrg } from '../../core/admin.ts'
import { storeSequenceValues } from '../../core/resources/sequence-store/store.ts'
import { createSequence, findPath } from '../../core/resources/tree.ts'
import { SequenceDataType } from '../../core/resources/types.ts'
import { providers } from '../helpers/core.ts'
import { basicAuth } from '../helpers/http.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

const T0 = Date.UTC(2024, 4, 1, 12, 0, 0)
const iso = (s: number) => new Date(T0 + s * 1000).toISOString()

for (const provider of providers) {
  describe(`sequence explorer's server side on ${provider}`, () => {
    let server: TestServer
    let key: string
    let folder: { id: number; organizationId: number | null }
    const url = (path: string, query = '') => `${server.url}/api/v1/resources${path}${query ? '?' + query : ''}`
    const get = (path: string, query = '') => fetch(url(path, query), { headers: { authorization: basicAuth(key) } })

    before(async () => {
      server = await startTestServer(provider)
      await createOrg(server.core, 'acme')
      key = (await createController(server.core, 'acme/pi')).key
      folder = (await findPath(server.core.db, '/acme/pi'))!.at(-1)!
    })
    after(() => server.close())

    test('buckets without bounds answer the range they cover (first to last value); an empty sequence says null', async () => {
      const seq = await createSequence(server.core.db, folder, 'temp', { dataType: SequenceDataType.numeric })
      const empty = (await (await get('/acme/pi/temp', 'buckets=10')).json()) as Record<string, unknown>
      assert.deepEqual([empty.start_timestamp, empty.end_timestamp, empty.buckets], [null, null, []])
      await storeSequenceValues(
        server.core,
        server.core.blobs,
        [5, 50, 95].map((s) => ({ sequenceId: seq.id, value: String(s), timestamp: new Date(T0 + s * 1000) })),
      )
      const whole = (await (await get('/acme/pi/temp', 'buckets=3')).json()) as {
        start_timestamp: string
        end_timestamp: string
        buckets: { count: number }[]
      }
      assert.equal(whole.start_timestamp, iso(5))
      assert.equal(whole.end_timestamp, iso(95))
      assert.deepEqual(
        whole.buckets.map((b) => b.count),
        [1, 1, 1],
      )
      const given = (await (
        await get('/acme/pi/temp', `buckets=2&start_timestamp=${iso(0)}&end_timestamp=${iso(100)}`)
      ).json()) as Record<string, unknown>
      assert.deepEqual([given.start_timestamp, given.end_timestamp], [iso(0), iso(100)])
    })

    test('buckets count the values that are not numbers (text stored before the sequence was numeric) and leave them out of the figures', async () => {
      const seq = await createSequence(server.core.db, folder, 'mixed', { dataType: SequenceDataType.text })
      await storeSequenceValues(server.core, server.core.blobs, [
        { sequenceId: seq.id, value: 'sensor error', timestamp: new Date(T0 + 10_000) },
      ])
      await server.core.db.resource.update({
        where: { id: seq.id },
        data: { systemAttributes: { data_type: SequenceDataType.numeric } },
      })
      await storeSequenceValues(
        server.core,
        server.core.blobs,
        [1, 3].map((v, i) => ({
          sequenceId: seq.id,
          value: String(v),
          timestamp: new Date(T0 + (i ? 20_000 : 5_000)),
          known: { systemAttributes: { data_type: SequenceDataType.numeric } },
        })),
      )
      const answer = (await (
        await get('/acme/pi/mixed', `buckets=3&start_timestamp=${iso(0)}&end_timestamp=${iso(30)}`)
      ).json()) as { not_numeric?: number; buckets: unknown[] }
      assert.equal(answer.not_numeric, 1)
      assert.deepEqual(answer.buckets, [
        { start: iso(0), count: 1, min: 1, mean: 1, max: 1 },
        { start: iso(10), count: 0, min: null, mean: null, max: null },
        { start: iso(20), count: 1, min: 3, mean: 3, max: 3 },
      ])
      const numbersOnly = (await (await get('/acme/pi/temp', 'buckets=3')).json()) as Record<string, unknown>
      assert.equal('not_numeric' in numbersOnly, false)
    })

    test('revisions=1 on an image sequence lists the newest count revisions (id, timestamp, size) in a range, oldest first', async () => {
      const cam = await createSequence(server.core.db, folder, 'cam', { dataType: SequenceDataType.image })
      const images = [1, 2, 3, 4].map((i) => ({
        sequenceId: cam.id,
        value: Buffer.alloc(10 * i, i),
        timestamp: new Date(T0 + i * 1000),
      }))
      await storeSequenceValues(server.core, server.core.blobs, images)
      const listed = (await (await get('/acme/pi/cam', 'revisions=1&count=2')).json()) as {
        id: number
        timestamp: string
        size: number
      }[]
      assert.deepEqual(
        listed.map((r) => [r.timestamp, r.size]),
        [
          [iso(3), 30],
          [iso(4), 40],
        ],
      )
      const older = (await (await get('/acme/pi/cam', `revisions=1&count=10&end_timestamp=${iso(2)}`)).json()) as {
        size: number
      }[]
      assert.deepEqual(
        older.map((r) => r.size),
        [10, 20],
      )
      const image = await get('/acme/pi/cam', `rev=${listed[0]!.id}`)
      assert.deepEqual(Buffer.from(await image.arrayBuffer()), Buffer.alloc(30, 3))
    })

    test('a file saved with an if_revision that is no longer the latest is refused with 409 and nothing is overwritten', async () => {
      const put = (body: Record<string, string>) =>
        fetch(url('/acme/pi/notes.txt'), {
          method: 'PUT',
          headers: { authorization: basicAuth(key), 'content-type': 'application/json' },
          body: JSON.stringify(body),
        })
      const created = await fetch(url(''), {
        method: 'POST',
        headers: { authorization: basicAuth(key), 'content-type': 'application/json' },
        body: JSON.stringify({
          path: '/acme/pi',
          name: 'notes.txt',
          type: 20,
          data: Buffer.from('first').toString('base64'),
        }),
      })
      assert.equal(created.status, 200, await created.text())
      const [loaded] = (await (await get('/acme/pi/notes.txt', 'revisions=1')).json()) as { id: number }[]
      const first = await put({ contents: 'from Ann', if_revision: String(loaded!.id) })
      assert.equal(first.status, 200, await first.text())
      const second = await put({ contents: 'from Bob', if_revision: String(loaded!.id) })
      assert.equal(second.status, 409)
      assert.match(((await second.json()) as { message: string }).message, /changed since revision/)
      assert.equal(await (await get('/acme/pi/notes.txt')).text(), 'from Ann')
      assert.equal(((await (await get('/acme/pi/notes.txt', 'revisions=1')).json()) as unknown[]).length, 2)
      // without if_revision a save is as before (rhizo's clients)
      assert.equal((await put({ contents: 'from Bob' })).status, 200)
    })
  })
}
