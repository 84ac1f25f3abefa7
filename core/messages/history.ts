// A bounded history of the messages sent to each folder (replacing rhizo's one-hour message table),
// readable through REST. Bounds: a count per folder and an age, enforced by a periodic trim.
import type { DbClient } from '../db/index.ts'
import { inDirectSqliteTransaction } from '../db/sqlite-connection.ts'
import { invalid } from '../errors.ts'
import { providerOf, sqlTimestamp } from '../resources/revisions.ts'

export interface HistoryEntry {
  folderId: number
  type: string
  parameters: Record<string, unknown>
  timestamp: Date
  senderControllerId?: number | null
  senderUserId?: number | null
}

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
  return (sqliteInserts[rows] ??= `INSERT INTO "Message" ("folderId", "type", "parameters", "timestamp", "senderControllerId", "senderUserId") VALUES ${Array(rows).fill('(?, ?, ?, ?, ?, ?)').join(', ')}`)
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
  const row = (e: HistoryEntry) => [e.folderId, e.type, JSON.stringify(e.parameters), sqlTimestamp(provider, e.timestamp), e.senderControllerId ?? null, e.senderUserId ?? null] as const
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

/** The newest `count` messages of a folder, oldest first, optionally of one type. */
export async function folderMessages(db: DbClient, folderId: number, options: { count?: number; type?: string } = {}) {
  const count = options.count ?? 100
  if (!Number.isInteger(count) || count < 1 || count > MAX_HISTORY_READ) throw invalid(`count must be a whole number from 1 to ${MAX_HISTORY_READ}`)
  const rows = await db.message.findMany({
    where: { folderId, ...(options.type ? { type: options.type } : {}) },
    orderBy: [{ timestamp: 'desc' }, { id: 'desc' }],
    take: count,
  })
  return rows.reverse()
}

export interface HistoryBounds {
  maxPerFolder: number
  maxAgeMs: number
}

/** Deletes messages past the age bound and, per folder, beyond the newest maxPerFolder. */
export async function trimHistory(db: DbClient, bounds: HistoryBounds, now = new Date()): Promise<number> {
  const old = await db.message.deleteMany({ where: { timestamp: { lt: new Date(now.getTime() - bounds.maxAgeMs) } } })
  let deleted = old.count
  const crowded = await db.message.groupBy({ by: ['folderId'], _count: { _all: true }, having: { folderId: { _count: { gt: bounds.maxPerFolder } } } })
  for (const { folderId } of crowded) {
    const boundary = await db.message.findMany({ where: { folderId }, orderBy: [{ timestamp: 'desc' }, { id: 'desc' }], skip: bounds.maxPerFolder, take: 1 })
    const first = boundary[0]
    if (!first) continue
    const result = await db.message.deleteMany({ where: { folderId, OR: [{ timestamp: { lt: first.timestamp } }, { timestamp: first.timestamp, id: { lte: first.id } }] } })
    deleted += result.count
  }
  return deleted
}
