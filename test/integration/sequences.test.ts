// Sequence values against real databases: the storage rules (types, rounding, min_storage_interval,
// inline vs bulk storage), history, downsampling and retention, on SQLite and PostgreSQL.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import { createOrg } from '../../core/admin.ts'
import { MemoryBlobStore, type BlobStore } from '../../core/blobs/index.ts'
import { TendrilError } from '../../core/errors.ts'
import { enforceRetention, startRetentionJob } from '../../core/resources/retention.ts'
import { latestValue, readRevision } from '../../core/resources/revisions.ts'
import { downsampleHistory } from '../../core/resources/sequence-downsample.ts'
import { sequenceHistory, sequenceHistoryText } from '../../core/resources/sequence-history.ts'
import { storeSequenceValues } from '../../core/resources/sequence-store/store.ts'
import { createResource, createSequence, type SequenceSettings } from '../../core/resources/tree.ts'
import { ResourceType, SequenceDataType } from '../../core/resources/types.ts'
import { openTestCore, providers, type TestCore } from '../helpers/core.ts'

const { numeric, text, image } = SequenceDataType
const at = (iso: string) => new Date(iso)
const T0 = Date.UTC(2024, 4, 1, 12, 0, 0)
const sec = (s: number) => new Date(T0 + s * 1000)
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex')

async function bytesOf(body: Buffer | Readable): Promise<Buffer> {
  if (Buffer.isBuffer(body)) return body
  const chunks: Buffer[] = []
  for await (const chunk of body) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

const isCode = (code: string, message?: RegExp) => (err: unknown) =>
  err instanceof TendrilError && err.code === code && (!message || message.test(err.message))

for (const provider of providers) {
  describe(`sequences on ${provider}`, () => {
    let core: TestCore
    let blobs: MemoryBlobStore
    let folder: { id: number; organizationId: number | null }
    let counter = 0

    before(async () => {
      core = await openTestCore(provider)
      blobs = new MemoryBlobStore()
      const org = await createOrg(core, 'acme')
      folder = await createResource(core.db, {
        parentId: org.id,
        organizationId: org.id,
        name: 'greenhouse',
        type: ResourceType.basicFolder,
      })
    })
    after(() => core.cleanup())

    const sequence = async (settings: SequenceSettings) =>
      (await createSequence(core.db, folder, `seq-${++counter}`, settings)).id
    const revisionsOf = (id: number) =>
      core.db.resourceRevision.findMany({ where: { resourceId: id }, orderBy: [{ timestamp: 'asc' }, { id: 'asc' }] })

    test('numeric values are stored as text bytes and as a number, and become the latest value', async () => {
      const id = await sequence({ dataType: numeric, units: 'degrees C' })
      const { stored, skipped } = await storeSequenceValues(core, blobs, [
        { sequenceId: id, value: '12.5', timestamp: sec(0) },
        { sequenceId: id, value: '-3', timestamp: sec(1) },
        { sequenceId: id, value: ' 1e3 ', timestamp: sec(2) },
      ])
      assert.deepEqual(skipped, [])
      assert.deepEqual(
        stored.map((s) => [s.sequenceId, s.value, s.timestamp.toISOString()]),
        [
          [id, '12.5', sec(0).toISOString()],
          [id, '-3', sec(1).toISOString()],
          [id, '1000', sec(2).toISOString()],
        ],
      )
      const rows = await revisionsOf(id)
      assert.deepEqual(
        rows.map((r) => [Buffer.from(r.data!).toString(), r.numericValue, r.size, r.blobHash]),
        [
          ['12.5', 12.5, 4, null],
          ['-3', -3, 2, null],
          ['1000', 1000, 4, null],
        ],
      )
      assert.deepEqual(
        stored.map((s) => s.revisionId),
        rows.map((r) => r.id),
      )
      const resource = await core.db.resource.findUniqueOrThrow({ where: { id } })
      assert.equal(resource.lastRevisionId, rows[2]!.id)
      assert.ok(
        resource.modifiedAt && Date.now() - resource.modifiedAt.getTime() < 60_000,
        'modifiedAt is the time of the write',
      )
      const latest = (await latestValue(core, blobs, id))!
      assert.equal((await bytesOf(latest.body)).toString(), '1000')
      assert.equal(latest.timestamp.toISOString(), sec(2).toISOString())
    })

    test('a non-numeric value for a numeric sequence is refused and nothing of the batch is stored', async () => {
      const id = await sequence({ dataType: numeric })
      for (const bad of ['', ' ', 'abc', 'NaN', 'Infinity', '-Infinity', '12abc', '0x10', '1e999', '1,5', '--1']) {
        await assert.rejects(
          storeSequenceValues(core, blobs, [
            { sequenceId: id, value: '1' },
            { sequenceId: id, value: bad },
            { sequenceId: id, value: '2' },
          ]),
          isCode('invalid', /value 2 of 3 .*(not a number|out of range).*nothing was stored/),
          JSON.stringify(bad),
        )
      }
      assert.equal((await revisionsOf(id)).length, 0)
      assert.equal((await core.db.resource.findUniqueOrThrow({ where: { id } })).lastRevisionId, null)
    })

    test('a bad value for one sequence refuses the values for every other sequence in the batch', async () => {
      const good = await sequence({ dataType: text })
      const bad = await sequence({ dataType: numeric })
      await assert.rejects(
        storeSequenceValues(core, blobs, [
          { sequenceId: good, value: 'ok' },
          { sequenceId: bad, value: 'warm' },
        ]),
        isCode('invalid'),
      )
      assert.equal((await revisionsOf(good)).length, 0)
    })

    test('decimal_places rounds half away from zero and writes the shortest text of the rounded number', async () => {
      const two = await sequence({ dataType: numeric, decimalPlaces: 2 })
      const none = await sequence({ dataType: numeric, decimalPlaces: 0 })
      const { stored } = await storeSequenceValues(core, blobs, [
        { sequenceId: two, value: '1.005', timestamp: sec(0) },
        { sequenceId: two, value: '-1.234', timestamp: sec(1) },
        { sequenceId: two, value: '12', timestamp: sec(2) },
        { sequenceId: two, value: '-0.001', timestamp: sec(3) },
        { sequenceId: none, value: '2.5', timestamp: sec(0) },
        { sequenceId: none, value: '-2.5', timestamp: sec(1) },
      ])
      assert.deepEqual(
        stored.map((s) => s.value),
        ['1.01', '-1.23', '12', '0', '3', '-3'],
      )
      assert.deepEqual(
        (await revisionsOf(two)).map((r) => r.numericValue),
        [1.01, -1.23, 12, 0],
      )
      assert.deepEqual(
        (await revisionsOf(none)).map((r) => Buffer.from(r.data!).toString()),
        ['3', '-3'],
      )
    })

    test('text values are stored as UTF-8', async () => {
      const id = await sequence({ dataType: text })
      const value = 'Grüße, 温室 🌱 — line 1\nline 2'
      const { stored } = await storeSequenceValues(core, blobs, [
        { sequenceId: id, value },
        { sequenceId: id, value: Buffer.from('from bytes') },
      ])
      assert.equal(stored[0]!.value, value)
      const [row] = await revisionsOf(id)
      assert.deepEqual(Buffer.from(row!.data!), Buffer.from(value, 'utf8'))
      assert.equal(row!.numericValue, null)
      await assert.rejects(
        storeSequenceValues(core, blobs, [{ sequenceId: id, value: Buffer.from([0xff, 0xfe]) }]),
        isCode('invalid', /UTF-8/),
      )
      const empty = await sequence({ dataType: text })
      await storeSequenceValues(core, blobs, [{ sequenceId: empty, value: '' }])
      assert.equal((await bytesOf((await latestValue(core, blobs, empty))!.body)).length, 0)
      assert.deepEqual((await sequenceHistory(core.db, empty)).values, [''])
    })

    test('image bytes are kept exactly, inline or in bulk storage', async () => {
      const id = await sequence({ dataType: image })
      const small = Buffer.from(Array.from({ length: 256 }, (_, i) => i))
      const large = Buffer.alloc(50_000)
      for (let i = 0; i < large.length; i++) large[i] = (i * 7919) % 256
      const { stored } = await storeSequenceValues(core, blobs, [
        { sequenceId: id, value: small, timestamp: sec(0) },
        { sequenceId: id, value: large, timestamp: sec(1) },
      ])
      assert.deepEqual(
        stored.map((s) => [s.value, s.size]),
        [
          [null, 256],
          [null, 50_000],
        ],
      )
      const rows = await revisionsOf(id)
      assert.deepEqual(await bytesOf(await readRevision(core, blobs, rows[0]!)), small)
      assert.deepEqual(await bytesOf(await readRevision(core, blobs, rows[1]!)), large)
      await assert.rejects(
        storeSequenceValues(core, blobs, [{ sequenceId: id, value: 'not bytes' }]),
        isCode('invalid', /must be bytes/),
      )
    })

    test('a revision over the inline size goes to bulk storage and reads back identical', async () => {
      const id = await sequence({ dataType: text })
      const atLimit = 'a'.repeat(core.config.inlineBytes)
      const over = 'é'.repeat(core.config.inlineBytes) // 2 bytes each
      await storeSequenceValues(core, blobs, [
        { sequenceId: id, value: atLimit, timestamp: sec(0) },
        { sequenceId: id, value: over, timestamp: sec(1) },
      ])
      const [inline, bulk] = await revisionsOf(id)
      assert.equal(inline!.blobHash, null)
      assert.equal(inline!.data!.length, core.config.inlineBytes)
      assert.equal(bulk!.data, null)
      assert.equal(bulk!.size, 2 * core.config.inlineBytes)
      assert.equal(bulk!.blobHash, sha256(Buffer.from(over)))
      assert.ok(await blobs.has(bulk!.blobHash!))
      const latest = (await latestValue(core, blobs, id))!
      assert.ok(!Buffer.isBuffer(latest.body), 'a large revision is streamed')
      assert.equal((await bytesOf(latest.body)).toString(), over)
      assert.deepEqual((await sequenceHistory(core.db, id, { blobs })).values, [atLimit, over])
    })

    test('identical large values share one blob', async () => {
      const id = await sequence({ dataType: image })
      const picture = Buffer.alloc(5000, 7)
      const before = blobs.count
      await storeSequenceValues(core, blobs, [
        { sequenceId: id, value: picture, timestamp: sec(0) },
        { sequenceId: id, value: picture, timestamp: sec(1) },
      ])
      const rows = await revisionsOf(id)
      assert.equal(rows.length, 2)
      assert.equal(rows[0]!.blobHash, rows[1]!.blobHash)
      assert.equal(blobs.count, before + 1)
    })

    test('values closer than min_storage_interval are skipped, within a batch and across batches', async () => {
      const id = await sequence({ dataType: numeric, minStorageInterval: 10 })
      const first = await storeSequenceValues(core, blobs, [
        { sequenceId: id, value: '1', timestamp: sec(0) },
        { sequenceId: id, value: '2', timestamp: sec(5) },
        { sequenceId: id, value: '3', timestamp: sec(10) },
        { sequenceId: id, value: '4', timestamp: sec(19.999) },
      ])
      assert.deepEqual(
        first.stored.map((s) => s.value),
        ['1', '3'],
      )
      assert.deepEqual(
        first.skipped.map((s) => [s.sequenceId, s.value, s.timestamp.getTime() - T0, s.reason]),
        [
          [id, '2', 5000, 'min_storage_interval'],
          [id, '4', 19_999, 'min_storage_interval'],
        ],
      )
      const second = await storeSequenceValues(core, blobs, [
        { sequenceId: id, value: '5', timestamp: sec(15) },
        { sequenceId: id, value: '6', timestamp: sec(20) },
      ])
      assert.deepEqual(
        second.stored.map((s) => s.value),
        ['6'],
      )
      assert.deepEqual(
        second.skipped.map((s) => s.value),
        ['5'],
      )
      // a replayed older value is checked against its stored neighbours
      const replay = await storeSequenceValues(core, blobs, [
        { sequenceId: id, value: '7', timestamp: sec(-20) },
        { sequenceId: id, value: '8', timestamp: sec(-5) },
      ])
      assert.deepEqual(
        replay.stored.map((s) => s.value),
        ['7'],
      )
      assert.deepEqual(
        (await revisionsOf(id)).map((r) => r.numericValue),
        [7, 1, 3, 6],
      )
    })

    if (provider === 'sqlite') {
      // a batch goes in on SQLite's connection directly when it is free, else through Prisma: both ways keep the rules
      test('a batch stored while a transaction holds the connection keeps the same rules', async () => {
        const store = async (batch: Parameters<typeof storeSequenceValues>[2], held: boolean) => {
          if (!held) return storeSequenceValues(core, blobs, batch)
          let inside!: () => void
          let release!: () => void
          const entered = new Promise<void>((r) => (inside = r))
          const holding = core.db.$transaction(async () => {
            inside()
            await new Promise<void>((r) => (release = r))
          })
          await entered
          const storing = storeSequenceValues(core, blobs, batch)
          release()
          await holding
          return storing
        }
        const outcomes = []
        for (const held of [false, true]) {
          const id = await sequence({ dataType: numeric, minStorageInterval: 10, decimalPlaces: 1 })
          const first = await store(
            [
              { sequenceId: id, value: '1.04', timestamp: sec(0) },
              { sequenceId: id, value: '2', timestamp: sec(5) },
              { sequenceId: id, value: '3', timestamp: sec(30) },
            ],
            held,
          )
          const replay = await store(
            [
              { sequenceId: id, value: '4', timestamp: sec(-20) },
              { sequenceId: id, value: '5', timestamp: sec(25) },
              { sequenceId: id, value: '6', timestamp: sec(4) },
              { sequenceId: id, value: '6.5', timestamp: sec(12) },
            ],
            held,
          )
          const resource = await core.db.resource.findUniqueOrThrow({ where: { id } })
          outcomes.push({
            stored: [...first.stored, ...replay.stored].map((s) => [s.value, s.timestamp.getTime() - T0]),
            skipped: [...first.skipped, ...replay.skipped].map((s) => s.value),
            latestIsNewest: resource.lastRevisionId === first.stored.at(-1)?.revisionId,
            history: (await revisionsOf(id)).map((r) => r.numericValue),
          })
          await assert.rejects(
            store(
              [
                { sequenceId: id, value: '7', timestamp: sec(100) },
                { sequenceId: id, value: 'warm', timestamp: sec(200) },
              ],
              held,
            ),
            isCode('invalid'),
          )
          assert.equal((await revisionsOf(id)).length, 4, 'a refused batch stores nothing')
        }
        assert.deepEqual(outcomes[0], {
          stored: [
            ['1', 0],
            ['3', 30_000],
            ['4', -20_000],
            ['6.5', 12_000],
          ],
          skipped: ['2', '5', '6'],
          latestIsNewest: true,
          history: [4, 1, 6.5, 3],
        })
        assert.deepEqual(outcomes[1], outcomes[0])
      })
    }

    test('without min_storage_interval every value is stored, even at the same instant', async () => {
      const id = await sequence({ dataType: numeric })
      const { stored, skipped } = await storeSequenceValues(
        core,
        blobs,
        [1, 2, 3].map((v) => ({ sequenceId: id, value: String(v), timestamp: sec(0) })),
      )
      assert.equal(stored.length, 3)
      assert.equal(skipped.length, 0)
      assert.equal(
        (await core.db.resource.findUniqueOrThrow({ where: { id } })).lastRevisionId,
        stored[2]!.revisionId,
        'of equal timestamps the last stored is the latest',
      )
    })

    test('values may arrive out of order; the latest value stays the one with the latest timestamp', async () => {
      const id = await sequence({ dataType: numeric })
      const now = await storeSequenceValues(core, blobs, [{ sequenceId: id, value: '10', timestamp: sec(100) }])
      const replayed = await storeSequenceValues(core, blobs, [
        { sequenceId: id, value: '1', timestamp: sec(1) },
        { sequenceId: id, value: '2', timestamp: sec(2) },
      ])
      assert.equal(replayed.stored.length, 2)
      const resource = await core.db.resource.findUniqueOrThrow({ where: { id } })
      assert.equal(resource.lastRevisionId, now.stored[0]!.revisionId)
      assert.equal((await bytesOf((await latestValue(core, blobs, id))!.body)).toString(), '10')
      const mixed = await storeSequenceValues(core, blobs, [
        { sequenceId: id, value: '200', timestamp: sec(200) },
        { sequenceId: id, value: '150', timestamp: sec(150) },
      ])
      assert.equal(
        (await core.db.resource.findUniqueOrThrow({ where: { id } })).lastRevisionId,
        mixed.stored[0]!.revisionId,
      )
      assert.deepEqual((await sequenceHistory(core.db, id)).values, ['1', '2', '10', '150', '200'])
    })

    test('concurrent batches for one sequence leave the latest value pointing at the latest timestamp', async () => {
      const id = await sequence({ dataType: numeric })
      const seconds = Array.from({ length: 40 }, (_, i) => (i * 37) % 40) // a shuffled 0..39
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, b) =>
          storeSequenceValues(
            core,
            blobs,
            seconds.slice(b * 5, b * 5 + 5).map((s) => ({ sequenceId: id, value: String(s), timestamp: sec(s) })),
          ),
        ),
      )
      const newest = results.flatMap((r) => r.stored).find((s) => s.value === '39')!
      assert.equal((await core.db.resource.findUniqueOrThrow({ where: { id } })).lastRevisionId, newest.revisionId)
      assert.equal((await sequenceHistory(core.db, id)).values.length, 40)
    })

    test('timestamps default to now', async () => {
      const id = await sequence({ dataType: text })
      const before = Date.now()
      const { stored } = await storeSequenceValues(core, blobs, [{ sequenceId: id, value: 'x' }])
      assert.ok(stored[0]!.timestamp.getTime() >= before && stored[0]!.timestamp.getTime() <= Date.now())
      await assert.rejects(
        storeSequenceValues(core, blobs, [{ sequenceId: id, value: 'x', timestamp: new Date(NaN) }]),
        isCode('invalid'),
      )
    })

    test('values for a missing, deleted or non-sequence resource refuse the batch', async () => {
      const live = await sequence({ dataType: text })
      const gone = await sequence({ dataType: text })
      await core.db.resource.update({ where: { id: gone }, data: { deleted: true, liveKey: null } })
      await assert.rejects(
        storeSequenceValues(core, blobs, [
          { sequenceId: live, value: 'a' },
          { sequenceId: gone, value: 'b' },
        ]),
        isCode('not_found'),
      )
      await assert.rejects(
        storeSequenceValues(core, blobs, [
          { sequenceId: live, value: 'a' },
          { sequenceId: 999_999, value: 'b' },
        ]),
        isCode('not_found'),
      )
      await assert.rejects(
        storeSequenceValues(core, blobs, [{ sequenceId: folder.id, value: '1' }]),
        isCode('invalid', /not a sequence/),
      )
      assert.equal((await revisionsOf(live)).length, 0)
      assert.deepEqual(await storeSequenceValues(core, blobs, []), { stored: [], skipped: [] })
      await assert.rejects(latestValue(core, blobs, gone), isCode('not_found'))
      assert.equal(await latestValue(core, blobs, live), null)
    })

    test('one batch stores values for many sequences at once', async () => {
      const ids = await Promise.all(Array.from({ length: 20 }, () => sequence({ dataType: numeric })))
      const batch = Array.from({ length: 1000 }, (_, i) => ({
        sequenceId: ids[i % ids.length]!,
        value: String(i),
        timestamp: sec(i),
      }))
      const { stored } = await storeSequenceValues(core, blobs, batch)
      assert.deepEqual(
        stored.map((s) => s.value),
        batch.map((b) => b.value),
      )
      for (const [k, id] of ids.entries()) {
        const resource = await core.db.resource.findUniqueOrThrow({ where: { id } })
        assert.equal(resource.lastRevisionId, stored[980 + k]!.revisionId)
      }
      assert.equal(await core.db.resourceRevision.count({ where: { resourceId: { in: ids } } }), 1000)
    })

    test('history count returns the latest N in time order', async () => {
      const id = await sequence({ dataType: numeric })
      // stored newest first, to show the order comes from the timestamps
      await storeSequenceValues(
        core,
        blobs,
        Array.from({ length: 50 }, (_, i) => ({ sequenceId: id, value: String(49 - i), timestamp: sec(49 - i) })),
      )
      const latest = await sequenceHistory(core.db, id, { count: 5 })
      assert.deepEqual(latest.values, ['45', '46', '47', '48', '49'])
      assert.deepEqual(
        latest.timestamps.map((t) => t.getTime()),
        [45, 46, 47, 48, 49].map((s) => sec(s).getTime()),
      )
      const inRange = await sequenceHistory(core.db, id, { start: sec(10), end: sec(20), count: 3 })
      assert.deepEqual(inRange.values, ['18', '19', '20'], 'the range bounds are inclusive and count takes the latest')
      assert.deepEqual((await sequenceHistory(core.db, id, { start: sec(47) })).values, ['47', '48', '49'])
      assert.deepEqual((await sequenceHistory(core.db, id, { end: sec(1) })).values, ['0', '1'])
      assert.equal((await sequenceHistory(core.db, id)).values.length, 50)
      for (const count of [0, -1, 1.5, 1_000_001])
        await assert.rejects(sequenceHistory(core.db, id, { count }), isCode('invalid'))
      await assert.rejects(sequenceHistory(core.db, id, { start: sec(2), end: sec(1) }), isCode('invalid'))
    })

    test('history keeps any text, milliseconds, ties in storing order, and values in the blob store', async () => {
      const id = await sequence({ dataType: text })
      const odd = ['a,b', '"quoted"\n\tline', 'ünïcødé 😀', '', '[1,2]', 'null', '\\']
      const times = [
        '2024-05-01T00:00:00.000Z',
        '2024-05-01T00:00:00.500Z',
        '2024-05-01T00:00:00.050Z',
        '2024-05-01T00:00:00.007Z',
        '2024-05-01T00:00:01.120Z',
        '2024-05-01T00:00:01.120Z',
        '2024-05-01T00:00:01.120Z',
      ]
      await storeSequenceValues(
        core,
        blobs,
        odd.map((value, i) => ({ sequenceId: id, value, timestamp: at(times[i]!) })),
      )
      const inOrder = [0, 3, 2, 1, 4, 5, 6] // by time, then (same time) as stored
      const history = await sequenceHistory(core.db, id)
      assert.deepEqual(
        history.values,
        inOrder.map((i) => odd[i]),
      )
      assert.deepEqual(
        history.timestamps.map((t) => t.toISOString()),
        inOrder.map((i) => times[i]),
      )
      assert.deepEqual((await sequenceHistoryText(core.db, id, { count: 2 })).timestamps, [
        '2024-05-01T00:00:01.120Z',
        '2024-05-01T00:00:01.120Z',
      ])

      // one value past the inline limit goes to the blob store: the same history, read row by row
      const large = 'x'.repeat(core.config.inlineBytes + 1)
      await storeSequenceValues(core, blobs, [
        { sequenceId: id, value: large, timestamp: at('2024-05-01T00:00:00.250Z') },
      ])
      const withLarge = await sequenceHistoryText(core.db, id, { blobs })
      assert.deepEqual(withLarge.values, [odd[0], odd[3], odd[2], large, odd[1], odd[4], odd[5], odd[6]])
      assert.equal(withLarge.timestamps[3], '2024-05-01T00:00:00.250Z')
      assert.deepEqual(
        (await sequenceHistoryText(core.db, id, { start: at('2024-05-01T00:00:00.500Z'), blobs })).values,
        [odd[1], odd[4], odd[5], odd[6]],
      )
      assert.deepEqual(await sequenceHistoryText(core.db, id, { end: at('2024-04-30T00:00:00.000Z') }), {
        timestamps: [],
        values: [],
      })

      // read while a transaction holds the connection (SQLite's connection is shared): committed values only
      let release!: () => void
      const held = new Promise<void>((resolve) => (release = resolve))
      const tx = core.db.$transaction(async (t) => {
        await t.resourceRevision.create({
          data: {
            resourceId: id,
            timestamp: at('2024-06-01T00:00:00.000Z'),
            data: Buffer.from('uncommitted'),
            size: 11,
          },
        })
        await held
        throw new Error('rolled back')
      })
      await new Promise((resolve) => setTimeout(resolve, 50))
      const during = sequenceHistoryText(core.db, id, { blobs })
      release()
      await assert.rejects(tx, /rolled back/)
      assert.deepEqual((await during).values, withLarge.values)
    })

    test('downsampling returns count, min, mean and max per bucket', async () => {
      const id = await sequence({ dataType: numeric })
      // 0..99 at one value per second; 10 buckets of 10 s each over [0 s, 100 s]
      await storeSequenceValues(
        core,
        blobs,
        Array.from({ length: 100 }, (_, i) => ({
          sequenceId: id,
          value: String(i % 2 === 0 ? i : -i),
          timestamp: sec(i),
        })),
      )
      const buckets = await downsampleHistory(core.db, id, { start: sec(0), end: sec(100), buckets: 10 })
      assert.equal(buckets.length, 10)
      for (const [k, b] of buckets.entries()) {
        const values = Array.from({ length: 10 }, (_, j) => 10 * k + j).map((i) => (i % 2 === 0 ? i : -i))
        assert.equal(b.start.getTime(), sec(10 * k).getTime())
        assert.equal(b.count, 10)
        assert.equal(b.min, Math.min(...values))
        assert.equal(b.max, Math.max(...values))
        assert.ok(Math.abs(b.mean! - values.reduce((a, v) => a + v, 0) / 10) < 1e-9)
      }
    })

    test('downsampling lists empty buckets, puts a value at the end in the last bucket and splits uneven spans exactly', async () => {
      const id = await sequence({ dataType: numeric })
      await storeSequenceValues(core, blobs, [
        { sequenceId: id, value: '1', timestamp: at('2024-05-01T00:00:00.000Z') },
        { sequenceId: id, value: '2', timestamp: at('2024-05-01T00:00:00.332Z') },
        { sequenceId: id, value: '3', timestamp: at('2024-05-01T00:00:00.334Z') },
        { sequenceId: id, value: '4', timestamp: at('2024-05-01T00:00:01.000Z') },
        { sequenceId: id, value: '5', timestamp: at('2024-05-01T00:00:01.001Z') },
      ])
      // 1000 ms in 3 buckets: [0, 334), [334, 667), [667, 1000]
      const buckets = await downsampleHistory(core.db, id, {
        start: at('2024-05-01T00:00:00Z'),
        end: at('2024-05-01T00:00:01Z'),
        buckets: 3,
      })
      assert.deepEqual(
        buckets.map((b) => [b.start.toISOString(), b.count, b.min, b.max]),
        [
          ['2024-05-01T00:00:00.000Z', 2, 1, 2],
          ['2024-05-01T00:00:00.334Z', 1, 3, 3],
          ['2024-05-01T00:00:00.667Z', 1, 4, 4],
        ],
      )
      const sparse = await downsampleHistory(core.db, id, {
        start: at('2024-04-30T00:00:00Z'),
        end: at('2024-05-02T00:00:00Z'),
        buckets: 48,
      })
      assert.equal(sparse.length, 48)
      assert.deepEqual(
        sparse.filter((b) => b.count > 0).map((b) => [b.start.toISOString(), b.count]),
        [['2024-05-01T00:00:00.000Z', 5]],
      )
      assert.deepEqual(sparse[0], { start: at('2024-04-30T00:00:00Z'), count: 0, min: null, mean: null, max: null })
    })

    test('downsampling refuses bad bucket counts and ranges, and non-numeric sequences', async () => {
      const id = await sequence({ dataType: numeric })
      for (const buckets of [0, -1, 2.5, 10_001]) {
        await assert.rejects(
          downsampleHistory(core.db, id, { start: sec(0), end: sec(10), buckets }),
          isCode('invalid', /buckets/),
        )
      }
      await assert.rejects(
        downsampleHistory(core.db, id, { start: sec(10), end: sec(10), buckets: 5 }),
        isCode('invalid', /before/),
      )
      await assert.rejects(
        downsampleHistory(core.db, id, { start: sec(10), end: sec(0), buckets: 5 }),
        isCode('invalid'),
      )
      await assert.rejects(
        downsampleHistory(core.db, await sequence({ dataType: text }), { start: sec(0), end: sec(10), buckets: 5 }),
        isCode('invalid', /numeric/),
      )
      assert.equal(
        (await downsampleHistory(core.db, id, { start: sec(0), end: sec(10), buckets: 10_000 })).length,
        10_000,
      )
    })

    test('max_history keeps the newest N', async () => {
      const id = await sequence({ dataType: numeric, maxHistory: 5 })
      const other = await sequence({ dataType: numeric })
      await storeSequenceValues(core, blobs, [
        ...Array.from({ length: 12 }, (_, i) => ({ sequenceId: id, value: String(i), timestamp: sec(11 - i) })),
        ...Array.from({ length: 12 }, (_, i) => ({ sequenceId: other, value: String(i), timestamp: sec(i) })),
      ])
      const result = await enforceRetention(core, blobs)
      assert.ok(result.revisionsDeleted >= 7)
      assert.equal(result.resumeAfterId, null)
      assert.deepEqual((await sequenceHistory(core.db, id)).values, ['4', '3', '2', '1', '0'])
      assert.equal((await revisionsOf(other)).length, 12, 'a sequence without max_history keeps everything')
      assert.equal((await bytesOf((await latestValue(core, blobs, id))!.body)).toString(), '0')
      assert.equal((await enforceRetention(core, blobs)).revisionsDeleted, 0, 'a second pass has nothing to do')
    })

    test('retention does bounded work per call and resumes where it stopped', async () => {
      const ids = [
        await sequence({ dataType: numeric, maxHistory: 2 }),
        await sequence({ dataType: numeric, maxHistory: 2 }),
      ]
      await storeSequenceValues(
        core,
        blobs,
        ids.flatMap((id) =>
          Array.from({ length: 10 }, (_, i) => ({ sequenceId: id, value: String(i), timestamp: sec(i) })),
        ),
      )
      const since = new Date(Date.now() - 60_000) // only sequences written just now
      let afterId: number | undefined
      let calls = 0
      do {
        const r = await enforceRetention(core, blobs, { modifiedSince: since, afterId, maxDeletes: 3 })
        assert.ok(r.revisionsDeleted <= 3)
        afterId = r.resumeAfterId ?? undefined
        calls++
      } while (afterId !== undefined && calls < 20)
      assert.ok(calls >= 6, `16 deletions at 3 per call take at least 6 calls, took ${calls}`)
      for (const id of ids) assert.deepEqual((await sequenceHistory(core.db, id)).values, ['8', '9'])
    })

    test('retention deletes blobs no revision refers to any more, and keeps shared ones', async () => {
      const trimmed = await sequence({ dataType: image, maxHistory: 1 })
      const keeper = await sequence({ dataType: image })
      const shared = Buffer.alloc(3000, 1)
      const own = Buffer.alloc(3000, 2)
      const latest = Buffer.alloc(3000, 3)
      await storeSequenceValues(core, blobs, [
        { sequenceId: trimmed, value: shared, timestamp: sec(0) },
        { sequenceId: trimmed, value: own, timestamp: sec(1) },
        { sequenceId: trimmed, value: latest, timestamp: sec(2) },
        { sequenceId: keeper, value: shared, timestamp: sec(0) },
      ])
      const result = await enforceRetention(core, blobs)
      assert.equal(result.blobsDeleted, 1)
      assert.equal(await blobs.has(sha256(own)), false)
      assert.equal(await blobs.has(sha256(shared)), true, 'another sequence still refers to it')
      assert.equal(await blobs.has(sha256(latest)), true)
      assert.deepEqual(await bytesOf((await latestValue(core, blobs, trimmed))!.body), latest)
    })

    test('a blob collected between its put and the commit that refers to it is put back', async () => {
      const id = await sequence({ dataType: image })
      const picture = Buffer.alloc(4000, 9)
      // stands in for a collector on another instance that saw no reference yet
      let collected = 0
      const racing: BlobStore = {
        put: async (source, opts) => {
          const blob = await blobs.put(source, opts)
          if (collected++ === 0) await blobs.delete(blob.hash)
          return blob
        },
        get: (hash) => blobs.get(hash),
        has: (hash) => blobs.has(hash),
        delete: (hash) => blobs.delete(hash),
      }
      await storeSequenceValues(core, racing, [{ sequenceId: id, value: picture }])
      assert.equal(collected, 2, 'put once, collected, put back')
      assert.deepEqual(await bytesOf((await latestValue(core, blobs, id))!.body), picture)
    })

    test('the retention job trims in the background until stopped', async () => {
      const id = await sequence({ dataType: text, maxHistory: 3 })
      await storeSequenceValues(
        core,
        blobs,
        Array.from({ length: 8 }, (_, i) => ({ sequenceId: id, value: `line ${i}`, timestamp: sec(i) })),
      )
      const stop = startRetentionJob(core, blobs, 20)
      try {
        for (let i = 0; i < 250 && (await revisionsOf(id)).length > 3; i++) await new Promise((r) => setTimeout(r, 20))
      } finally {
        await stop()
      }
      assert.deepEqual((await sequenceHistory(core.db, id)).values, ['line 5', 'line 6', 'line 7'])
    })
  })
}
