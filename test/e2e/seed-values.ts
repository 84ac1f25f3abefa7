// Many values for a sequence fast, straight into the database (one INSERT … SELECT over a generated
// series): the sequence explorer's tests and bench/ui.ts need a year of them. Values run from 15 to
// 25 except one spike; the text stored is what the numeric rules would store.
import type { Core } from '../../core/index.ts'
import { providerOf } from '../../core/resources/revisions.ts'

export interface SeededValues {
  start: number
  step: number
  count: number
  spikeIndex: number
  spikeValue: number
  /** the instant of value i */
  at: (i: number) => number
}

export async function seedValues(
  core: Core,
  sequenceId: number,
  options: { count: number; start: number; end: number; spikeIndex: number; spikeValue?: number },
): Promise<SeededValues> {
  const { count, start, spikeIndex } = options
  const spikeValue = options.spikeValue ?? 999.5
  const step = Math.floor((options.end - start) / count)
  if (providerOf(core.db) === 'sqlite') {
    await core.db.$executeRawUnsafe(
      `INSERT INTO "ResourceRevision" ("resourceId", "timestamp", "data", "size", "numericValue")
       WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ${count - 1})
       SELECT ${sequenceId}, strftime('%Y-%m-%dT%H:%M:%f', (${start} + i * ${step}) / 1000.0, 'unixepoch') || '+00:00', CAST(v AS BLOB), length(v), CAST(v AS REAL)
       FROM (SELECT i, CASE WHEN i = ${spikeIndex} THEN '${spikeValue}' ELSE printf('%.2f', 15 + ((i * 7919) % 1000) / 100.0) END AS v FROM n)`,
    )
  } else {
    await core.db.$executeRawUnsafe(
      `INSERT INTO "ResourceRevision" ("resourceId", "timestamp", "data", "size", "numericValue")
       SELECT ${sequenceId}, to_timestamp((${start}::bigint + i::bigint * ${step}) / 1000.0) AT TIME ZONE 'UTC', convert_to(v, 'UTF8'), octet_length(v), v::float8
       FROM (SELECT i, CASE WHEN i = ${spikeIndex} THEN '${spikeValue}' ELSE to_char(15 + ((i::bigint * 7919) % 1000) / 100.0, 'FM990.00') END AS v FROM generate_series(0, ${count - 1}) AS i) AS s`,
    )
    // as autovacuum leaves a table that has been filled over a year: statistics, and pages marked
    // all-visible, so index-only scans (the chart's buckets) need not visit the table
    await core.db.$executeRawUnsafe(`VACUUM ANALYZE "ResourceRevision"`)
  }
  return { start, step, count, spikeIndex, spikeValue, at: (i) => start + i * step }
}
