// A bounded history of the messages sent to each folder (replacing rhizo's one-hour message table),
// readable through REST. Bounds: a count per folder and an age, enforced by a periodic trim.
import type { DbClient } from '../db/index.ts'
import { invalid } from '../errors.ts'

export interface HistoryEntry {
  folderId: number
  type: string
  parameters: Record<string, unknown>
  timestamp: Date
  senderControllerId?: number | null
  senderUserId?: number | null
}

export const MAX_HISTORY_READ = 1000

export async function recordMessages(db: DbClient, entries: HistoryEntry[]): Promise<void> {
  if (entries.length === 0) return
  await db.message.createMany({
    data: entries.map((e) => ({
      folderId: e.folderId,
      type: e.type,
      parameters: e.parameters as object,
      timestamp: e.timestamp,
      senderControllerId: e.senderControllerId ?? null,
      senderUserId: e.senderUserId ?? null,
    })),
  })
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
