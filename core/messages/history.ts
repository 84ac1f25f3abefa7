// A bounded history of the messages sent to each folder (replacing rhizo's one-hour message table),
// readable through REST. Bounds: a count per folder and an age, enforced by a periodic trim.
import { Prisma, type DbClient } from '../db/index.ts'
import { inDirectSqliteTransaction } from '../db/sqlite-connection.ts'
import { invalid } from '../errors.ts'
import { decodeKept } from './codecs.ts'
import { logNotUnderstood } from './inbound.ts'
import type { Logger } from '../log.ts'
import { providerOf, sqlTimestamp } from '../resources/revisions.ts'
import type { HeldEntry, HistoryEntry, HistoryWriter } from './types.ts'

export const MAX_HISTORY_READ = 1000

/** Rows per INSERT: one JSON parameter each, well inside either database's limits. */
const INSERT_CHUNK = 1000

// SQLite, on the connection directly (sqlite-connection.ts), in one short transaction: prepared INSERTs
// of up to SQLITE_ROWS_PER_INSERT rows each. A row per INSERT cost ~1.5 µs more a row (better-sqlite3's
// call, SQLite's statement set-up, AUTOINCREMENT's bookkeeping): the folder path's CPU per message
// went from 5.3 to 3.8 µs (bench/ingest.ts).
const SQLITE_ROWS_PER_INSERT = 64 // 384 parameters, far inside SQLite's 32,766
const sqliteInserts: string[] = [] // the INSERT of n rows, at [n]
function sqliteInsert(rows: number): string {
  return (sqliteInserts[rows] ??=
    `INSERT INTO "Message" ("folderId", "type", "parameters", "timestamp", "senderControllerId", "senderUserId") VALUES ${Array(rows).fill('(?, ?, ?, ?, ?, ?)').join(', ')}`)
}

/**
 * The broker writes a history row for every relayed message to a folder, so this is on its hot path:
 * Prisma's createMany cost ~150 µs of CPU a row. On SQLite the rows go in through prepared statements
 * of many rows each on the connection itself when it is free; otherwise (and on PostgreSQL) as one
 * INSERT per chunk with the rows in a JSON parameter.
 */
export async function recordMessages(db: DbClient, entries: HistoryEntry[]): Promise<void> {
  if (entries.length === 0) return
  const provider = providerOf(db)
  // parameters go in as the text Prisma would store
  const row = (e: HistoryEntry) =>
    [
      e.folderId,
      e.type,
      JSON.stringify(e.parameters),
      sqlTimestamp(provider, e.timestamp),
      e.senderControllerId ?? null,
      e.senderUserId ?? null,
    ] as const
  if (provider === 'sqlite') {
    const direct = inDirectSqliteTransaction(db, (sqlite) => {
      for (let i = 0; i < entries.length; i += SQLITE_ROWS_PER_INSERT) {
        const end = Math.min(i + SQLITE_ROWS_PER_INSERT, entries.length)
        const values: unknown[] = []
        for (let j = i; j < end; j++) values.push(...row(entries[j]!))
        sqlite.statement(sqliteInsert(end - i)).run(values)
      }
    })
    if (direct) return
  }
  for (let i = 0; i < entries.length; i += INSERT_CHUNK) {
    const chunk = entries.slice(i, i + INSERT_CHUNK)
    if (provider === 'sqlite') {
      // rows as arrays: SQLite reads `value ->> 0` faster than a key lookup (~8 against ~12 µs a row)
      await db.$executeRaw`
        INSERT INTO "Message" ("folderId", "type", "parameters", "timestamp", "senderControllerId", "senderUserId")
        SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5
        FROM json_each(${JSON.stringify(chunk.map(row))}) ORDER BY key`
    } else {
      const json = JSON.stringify(chunk.map(row).map(([f, y, p, t, c, u]) => ({ f, y, p, t, c, u })))
      await db.$executeRaw`
        INSERT INTO "Message" ("folderId", "type", "parameters", "timestamp", "senderControllerId", "senderUserId")
        SELECT x.f, x.y, x.p::jsonb, x.t, x.c, x.u
        FROM ROWS FROM (json_to_recordset(${json}::json) AS (f int, y text, p text, t timestamp(3), c int, u int))
             WITH ORDINALITY AS x(f, y, p, t, c, u, o)
        ORDER BY x.o`
    }
  }
}

/** How long a message nobody waits for may be held before its row is written. */
export const HISTORY_HOLD_MS = 200

/**
 * Writes the history, holding back the rows of messages nobody waits for (MQTT QoS 0) for up to
 * HISTORY_HOLD_MS: a folder keeps only its newest `maxPerFolder` messages, so of what one folder
 * receives meanwhile only the newest `maxPerFolder` can survive the trim, and only those are written.
 * A folder flooded with messages then costs at most `maxPerFolder` rows per hold instead of one per
 * message (the insert was the largest part of the broker's work per message to a folder, and every
 * row is an SD card write). Whatever someone waits for (QoS 1 and 2, REST, the JSON websocket) is
 * written at once, after what is held for its folder, so rows keep their order. Reads through
 * folderMessages write what is held for the folder first; another instance sees held rows late, by
 * at most HISTORY_HOLD_MS. A crash loses what is held: QoS 0 is at most once.
 * `written` is told how many rows each write stored (/metrics).
 */
export function createHistoryWriter(
  db: DbClient,
  log: Logger,
  maxPerFolder: number,
  written: (rows: number) => void = () => {},
): HistoryWriter {
  const held = new Map<number, HeldEntry[]>() // per folder, oldest first
  let timer: NodeJS.Timeout | undefined
  let writing: Promise<void> = Promise.resolve() // writes run one after another, so rows keep their order
  let writes = 0 // under way or waiting their turn

  // A held payload of several messages counts as one, so more rows may be written than the trim keeps,
  // never fewer; one found to be bad JSON here leaves a row fewer than the bound would have kept.
  const take = (folderIds: Iterable<number>): HistoryEntry[] => {
    const out: HistoryEntry[] = []
    for (const folderId of folderIds) {
      const entries = held.get(folderId)
      if (!entries) continue
      held.delete(folderId)
      for (let i = Math.max(0, entries.length - maxPerFolder); i < entries.length; i++) expand(entries[i]!, out)
    }
    return out
  }
  const expand = (entry: HeldEntry, into: HistoryEntry[]) => {
    if (!('payload' in entry)) return void into.push(entry)
    try {
      for (const m of decodeKept(entry.payload)) {
        into.push({
          folderId: entry.folderId,
          type: m.type,
          parameters: m.parameters,
          timestamp: entry.timestamp,
          senderControllerId: entry.senderControllerId,
          senderUserId: entry.senderUserId,
        })
      }
    } catch (err) {
      logNotUnderstood(
        log,
        { folder: entry.folderPath, sender: entry.senderControllerId ?? entry.senderUserId },
        err as Error,
      )
    }
  }
  const write = (entries: HistoryEntry[]): Promise<void> => {
    if (entries.length === 0) return writing.catch(() => {}) // a read still waits for a write under way
    writes++
    const next = writing
      .catch(() => {}) // an earlier failure is its own callers'
      .then(() => recordMessages(db, entries))
      .then(() => written(entries.length))
      .finally(() => writes--)
    writing = next
    return next
  }
  const writeHeld = () => {
    if (timer) clearTimeout(timer)
    timer = undefined
    const entries = take([...held.keys()])
    return write(entries).catch((err: Error) =>
      log.error({ err, messages: entries.length }, 'storing the message history failed'),
    )
  }

  return {
    record(entries) {
      let urgent: Set<number> | undefined
      for (const entry of entries) {
        let folder = held.get(entry.folderId)
        if (!folder) held.set(entry.folderId, (folder = []))
        folder.push(entry)
        // trimmed in place now and then, not at every push
        if (folder.length >= 2 * maxPerFolder) folder.splice(0, folder.length - maxPerFolder)
        if (!entry.fireAndForget) (urgent ??= new Set()).add(entry.folderId)
      }
      if (held.size > 0 && !timer) timer = setTimeout(writeHeld, HISTORY_HOLD_MS).unref()
      return urgent ? write(take(urgent)) : Promise.resolve()
    },
    async flush(folderId) {
      if (folderId === undefined) await writeHeld()
      else await write(take([folderId]))
    },
    async close() {
      await writeHeld()
    },
    get idle() {
      return held.size === 0 && writes === 0
    },
    get held() {
      let n = 0
      for (const entries of held.values()) n += entries.length
      return n
    },
  }
}

/**
 * The newest `count` messages of a folder, oldest first, optionally of one type (writing what is held for it first).
 */
export async function folderMessages(
  ctx: { db: DbClient; history: HistoryWriter },
  folderId: number,
  options: { count?: number; type?: string } = {},
) {
  return (await folderMessagesWithin(ctx, folderId, options)).messages
}

/**
 * folderMessages within a byte budget (--history-response-limit): of the newest `count`, those whose
 * parameters, newest first, add up to at most maxBytes; truncated when older ones were left out.
 */
export async function folderMessagesWithin(
  ctx: { db: DbClient; history: HistoryWriter },
  folderId: number,
  options: { count?: number; type?: string; maxBytes?: number } = {},
) {
  const count = options.count ?? 100
  if (!Number.isInteger(count) || count < 1 || count > MAX_HISTORY_READ)
    throw invalid(`count must be a whole number from 1 to ${MAX_HISTORY_READ}`)
  await ctx.history.flush(folderId)
  const { db } = ctx
  const where = { folderId, ...(options.type ? { type: options.type } : {}) }
  let truncated = false
  if (options.maxBytes !== undefined) {
    const kept = await idsWithin(db, folderId, options.type, count, options.maxBytes)
    truncated = kept.truncated
    Object.assign(where, { id: { in: kept.ids } })
  }
  const rows = await db.message.findMany({ where, orderBy: [{ timestamp: 'desc' }, { id: 'desc' }], take: count })
  return { messages: rows.reverse(), truncated }
}

/**
 * The ids of the newest `count` messages whose parameters, newest first, fit in maxBytes: sizes summed in SQL, no row
 * built.
 */
async function idsWithin(db: DbClient, folderId: number, type: string | undefined, count: number, maxBytes: number) {
  const size =
    providerOf(db) === 'postgresql'
      ? Prisma.sql`octet_length("parameters"::text)`
      : Prisma.sql`length(CAST("parameters" AS BLOB))`
  const ofType = type ? Prisma.sql`AND "type" = ${type}` : Prisma.empty
  const rows = await db.$queryRaw<{ id: number | bigint; running: number | bigint }[]>`
    SELECT id, sum(size) OVER (ORDER BY "timestamp" DESC, id DESC ROWS UNBOUNDED PRECEDING) AS running
    FROM (SELECT id, "timestamp", ${size} AS size FROM "Message" WHERE "folderId" = ${folderId} ${ofType} ORDER BY "timestamp" DESC, id DESC LIMIT ${count}) AS newest`
  const ids = rows.filter((r) => Number(r.running) <= maxBytes).map((r) => Number(r.id))
  return { ids, truncated: ids.length < rows.length }
}

export interface HistoryBounds {
  maxPerFolder: number
  maxAgeMs: number
}

/** Deletes messages past the age bound and, per folder, beyond the newest maxPerFolder. */
export async function trimHistory(db: DbClient, bounds: HistoryBounds, now = new Date()): Promise<number> {
  const old = await db.message.deleteMany({ where: { timestamp: { lt: new Date(now.getTime() - bounds.maxAgeMs) } } })
  let deleted = old.count
  const crowded = await db.message.groupBy({
    by: ['folderId'],
    _count: { _all: true },
    having: { folderId: { _count: { gt: bounds.maxPerFolder } } },
  })
  for (const { folderId } of crowded) {
    const boundary = await db.message.findMany({
      where: { folderId },
      orderBy: [{ timestamp: 'desc' }, { id: 'desc' }],
      skip: bounds.maxPerFolder,
      take: 1,
    })
    const first = boundary[0]
    if (!first) continue
    const result = await db.message.deleteMany({
      where: {
        folderId,
        OR: [{ timestamp: { lt: first.timestamp } }, { timestamp: first.timestamp, id: { lte: first.id } }],
      },
    })
    deleted += result.count
  }
  return deleted
}
