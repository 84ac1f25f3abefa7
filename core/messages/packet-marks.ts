// Exactly once for MQTT QoS 1/2 values across a crash: MQTT.js resends an unacknowledged PUBLISH on
// its next connection without DUP (mqttjs/MQTT.js#692), so what the broker remembered in memory is
// not enough. A PacketMark row per sender and client id lists its latest stored packets (id, content
// hash, time), written in the values' transaction, so it survives a kill and is seen by every instance.
// A copy is a resend only while it can be one [MQTT-4.3.2]: DUP set, or the first publishes of a new
// connection, within RESEND_WINDOW_S of the stored one (else a client reusing an id loses values).
// Cost: one upsert per batch that has packets; a lock-and-read before it only when one may be a resend.
import { createHash } from 'node:crypto'
import { Prisma, type DbClient } from '../db/index.ts'
import type { DirectSqlite } from '../db/sqlite-connection.ts'
import { providerOf, sqlTimestamp, type Provider } from '../resources/revisions.ts'
import type { SentPacket } from './types.ts'

/** How long after a packet is stored a copy of it without DUP may be its resend (a restart, a reconnect). */
export const RESEND_WINDOW_S = 60
/** Packets kept per sender and client id: more than a client has in flight at once. */
const KEPT = 32
// an entry: packet id (4 hex), content hash (12 base64url), seconds stored (8 hex)
const HASH_CHARS = 12
const ENTRY_CHARS = 4 + HASH_CHARS + 8

/** The content hash a SentPacket carries: its topic and payload. */
export function packetHash(topic: string, payload: Buffer): string {
  return createHash('sha1').update(topic).update('\0').update(payload).digest('base64url').slice(0, HASH_CHARS)
}

type Marked = { packet?: SentPacket }

export const hasPackets = (inputs: Marked[]) => inputs.some((i) => i.packet)

/** Inside a Prisma transaction: drops the batch's resends and records its fresh packets. */
export async function dropResends<T extends Marked>(tx: Prisma.TransactionClient, inputs: T[]): Promise<T[]> {
  const provider = providerOf(tx)
  const clients = clientsOf(inputs)
  if (mayHoldResends(inputs)) readMarks(clients, await tx.$queryRaw<MarkRow[]>(lockStatement(provider, clients)))
  const fresh = decide(inputs, clients)
  const write = writeStatement(provider, clients)
  if (write) await tx.$executeRaw(write)
  return fresh
}

/** dropResends on SQLite's connection, inside its BEGIN IMMEDIATE (sequence-store/sqlite.ts storeInlineDirect). */
export function dropResendsDirect<T extends Marked>(sqlite: DirectSqlite, inputs: T[]): T[] {
  const clients = clientsOf(inputs)
  if (mayHoldResends(inputs)) {
    const lock = lockStatement('sqlite', clients)
    readMarks(clients, sqlite.statement(lock.sql).all(...lock.values) as MarkRow[])
  }
  const fresh = decide(inputs, clients)
  const write = writeStatement('sqlite', clients)
  if (write) sqlite.statement(write.sql).run(...write.values)
  return fresh
}

/** Forgets the marks of clients that stored nothing within the window (run by core/jobs.ts). */
export async function forgetOldPacketMarks(db: DbClient, now = new Date()): Promise<number> {
  const { count } = await db.packetMark.deleteMany({
    where: { updatedAt: { lt: new Date(now.getTime() - RESEND_WINDOW_S * 1000) } },
  })
  return count
}

interface Client {
  sender: string
  clientId: string
  /** packet id → content hash, stored within the window (newest wins) */
  stored: Map<number, string>
  /** entries to prepend, newest first */
  added: string[]
}

interface MarkRow {
  sender: string
  clientId: string
  recent: string
}

const keyOf = (c: { sender: string; clientId: string }) => `${c.sender}\n${c.clientId}`

/** One Client per sender and client id of the batch, in a fixed order (PostgreSQL locks rows in it). */
function clientsOf(inputs: Marked[]): Map<string, Client> {
  const clients = new Map<string, Client>()
  for (const { packet } of inputs) {
    if (!packet) continue
    const key = keyOf(packet)
    if (!clients.has(key))
      clients.set(key, { sender: packet.sender, clientId: packet.clientId, stored: new Map(), added: [] })
  }
  return new Map([...clients].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
}

const mayBeResend = (p: SentPacket) => p.dup || !p.connection.fresh
const mayHoldResends = (inputs: Marked[]) => inputs.some((i) => i.packet && !i.packet.verdict && mayBeResend(i.packet))

/**
 * Creates the missing marks and locks them all, answering each as the last committed transaction left it (as
 * replays.ts).
 */
function lockStatement(provider: Provider, clients: Map<string, Client>): Prisma.Sql {
  const at = timestamp(provider)
  const rows = [...clients.values()].map((c) => Prisma.sql`(${c.sender}, ${c.clientId}, '', ${at})`)
  return Prisma.sql`
    INSERT INTO "PacketMark" ("sender", "clientId", "recent", "updatedAt") VALUES ${Prisma.join(rows)}
    ON CONFLICT ("sender", "clientId") DO UPDATE SET "recent" = "PacketMark"."recent"
    RETURNING "sender", "clientId", "recent"`
}

function readMarks(clients: Map<string, Client>, rows: MarkRow[]): void {
  const since = nowSeconds() - RESEND_WINDOW_S
  for (const row of rows) {
    const client = clients.get(keyOf(row))
    if (!client) continue
    for (let i = 0; i + ENTRY_CHARS <= row.recent.length; i += ENTRY_CHARS) {
      const id = parseInt(row.recent.slice(i, i + 4), 16)
      const at = parseInt(row.recent.slice(i + 4 + HASH_CHARS, i + ENTRY_CHARS), 16)
      if (at >= since && !client.stored.has(id)) client.stored.set(id, row.recent.slice(i + 4, i + 4 + HASH_CHARS))
    }
  }
}

/**
 * Each packet's verdict, in arrival order: a copy of a stored packet while it may be a resend is one;
 * any other is fresh, recorded, and (without DUP) ends its connection's resends. Decided once per
 * packet: a batch stored again value by value (values.ts) keeps the verdicts.
 */
function decide<T extends Marked>(inputs: T[], clients: Map<string, Client>): T[] {
  const at = nowSeconds().toString(16).padStart(8, '0')
  const fresh: T[] = []
  const seen = new Set<SentPacket>() // a packet's values are decided together
  for (const input of inputs) {
    const p = input.packet
    if (p && !seen.has(p)) {
      seen.add(p)
      const client = clients.get(keyOf(p))!
      p.verdict ??= mayBeResend(p) && client.stored.get(p.packetId) === p.hash ? 'resend' : 'fresh'
      if (p.verdict === 'fresh') {
        if (!p.dup) p.connection.fresh = true
        client.stored.set(p.packetId, p.hash)
        client.added.unshift(entryOf(p, at))
      }
    }
    if (!p || p.verdict === 'fresh') fresh.push(input)
  }
  return fresh
}

function entryOf(p: SentPacket, at: string): string {
  const hash = p.hash.padEnd(HASH_CHARS, '=').slice(0, HASH_CHARS)
  return (p.packetId & 0xffff).toString(16).padStart(4, '0') + hash + at
}

// the newest KEPT entries: new ones in front, the row cut to length (substr in both dialects)
function writeStatement(provider: Provider, clients: Map<string, Client>): Prisma.Sql | undefined {
  const at = timestamp(provider)
  const written = [...clients.values()].filter((c) => c.added.length > 0)
  if (written.length === 0) return undefined
  const rows = written.map((c) => Prisma.sql`(${c.sender}, ${c.clientId}, ${c.added.slice(0, KEPT).join('')}, ${at})`)
  return Prisma.sql`
    INSERT INTO "PacketMark" ("sender", "clientId", "recent", "updatedAt") VALUES ${Prisma.join(rows)}
    ON CONFLICT ("sender", "clientId") DO UPDATE SET "recent" = substr(excluded."recent" || "PacketMark"."recent", 1, ${Prisma.raw(String(KEPT * ENTRY_CHARS))}), "updatedAt" = excluded."updatedAt"`
}

const nowSeconds = () => Math.floor(Date.now() / 1000)

function timestamp(provider: Provider): Prisma.Sql {
  const at = sqlTimestamp(provider, new Date())
  return provider === 'sqlite' ? Prisma.sql`${at}` : Prisma.sql`${at}::timestamp(3)`
}
