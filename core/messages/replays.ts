// Exactly once for the controllers SDK's queue: each value it sends names its queue (producer) and
// entry id (codecs.ts EntryMark), and a ReplayMark row per sender and producer says which ids are
// stored, so an entry sent again (a lost PUBACK, a restart, another instance) is stored once.
// One read and one write per batch and producer; values without an entry (rhizo's) cost nothing.
import type { CoreContext } from '../context.ts'
import { Prisma } from '../db/index.ts'
import { providerOf, sqlTimestamp } from '../resources/revisions.ts'
import { principalKey } from '../resources/permissions.ts'
import type { EntryMark } from './codecs.ts'
import type { ValueRequest } from './values.ts'

/** Ranges of stored ids above `through` kept at most: a client has a few publishes in flight at once. */
const MAX_RANGES = 64

/** Ids up to `through` are stored (or never sent again); above it, the ids in `ranges` ([first, last]). */
export interface Mark {
  through: number
  ranges: [number, number][]
}

export interface ReplayFilter {
  /** the requests that are not replays, in their order */
  fresh: ValueRequest[]
  /** records the batch's entries as stored: call once they are */
  record(): Promise<void>
}

interface Producer {
  sender: string
  producer: string
  mark: Mark
  /** ids seen in this batch, and the highest floor */
  ids: Set<number>
  floor: number
}

const none = async () => {}

export async function withoutReplays(ctx: CoreContext, requests: ValueRequest[]): Promise<ReplayFilter> {
  if (!requests.some((r) => r.entry)) return { fresh: requests, record: none }
  const producers = new Map<string, Producer>()
  const producerOf = (r: ValueRequest & { entry: EntryMark }) => {
    const sender = principalKey(r.principal)
    const key = `${sender}|${r.entry.producer}`
    return producers.get(key) ?? producers.set(key, { sender, producer: r.entry.producer, mark: { through: 0, ranges: [] }, ids: new Set(), floor: 0 }).get(key)!
  }
  const withEntries = requests.filter((r): r is ValueRequest & { entry: EntryMark } => !!r.entry)
  for (const r of withEntries) producerOf(r)
  const rows = await ctx.db.replayMark.findMany({ where: { OR: [...producers.values()].map(({ sender, producer }) => ({ sender, producer })) } })
  for (const row of rows) producers.get(`${row.sender}|${row.producer}`)!.mark = { through: Number(row.through), ranges: parseRanges(row.ranges) }
  const fresh: ValueRequest[] = []
  for (const r of requests) {
    if (!r.entry) {
      fresh.push(r)
      continue
    }
    const p = producerOf(r as ValueRequest & { entry: EntryMark })
    // a second copy within the batch (a resend on a new connection) is a replay too
    if (!isStored(p.mark, r.entry.id) && !p.ids.has(r.entry.id)) fresh.push(r)
    p.ids.add(r.entry.id)
    p.floor = Math.max(p.floor, r.entry.floor)
  }
  return { fresh, record: () => recordMarks(ctx, [...producers.values()]) }
}

// one statement for every producer of the batch (a batch holds many controllers' values)
async function recordMarks(ctx: CoreContext, producers: Producer[]): Promise<void> {
  const provider = providerOf(ctx.db)
  const at = sqlTimestamp(provider, new Date())
  const rows = producers.map((p) => {
    const mark = advance(p.mark, p.ids, p.floor)
    const updatedAt = provider === 'sqlite' ? Prisma.sql`${at}` : Prisma.sql`${at}::timestamp(3)`
    return Prisma.sql`(${p.sender}, ${p.producer}, ${mark.through}, ${JSON.stringify(mark.ranges)}, ${updatedAt})`
  })
  await ctx.db.$executeRaw`
    INSERT INTO "ReplayMark" ("sender", "producer", "through", "ranges", "updatedAt") VALUES ${Prisma.join(rows)}
    ON CONFLICT ("sender", "producer") DO UPDATE SET "through" = excluded."through", "ranges" = excluded."ranges", "updatedAt" = excluded."updatedAt"`
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
    return Array.isArray(parsed) ? parsed.filter((r): r is [number, number] => Array.isArray(r) && r.length === 2 && r.every(Number.isSafeInteger)) : []
  } catch {
    return []
  }
}
