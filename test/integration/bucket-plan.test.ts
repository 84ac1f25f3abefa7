// A chart's buckets (?buckets=N) read every value of the range; the (resourceId, timestamp,
// numericValue) index lets both databases do it from the index alone, without a table read per
// value (bench/README.md has the figures). The plan is checked here; the speed in bench/ui-sequence.ts.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createController, createOrg } from '../../core/admin.ts'
import { providerOf } from '../../core/resources/revisions.ts'
import { bucketBounds, bucketQuery, downsampleHistory } from '../../core/resources/sequence-downsample.ts'
import { createSequence, findPath } from '../../core/resources/tree.ts'
import { SequenceDataType } from '../../core/resources/types.ts'
import { seedValues } from '../e2e/seed-values.ts'
import { openTestCore, providers, type TestCore } from '../helpers/core.ts'

const DAY = 86400_000

for (const provider of providers) {
  describe(`bucket query plan on ${provider}`, () => {
    let core: TestCore
    let sequenceId: number
    const end = Date.UTC(2026, 11, 1)
    const start = end - 30 * DAY

    before(async () => {
      core = await openTestCore(provider)
      await createOrg(core, 'acme')
      await createController(core, '/acme/lab/pi')
      const folder = (await findPath(core.db, '/acme/lab/pi'))!.at(-1)!
      sequenceId = (await createSequence(core.db, folder, 'temp', { dataType: SequenceDataType.numeric })).id
      // as many values as make PostgreSQL prefer an index to a bitmap of the table (it did at 1,000,000)
      await seedValues(core, sequenceId, { count: 300_000, start, end, spikeIndex: 150_000 })
    })
    after(async () => {
      await core?.cleanup()
    })

    test('the buckets of a range are read from the index alone, and are right', async () => {
      const query = bucketQuery(providerOf(core.db), sequenceId, bucketBounds(new Date(start), new Date(end), 300))
      const plan =
        provider === 'sqlite'
          ? (await core.db.$queryRawUnsafe<{ detail: string }[]>(`EXPLAIN QUERY PLAN ${query.sql}`, ...query.values))
              .map((r) => r.detail)
              .join('\n')
          : (await core.db.$queryRawUnsafe<{ 'QUERY PLAN': string }[]>(`EXPLAIN ${query.text}`, ...query.values))
              .map((r) => r['QUERY PLAN'])
              .join('\n')
      if (provider === 'sqlite')
        assert.match(plan, /USING COVERING INDEX "?ResourceRevision_resourceId_timestamp_numericValue_idx/, plan)
      else assert.match(plan, /Index Only Scan using "?ResourceRevision_resourceId_timestamp_numericValue_idx/, plan)
      const buckets = await downsampleHistory(core.db, sequenceId, {
        start: new Date(start),
        end: new Date(end),
        buckets: 300,
      })
      assert.equal(
        buckets.reduce((n, b) => n + b.count, 0),
        300_000,
      )
      assert.equal(Math.max(...buckets.map((b) => b.max ?? 0)), 999.5)
    })
  })
}
