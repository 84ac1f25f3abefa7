// Reading a sequence's values: the latest `count` of a range in one query (REST, the web UI's
// charts), and the whole history page by page in time order for CSV downloads of any length: each
// page is one indexed range query from where the last one stopped (keyset on (timestamp, id)), so
// memory stays bounded however long the history is.
import type { BlobStore } from '../blobs/index.ts'
import { Prisma, type Db, type DbClient } from '../db/index.ts'
import { readDirectSqlite } from '../db/sqlite-connection.ts'
import { invalid } from '../errors.ts'
import { providerOf, readRevisionBytes, sqlTimestamp, type Provider, type RevisionContent } from './revisions.ts'
import { sequenceNotFound } from './sequence-store/rules.ts'
import { sequenceRules, type SequenceRules } from './sequence-values.ts'
import { ResourceType, SequenceDataType } from './types.ts'

export const MAX_HISTORY_VALUES = 100_000

export interface HistoryOptions {
  /** the latest `count` values within the range (default and maximum MAX_HISTORY_VALUES) */
  count?: number
  /** inclusive bounds, as rhizo's start_timestamp/end_timestamp */
  start?: Date
  end?: Date
  /** needed only when a text value was large enough to go to the blob store */
  blobs?: BlobStore
  /**
   * the newest values whose stored bytes add up to at most this (--history-response-limit); the older ones are left out
   */
  maxBytes?: number
}

export interface History {
  timestamps: Date[]
  values: string[]
}

/** History with its timestamps as ISO 8601 UTC text, as REST sends them (10,000 Dates cost more than the query). */
export interface HistoryText {
  timestamps: string[]
  values: string[]
  /** set when older values of the count were left out to stay within maxBytes */
  truncated?: true
}

/** Values of a numeric or text sequence, oldest first: the latest `count` within [start, end]. */
export async function sequenceHistory(
  db: DbClient,
  sequenceId: number,
  options: HistoryOptions = {},
): Promise<History> {
  const { timestamps, values } = await sequenceHistoryText(db, sequenceId, options)
  return { timestamps: timestamps.map((t) => new Date(t)), values }
}

/** sequenceHistory with ISO 8601 timestamps ("2023-01-01T00:00:00.000Z"). */
export async function sequenceHistoryText(
  db: DbClient,
  sequenceId: number,
  options: HistoryOptions = {},
): Promise<HistoryText> {
  const count = options.count ?? MAX_HISTORY_VALUES
  if (!Number.isInteger(count) || count < 1 || count > MAX_HISTORY_VALUES)
    throw invalid(`count must be a whole number from 1 to ${MAX_HISTORY_VALUES}`)
  checkRange(options.start, options.end, false)
  const rules = await liveSequenceRules(db, sequenceId)
  if (rules.dataType === SequenceDataType.image)
    throw invalid('an image sequence has no value history; read its revisions one at a time')
  const range = {
    sequenceId,
    count,
    start: options.start,
    end: options.end,
    maxBytes: options.maxBytes ?? Number.MAX_SAFE_INTEGER,
  }
  const latest = await latestInline(db, range)
  if (!('inBlobStore' in latest)) return latest
  // some value is in the blob store: row by row
  const timestamps: string[] = []
  const values: string[] = []
  for (const { timestamp, value, blobHash, size } of (await latestRows(db, range)).reverse()) {
    timestamps.push(isoTimestamp(timestamp))
    values.push(
      value ?? (await readLarge(options.blobs, { data: null, blobHash, size: Number(size) })).toString('utf8'),
    )
  }
  return latest.truncated ? { timestamps, values, truncated: true } : { timestamps, values }
}

interface HistoryRange {
  sequenceId: number
  count: number
  start?: Date
  end?: Date
  /** values are kept newest first while their bytes add up to at most this */
  maxBytes: number
}

/**
 * The latest `count` values in time order, read newest first through the (resourceId, timestamp)
 * index and handed over as two aggregates: the timestamps joined by commas (SQLite's stored text, PostgreSQL's ISO
 * DateStyle, which node-postgres needs anyway) and a JSON array of the values. Row by row, Prisma's
 * (or better-sqlite3's) per-row objects cost more than the database does for 10,000 rows, and so
 * does building JSON per row in SQL. No ORDER BY inside the aggregates: they consume the LIMITed,
 * ordered subquery in its order, and sorting again doubled the cost. inBlobStore when some value
 * within the byte budget is in the blob store.
 */
async function latestInline(
  db: DbClient,
  range: HistoryRange,
): Promise<HistoryText | { inBlobStore: true; truncated: boolean }> {
  type Aggregates = {
    timestamps: string | null
    values: string | null
    large: number | bigint
    dropped: number | bigint
  }
  const provider = providerOf(db)
  const latest = latestSubquery(provider, range)
  // the rows over the byte budget are never aggregated: the database does not build them into the answer
  const kept = Prisma.sql`FILTER (WHERE running <= ${range.maxBytes})`
  let result: Aggregates | undefined
  if (provider === 'postgresql') {
    result = (
      await postgresLatest<Aggregates>(
        db,
        Prisma.sql`
      SELECT string_agg("timestamp"::text, ',') ${kept} AS timestamps, json_agg(convert_from("data", 'UTF8')) ${kept}::text AS "values",
        count("blobHash") ${kept} AS large, count(*) FILTER (WHERE running > ${range.maxBytes}) AS dropped
      FROM (${latest}) AS latest`,
      )
    )[0]
  } else {
    const query = Prisma.sql`
      SELECT group_concat("timestamp", ',') ${kept} AS timestamps, json_group_array(CAST("data" AS TEXT)) ${kept} AS "values",
        count("blobHash") ${kept} AS large, count(*) FILTER (WHERE running > ${range.maxBytes}) AS dropped
      FROM (${latest}) AS latest`
    const direct = readDirectSqlite(
      db,
      ({ statement }) => statement(query.sql).get(...query.values) as Aggregates | undefined,
    )
    result = direct ? direct.result : (await db.$queryRaw<Aggregates[]>(query))[0]
  }
  const truncated = Number(result?.dropped ?? 0) > 0
  const marked = truncated ? { truncated: true as const } : {}
  // no values in the range (or within the budget)
  if (!result?.timestamps) return { timestamps: [], values: [], ...marked }
  if (Number(result.large) > 0) return { inBlobStore: true, truncated }
  const timestamps = result.timestamps.split(',').reverse()
  for (let i = 0; i < timestamps.length; i++) timestamps[i] = isoTimestamp(timestamps[i]!)
  return { timestamps, values: (JSON.parse(result.values!) as string[]).reverse(), ...marked }
}

/**
 * The rows of latestInline within the byte budget with their blob references, newest first (timestamps as text, as
 * there: a column Prisma knows as a DateTime would come back as a Date).
 */
async function latestRows(db: DbClient, range: HistoryRange): Promise<HistoryRow[]> {
  const provider = providerOf(db)
  const query = Prisma.sql`
    SELECT ${provider === 'postgresql' ? Prisma.sql`"timestamp"::text AS "timestamp", convert_from("data", 'UTF8')` : Prisma.sql`CAST("timestamp" AS TEXT) AS "timestamp", CAST("data" AS TEXT)`} AS value, "blobHash", size
    FROM (${latestSubquery(provider, range)}) AS latest WHERE running <= ${range.maxBytes} ORDER BY "timestamp" DESC, id DESC`
  return provider === 'postgresql' ? postgresLatest<HistoryRow>(db, query) : db.$queryRaw<HistoryRow[]>(query)
}

function latestSubquery(provider: Provider, { sequenceId, count, start, end }: HistoryRange): Prisma.Sql {
  const from = start
    ? Prisma.sql`AND "timestamp" >= ${provider === 'sqlite' ? sqlTimestamp(provider, start) : start}`
    : Prisma.empty
  const to = end
    ? Prisma.sql`AND "timestamp" <= ${provider === 'sqlite' ? sqlTimestamp(provider, end) : end}`
    : Prisma.empty
  // running: the bytes of this value and every newer one, which the byte budget is held to
  return Prisma.sql`SELECT id, "timestamp", "data", "blobHash", size, sum(size) OVER (ORDER BY "timestamp" DESC, id DESC ROWS UNBOUNDED PRECEDING) AS running
    FROM (SELECT id, "timestamp", "data", "blobHash", size FROM "ResourceRevision" WHERE "resourceId" = ${sequenceId} ${from} ${to}
    ORDER BY "timestamp" DESC, id DESC LIMIT ${count}) AS newest`
}

interface HistoryRow {
  /** as the database prints it (isoTimestamp) */
  timestamp: string
  /** null when the value is in the blob store */
  value: string | null
  blobHash: string | null
  size: number | bigint
}

/**
 * "2023-01-01T00:00:00.000Z" from SQLite's stored text ("2023-01-01T00:00:00.000+00:00", see
 * sqlTimestamp) or PostgreSQL's ISO DateStyle ("2023-01-01 00:00:00", fraction only when nonzero).
 */
function isoTimestamp(stored: string): string {
  if (stored.length === 29 && stored.endsWith('+00:00')) return stored.slice(0, 23) + 'Z'
  if (stored.length === 19 && stored[10] === ' ') return stored.slice(0, 10) + 'T' + stored.slice(11) + '.000Z'
  if (stored.length > 20 && stored.length <= 26 && stored[10] === ' ' && stored[19] === '.') {
    return stored.slice(0, 10) + 'T' + stored.slice(11, 20) + (stored.slice(20) + '00').slice(0, 3) + 'Z'
  }
  return new Date(stored).toISOString()
}

/**
 * PostgreSQL plans from statistics: while they undercount a sequence (before autoanalyze catches up
 * with fast growth, or for a large sequence outside the most-common-values list) it picks a bitmap
 * scan of ALL the sequence's rows plus a sort, 2-3x slower than walking the index backwards and
 * stopping after `count` (measured 62 ms vs 25 ms for 10,000 of 100,000). The scan methods that
 * ignore the index order are switched off for this one statement's transaction.
 */
async function postgresLatest<T>(db: DbClient, query: Prisma.Sql): Promise<T[]> {
  // inside a caller's transaction the settings would outlive this query: plan as PostgreSQL likes;
  // else one batch transaction (cheaper than an interactive one: no round trips between its statements)
  if (!isClient(db)) return db.$queryRaw<T[]>(query)
  const [, rows] = await db.$transaction([
    db.$queryRawUnsafe(
      `SELECT set_config('enable_bitmapscan', 'off', true), set_config('enable_seqscan', 'off', true)`,
    ),
    db.$queryRaw<T[]>(query),
  ])
  return rows
}

const isClient = (db: DbClient): db is Db => '$transaction' in db

async function readLarge(blobs: BlobStore | undefined, row: RevisionContent): Promise<Buffer> {
  if (!blobs) throw new Error('sequenceHistory: a value is in the blob store; pass options.blobs')
  return readRevisionBytes(blobs, row)
}

export async function liveSequenceRules(db: DbClient, sequenceId: number): Promise<SequenceRules> {
  const sequence = await db.resource.findUnique({
    where: { id: sequenceId },
    select: { type: true, deleted: true, systemAttributes: true },
  })
  if (!sequence || sequence.deleted || sequence.type !== ResourceType.sequence) throw sequenceNotFound(sequenceId)
  return sequenceRules(sequence.systemAttributes)
}

export function checkRange(start: Date | undefined, end: Date | undefined, required: boolean): void {
  for (const [name, d] of [
    ['start', start],
    ['end', end],
  ] as const) {
    if (d === undefined) {
      if (required) throw invalid(`${name} is required`)
      continue
    }
    if (!(d instanceof Date) || Number.isNaN(d.getTime())) throw invalid(`${name} must be a valid date`)
  }
  if (start && end && start > end) throw invalid('start must not be after end')
}

// ---- pages, for downloads ----

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

/**
 * The newest `count` revisions of a sequence within [start, end] as {id, timestamp, size}, oldest first: an image
 * sequence's values, listed without their bytes.
 */
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
