// Downsampling a numeric sequence for charts: count, min, mean and max per slice of time, in SQL.
import { Prisma, type DbClient } from '../db/index.ts'
import { invalid } from '../errors.ts'
import { providerOf, sqlTimestamp, type Provider } from './revisions.ts'
import { checkRange, liveSequenceRules } from './sequence-history.ts'
import { SequenceDataType } from './types.ts'

export const MAX_BUCKETS = 10_000

export interface Bucket {
  start: Date
  count: number
  /** null when the bucket holds no values */
  min: number | null
  mean: number | null
  max: number | null
  /** values in the bucket that are not numbers (text stored before the sequence was numeric); only when some are */
  notNumeric?: number
}

/** count, min, mean, max of one non-empty bucket, and how many of its values are not numbers */
type BucketStats = [number, number, number, number, number]

/**
 * A numeric sequence's values in [start, end] cut into `buckets` equal slices of time, each with
 * count, min, mean and max, aggregated in SQL. Every bucket is listed, empty ones with count 0.
 * Bucket i holds the values whose offset d (ms from start) has floor(d × buckets / span) = i, in exact
 * integer arithmetic; a value at `end` belongs to the last bucket.
 */
export async function downsampleHistory(
  db: DbClient,
  sequenceId: number,
  options: { start: Date; end: Date; buckets: number },
): Promise<Bucket[]> {
  const { start, end, buckets } = options
  if (!Number.isInteger(buckets) || buckets < 1 || buckets > MAX_BUCKETS)
    throw invalid(`buckets must be a whole number from 1 to ${MAX_BUCKETS}`)
  checkRange(start, end, true)
  if (start.getTime() >= end.getTime()) throw invalid('start must be before end')
  const rules = await liveSequenceRules(db, sequenceId)
  if (rules.dataType !== SequenceDataType.numeric) throw invalid('only a numeric sequence can be downsampled')
  const bounds = bucketBounds(start, end, buckets)
  const rows = await db.$queryRaw<{ bucket: number | bigint; stats: string }[]>(
    bucketQuery(providerOf(db), sequenceId, bounds),
  )
  const byIndex = new Map(rows.map((r) => [Number(r.bucket), JSON.parse(r.stats) as BucketStats]))
  return bounds.map(([i, lo]) => {
    const stats = byIndex.get(i)
    const other = stats?.[4] ? { notNumeric: stats[4] } : {}
    if (!stats || stats[0] === 0) return { start: lo, count: 0, min: null, mean: null, max: null, ...other }
    return { start: lo, count: stats[0], min: stats[1], mean: stats[2], max: stats[3], ...other }
  })
}

/**
 * [index, from (inclusive), to (exclusive)] per bucket. Bucket i starts at the first whole millisecond
 * d (from start) with floor(d × buckets / span) = i, computed in BigInt because i × span passes 2^53;
 * the last bucket ends 1 ms after `end`, so a value at `end` is in it.
 */
export function bucketBounds(start: Date, end: Date, buckets: number): [number, Date, Date][] {
  const span = BigInt(end.getTime() - start.getTime())
  const n = BigInt(buckets)
  const offset = (i: number) => Number((BigInt(i) * span + n - 1n) / n)
  return Array.from({ length: buckets }, (_, i) => [
    i,
    new Date(start.getTime() + offset(i)),
    new Date(i === buckets - 1 ? end.getTime() + 1 : start.getTime() + offset(i + 1)),
  ])
}

/**
 * One index range scan per bucket, aggregated in SQL: the bucket table (a JSON parameter) drives a
 * correlated aggregate per bucket (SQLite) or a LATERAL one (PostgreSQL), each returning its stats as
 * one JSON value (SQLite and PostgreSQL both print doubles so that they read back exactly). This is
 * about twice as fast as deriving a bucket number from every row's timestamp and grouping by it,
 * which makes SQLite sort all the rows. SQLite compares the ISO text it keeps (sqlTimestamp), which
 * sorts in time order. The (resourceId, timestamp, numericValue) index covers it: no table reads.
 */
export function bucketQuery(provider: Provider, sequenceId: number, bounds: [number, Date, Date][]): Prisma.Sql {
  const json = JSON.stringify(
    bounds.map(([i, lo, hi]) => ({ i, lo: sqlTimestamp(provider, lo), hi: sqlTimestamp(provider, hi) })),
  )
  if (provider === 'sqlite') {
    return Prisma.sql`
      SELECT b.value ->> 'i' AS bucket, (
        SELECT json_array(count(r."numericValue"), min(r."numericValue"), avg(r."numericValue"), max(r."numericValue"), count(*) - count(r."numericValue"))
        FROM "ResourceRevision" AS r
        WHERE r."resourceId" = ${sequenceId} AND r."timestamp" >= b.value ->> 'lo' AND r."timestamp" < b.value ->> 'hi'
      ) AS stats
      FROM json_each(${json}) AS b`
  }
  return Prisma.sql`
    SELECT b.i AS bucket, json_build_array(x.n, x.lo, x.mean, x.hi, x.other)::text AS stats
    FROM json_to_recordset(${json}::json) AS b(i int, lo timestamp(3), hi timestamp(3))
    CROSS JOIN LATERAL (
      SELECT count("numericValue") AS n, min("numericValue") AS lo, avg("numericValue") AS mean, max("numericValue") AS hi, count(*) - count("numericValue") AS other
      FROM "ResourceRevision"
      WHERE "resourceId" = ${sequenceId} AND "timestamp" >= b.lo AND "timestamp" < b.hi
    ) AS x
    WHERE x.n > 0 OR x.other > 0`
}
