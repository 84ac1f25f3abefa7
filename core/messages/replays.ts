// Exactly once for the controllers SDK's queue: each value it sends names its queue (producer) and
// entry id (codecs.ts EntryMark), and a ReplayMark row per sender and producer says which ids are
// stored, so an entry sent again (a lost PUBACK, a restart, another instance) is stored once.
// The marks are read (locked) and written inside the transaction that stores the values
// (core/resources/sequence-store/), so a crash or a racing instance cannot store an entry twice.
// Values without an entry (rhizo's) cost nothing: no statement runs for them.
import { Prisma } from '../db/index.ts'
import { providerOf, sqlTimestamp, type Provider } from '../resources/revisions.ts'
import type { DirectSqlite } from '../db/sqlite-connection.ts'
import type { EntryMark } from './codecs.ts'

/** Ranges of stored ids above `through` kept at most: a client has a few publishes in flight at once. */
const MAX_RANGES = 64

/** Ids up to `through` are stored (or never sent again); above it, the ids in `ranges` ([first, last]). */
export interface Mark {
  through: number
  ranges: [number, number][]
}

/** The SDK queue entry a value is, with its sender (principalKey): what the marks are kept by. */
export interface ValueEntry extends EntryMark {
  sender: string
}

interface Producer {
  sender: string
  producer: string
  mark: Mark
  /** ids seen in this batch, and the highest floor */
  ids: Set<number>
  floor: number
}

type Marked = { entry?: ValueEntry }

/** A batch's entries without its replays; record() writes the marks, in the same transaction. */
export interface Replays<T> {
  fresh: T[]
  record(): void | Promise<void>
}

export const hasEntries = (inputs: Marked[]) => inputs.some((i) => i.entry)

/** Inside a Prisma transaction: locks and reads the marks of the batch's producers, drops the replays. */
export async function dropReplays<T extends Marked>(tx: Prisma.TransactionClient, inputs: T[]): Promise<Replays<T>> {
  const provider = providerOf(tx)
  const producers = producersOf(inputs)
  readMarks(producers, await tx.$queryRaw<MarkRow[]>(lockStatement(provider, producers)))
  return {
    fresh: withoutReplayed(inputs, producers),
    record: async () => void (await tx.$executeRaw(writeStatement(provider, producers))),
  }
}

/** dropReplays on SQLite's connection, inside its BEGIN IMMEDIATE (sequence-store/sqlite.ts storeInlineDirect). */
export function dropReplaysDirect<T extends Marked>(sqlite: DirectSqlite, inputs: T[]): Replays<T> {
  const producers = producersOf(inputs)
  const lock = lockStatement('sqlite', producers)
  readMarks(producers, sqlite.statement(lock.sql).all(...lock.values) as MarkRow[])
  return {
    fresh: withoutReplayed(inputs, producers),
    record: () => {
      const write = writeStatement('sqlite', producers)
      sqlite.statement(write.sql).run(...write.values)
    },
  }
}

interface MarkRow {
  sender: string
  producer: string
  through: number | bigint
  ranges: string
}

/** One Producer per sender and producer of the batch, in a fixed order (PostgreSQL locks rows in it). */
function producersOf(inputs: Marked[]): Producer[] {
  const producers = new Map<string, Producer>()
  for (const { entry } of inputs) {
    if (!entry) continue
    const key = `${entry.sender}|${entry.producer}`
    if (!producers.has(key))
      producers.set(key, {
        sender: entry.sender,
        producer: entry.producer,
        mark: { through: 0, ranges: [] },
        ids: new Set(),
        floor: 0,
      })
  }
  return [...producers.values()].sort((a, b) =>
    a.sender < b.sender ? -1 : a.sender > b.sender ? 1 : a.producer < b.producer ? -1 : a.producer > b.producer ? 1 : 0,
  )
}

const keyOf = (p: { sender: string; producer: string }) => `${p.sender}|${p.producer}`

/**
 * Creates the missing marks and locks them all, returning each as it is now: an upsert that changes
 * nothing takes the row lock (PostgreSQL; SQLite's write lock is held already) and answers the row
 * as the last transaction that held it committed it, so a racing instance waits here and then sees its ids.
 */
function lockStatement(provider: Provider, producers: Producer[]): Prisma.Sql {
  const at = timestamp(provider)
  const rows = producers.map((p) => Prisma.sql`(${p.sender}, ${p.producer}, 0, '[]', ${at})`)
  return Prisma.sql`
    INSERT INTO "ReplayMark" ("sender", "producer", "through", "ranges", "updatedAt") VALUES ${Prisma.join(rows)}
    ON CONFLICT ("sender", "producer") DO UPDATE SET "through" = "ReplayMark"."through"
    RETURNING "sender", "producer", "through", "ranges"`
}

function readMarks(producers: Producer[], rows: MarkRow[]): void {
  const byKey = new Map(producers.map((p) => [keyOf(p), p]))
  for (const row of rows)
    byKey.get(keyOf(row))!.mark = { through: Number(row.through), ranges: parseRanges(row.ranges) }
}

function withoutReplayed<T extends Marked>(inputs: T[], producers: Producer[]): T[] {
  const byKey = new Map(producers.map((p) => [keyOf(p), p]))
  const fresh: T[] = []
  for (const input of inputs) {
    const entry = input.entry
    if (!entry) {
      fresh.push(input)
      continue
    }
    const p = byKey.get(keyOf(entry))!
    // a second copy within the batch (a resend on a new connection) is a replay too
    if (!isStored(p.mark, entry.id) && !p.ids.has(entry.id)) fresh.push(input)
    p.ids.add(entry.id)
    p.floor = Math.max(p.floor, entry.floor)
  }
  return fresh
}

// one statement for every producer of the batch (a batch holds many controllers' values)
function writeStatement(provider: Provider, producers: Producer[]): Prisma.Sql {
  const at = timestamp(provider)
  const rows = producers.map((p) => {
    const mark = advance(p.mark, p.ids, p.floor)
    return Prisma.sql`(${p.sender}, ${p.producer}, ${mark.through}, ${JSON.stringify(mark.ranges)}, ${at})`
  })
  return Prisma.sql`
    INSERT INTO "ReplayMark" ("sender", "producer", "through", "ranges", "updatedAt") VALUES ${Prisma.join(rows)}
    ON CONFLICT ("sender", "producer") DO UPDATE SET "through" = excluded."through", "ranges" = excluded."ranges", "updatedAt" = excluded."updatedAt"`
}

function timestamp(provider: Provider): Prisma.Sql {
  const at = sqlTimestamp(provider, new Date())
  return provider === 'sqlite' ? Prisma.sql`${at}` : Prisma.sql`${at}::timestamp(3)`
}

export function isStored(mark: Mark, id: number): boolean {
  return id <= mark.through || mark.ranges.some(([first, last]) => id >= first && id <= last)
}

/**
 * The mark after storing `ids`: everything below `floor` was acknowledged to the sender (so stored, or
 * never sent again); a range that reaches `through` extends it. Past MAX_RANGES the lowest go (their
 * entries could then be stored twice, never lost).
 */
export function advance(mark: Mark, ids: Iterable<number>, floor: number): Mark {
  let through = Math.max(mark.through, floor - 1)
  const ranges = [...mark.ranges, ...toRanges(ids)].filter(([, last]) => last > through).sort((a, b) => a[0] - b[0])
  const merged: [number, number][] = []
  for (const [first, last] of ranges) {
    const top = merged[merged.length - 1]
    if (first <= through + 1) through = Math.max(through, last)
    else if (top && first <= top[1] + 1) top[1] = Math.max(top[1], last)
    else merged.push([first, last])
  }
  const kept = merged.filter(([, last]) => last > through)
  return { through, ranges: kept.slice(Math.max(0, kept.length - MAX_RANGES)) }
}

function toRanges(ids: Iterable<number>): [number, number][] {
  const sorted = [...new Set(ids)].sort((a, b) => a - b)
  const ranges: [number, number][] = []
  for (const id of sorted) {
    const top = ranges[ranges.length - 1]
    if (top && id === top[1] + 1) top[1] = id
    else ranges.push([id, id])
  }
  return ranges
}

function parseRanges(text: string): [number, number][] {
  try {
    const parsed = JSON.parse(text) as unknown
    return Array.isArray(parsed)
      ? parsed.filter((r): r is [number, number] => Array.isArray(r) && r.length === 2 && r.every(Number.isSafeInteger))
      : []
  } catch {
    return []
  }
}
