// A sequence's whole history (or the latest `count` values of a range) read page by page in time
// order, for CSV downloads of any length: each page is one indexed range query from where the last
// one stopped (keyset on (timestamp, id)), so memory stays bounded however long the history is.
import type { BlobStore } from '../blobs/index.ts'
import { invalid } from '../errors.ts'
import { Prisma, type DbClient } from '../db/index.ts'
import { providerOf, readRevisionBytes } from './revisions.ts'
import { liveSequenceRules, type History } from './sequences.ts'
import { SequenceDataType } from './types.ts'

export interface PageOptions {
  start?: Date
  end?: Date
  /** only the latest `count` values of the range */
  count?: number
  pageSize?: number
  /** a page also ends once its values reach this many stored bytes (after at least one value) */
  pageBytes?: number
}

/** [ms since the epoch, value text or null when in the blob store, blobHash, size, id] */
type PageRow = [number, string | null, string | null, number, number]

export async function* historyPages(
  db: DbClient,
  blobs: BlobStore,
  sequenceId: number,
  options: PageOptions = {},
): AsyncGenerator<History> {
  const pageSize = options.pageSize ?? 5000
  const pageBytes = options.pageBytes ?? 4 << 20
  if (options.count !== undefined && (!Number.isSafeInteger(options.count) || options.count < 1))
    throw invalid('count must be a whole number from 1')
  const rules = await liveSequenceRules(db, sequenceId)
  if (rules.dataType === SequenceDataType.image)
    throw invalid('an image sequence has no value history; read its revisions one at a time')
  const range = { gte: options.start, lte: options.end }
  // with a count, start at the count-th newest value of the range
  let after: { timestamp: Date; id: number; inclusive: boolean } | null = null
  if (options.count !== undefined) {
    const first = await db.resourceRevision.findFirst({
      where: { resourceId: sequenceId, timestamp: range },
      orderBy: [{ timestamp: 'desc' }, { id: 'desc' }],
      skip: options.count - 1,
      select: { id: true, timestamp: true },
    })
    if (first) after = { ...first, inclusive: true }
  }
  for (;;) {
    const rows = await page(db, sequenceId, options, after, pageSize, pageBytes)
    if (rows.length === 0) return
    const timestamps: Date[] = []
    const values: string[] = []
    for (const [ms, value, blobHash, size] of rows) {
      timestamps.push(new Date(ms))
      values.push(value ?? (await readRevisionBytes(blobs, { data: null, blobHash, size })).toString('utf8'))
    }
    yield { timestamps, values }
    const last = rows.at(-1)!
    after = { timestamp: new Date(last[0]), id: last[4], inclusive: false }
  }
}

async function page(
  db: DbClient,
  sequenceId: number,
  options: PageOptions,
  after: { timestamp: Date; id: number; inclusive: boolean } | null,
  size: number,
  bytes: number,
): Promise<PageRow[]> {
  const from = options.start ? Prisma.sql`AND "timestamp" >= ${options.start}` : Prisma.empty
  const to = options.end ? Prisma.sql`AND "timestamp" <= ${options.end}` : Prisma.empty
  const idOp = after?.inclusive ? Prisma.sql`>=` : Prisma.sql`>`
  const keyset = after
    ? Prisma.sql`AND ("timestamp" > ${after.timestamp} OR ("timestamp" = ${after.timestamp} AND id ${idOp} ${after.id}))`
    : Prisma.empty
  const where = Prisma.sql`"resourceId" = ${sequenceId} ${from} ${to} ${keyset}`
  // the values before this one hold less than `bytes`: a page of large text values stays small
  const withinBytes = Prisma.sql`WHERE running - size < ${bytes}`
  const running = Prisma.sql`sum(size) OVER (ORDER BY "timestamp", id ROWS UNBOUNDED PRECEDING) AS running`
  if (providerOf(db) === 'sqlite') {
    const [result] = await db.$queryRaw<{ rows: string | null }[]>`
      SELECT json_group_array(json_array(ms, CAST("data" AS TEXT), "blobHash", size, id) ORDER BY "timestamp", id) AS rows
      FROM (SELECT *, ${running} FROM (SELECT id, "timestamp", CAST(round(unixepoch("timestamp", 'subsec') * 1000) AS INTEGER) AS ms, "data", "blobHash", size
            FROM "ResourceRevision" WHERE ${where} ORDER BY "timestamp", id LIMIT ${size}) AS n) AS p ${withinBytes}`
    return result?.rows ? (JSON.parse(result.rows) as PageRow[]) : []
  }
  const [result] = await db.$queryRaw<{ rows: string | null }[]>`
    SELECT json_agg(json_build_array(round(date_part('epoch', "timestamp") * 1000)::bigint, convert_from("data", 'UTF8'), "blobHash", size, id) ORDER BY "timestamp", id)::text AS rows
    FROM (SELECT *, ${running} FROM (SELECT id, "timestamp", "data", "blobHash", size FROM "ResourceRevision" WHERE ${where} ORDER BY "timestamp", id LIMIT ${size}) AS n) AS p ${withinBytes}`
  return result?.rows ? (JSON.parse(result.rows) as PageRow[]) : []
}

/** The first and last timestamps of a sequence's values (null when it has none). */
export async function sequenceTimeRange(db: DbClient, sequenceId: number): Promise<{ first: Date; last: Date } | null> {
  const pick = (direction: 'asc' | 'desc') =>
    db.resourceRevision.findFirst({
      where: { resourceId: sequenceId },
      orderBy: [{ timestamp: direction }],
      select: { timestamp: true },
    })
  const [first, last] = await Promise.all([pick('asc'), pick('desc')])
  return first && last ? { first: first.timestamp, last: last.timestamp } : null
}

/** The newest `count` revisions of a sequence within [start, end] as {id, timestamp, size}, oldest first: an image sequence's values, listed without their bytes. */
export async function sequenceRevisions(
  db: DbClient,
  sequenceId: number,
  options: { count: number; start?: Date; end?: Date },
) {
  const rows = await db.resourceRevision.findMany({
    where: { resourceId: sequenceId, timestamp: { gte: options.start, lte: options.end } },
    orderBy: [{ timestamp: 'desc' }, { id: 'desc' }],
    take: options.count,
    select: { id: true, timestamp: true, size: true },
  })
  return rows.reverse().map((r) => ({ id: r.id, timestamp: r.timestamp.toISOString(), size: r.size }))
}
