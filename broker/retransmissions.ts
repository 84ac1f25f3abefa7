// A QoS 1/2 PUBLISH whose PUBACK (or PUBREC) was lost comes again with DUP set [MQTT-4.3.2-1], maybe
// on a new connection, maybe through another instance. What it carries is stored once:
// - while the first copy is being stored, a copy with the same packet id and content is a resend
//   whatever its DUP flag (the id is not free before the acknowledgement [MQTT-2.3.1-2]), and its
//   acknowledgement waits for the first copy's store;
// - once stored, the id and a hash of the content are remembered for a while, by owner and client
//   id, and shared through Redis with --redis; only a copy with DUP set counts as a resend then, as
//   a client may reuse an acknowledged id for a new message with the same content;
// - sequence values are also marked in their own transaction (withSentPacket, core/messages/packet-marks.ts),
//   which survives a kill -9 and catches MQTT.js's resends without DUP; the memory and Redis copies
//   remain for what is not a value (kept messages), without that guarantee.
import { createHash } from 'node:crypto'
import type { Client, PublishPacket } from 'aedes'
import type { Redis } from 'ioredis'
import { packetHash } from '../core/messages/packet-marks.ts'
import type { InboundItem, SentPacket } from '../core/messages/types.ts'
import { principalKey } from '../core/resources/permissions.ts'
import { within } from './bounded-wait.ts'
import { sessionOf } from './clients.ts'

/** How long a stored QoS 1/2 message id is remembered. */
const WINDOW_MS = 10 * 60_000
const MAX_ENTRIES = 100_000
/** How long an acknowledgement waits for Redis to look up or record an id (then it goes on without). */
const REDIS_WAIT_MS = 500

/** Stored message ids shared by the instances (Redis). Keys name the owner, client id and packet id. */
export interface SharedStoredIds {
  /** whether a message with this key and content hash was stored within the window */
  has(key: string, hash: string): Promise<boolean>
  /** records a stored message; resolves once recorded (or given up on) */
  add(key: string, hash: string): Promise<void>
}

export interface StoreOnce {
  /**
   * Runs `store` for a QoS 1/2 packet unless it is a resend of a message stored or being stored.
   * Resolves when what the packet carried is stored, by this copy or the first; undefined when
   * that is known at once.
   */
  run(client: Client, packet: PublishPacket, store: () => Promise<void>): Promise<void> | undefined
}

export function storeOnce(shared?: SharedStoredIds): StoreOnce {
  const inFlight = new Map<string, { packet: PublishPacket; stored: Promise<void> }>()
  const stored = new Map<string, { hash: string; at: number }>() // in time order
  const remember = (key: string, hash: string) => {
    if (stored.size >= MAX_ENTRIES) stored.delete(stored.keys().next().value!)
    stored.delete(key) // re-inserted at the end
    stored.set(key, { hash, at: Date.now() })
  }
  const storedHere = (key: string, hash: string) => {
    const seen = stored.get(key)
    return !!seen && seen.hash === hash && Date.now() - seen.at < WINDOW_MS
  }

  return {
    run(client, packet, store) {
      const key = keyOf(client, packet)
      const first = inFlight.get(key)
      if (first && sameContent(first.packet, packet)) return first.stored
      const hash = contentHash(packet)
      if (packet.dup && storedHere(key, hash)) return undefined
      const entry = {
        packet,
        stored: (async () => {
          if (packet.dup && shared && (await shared.has(key, hash))) return remember(key, hash)
          await store()
          remember(key, hash)
          await shared?.add(key, hash)
        })().finally(() => {
          if (inFlight.get(key) === entry) inFlight.delete(key)
        }),
      }
      inFlight.set(key, entry)
      return entry.stored
    },
  }
}

/** The sender (client ids of clean sessions change hands), the client id, the packet id. */
function keyOf(client: Client, packet: PublishPacket): string {
  const principal = sessionOf(client)?.principal
  return `${principal ? principalKey(principal) : ''}|${packet.messageId}|${client.id}`
}

function sameContent(a: PublishPacket, b: PublishPacket): boolean {
  return a.topic === b.topic && Buffer.compare(a.payload as Buffer, b.payload as Buffer) === 0
}

function contentHash(packet: PublishPacket): string {
  return createHash('sha1')
    .update(packet.topic)
    .update(packet.payload as Buffer)
    .digest('base64')
}

/**
 * Under the broker's key prefix, `stored-publish:<key>` holds the content hash for the window.
 * While Redis does not answer, a resend through another instance may be stored twice (QoS 1 is
 * at least once); acknowledgements are not held up by an outage.
 */
export function redisStoredIds(redis: Redis): SharedStoredIds {
  let queued: [string, string][] = []
  let recording: Promise<void> | undefined
  const record = async () => {
    await new Promise((resolve) => setImmediate(resolve)) // what a batch acknowledges at once goes in one round trip
    const entries = queued
    queued = []
    recording = undefined
    const pipeline = redis.pipeline()
    for (const [key, hash] of entries) pipeline.set(`stored-publish:${key}`, hash, 'PX', WINDOW_MS)
    await within(
      REDIS_WAIT_MS,
      pipeline.exec().catch(() => null),
    )
  }
  return {
    async has(key, hash) {
      if (redis.status !== 'ready') return false
      return (
        (await within(
          REDIS_WAIT_MS,
          redis.get(`stored-publish:${key}`).catch(() => null),
        )) === hash
      )
    },
    add(key, hash) {
      if (redis.status !== 'ready') return Promise.resolve()
      queued.push([key, hash])
      return (recording ??= record())
    },
  }
}

// per connection: whether it has carried a publish that was not a resend (packet-marks.ts)
const connections = new WeakMap<Client, { fresh: boolean }>()

/**
 * The item with the QoS 1/2 packet it came in, so its values are stored once even when the copy
 * comes without DUP after a crash, or through another instance (core/messages/packet-marks.ts).
 */
export function withSentPacket(item: InboundItem, client: Client, packet: PublishPacket): InboundItem {
  const principal = sessionOf(client)?.principal
  if (!principal || packet.qos === 0 || packet.messageId === undefined) return item
  let connection = connections.get(client)
  if (!connection) connections.set(client, (connection = { fresh: false }))
  const sent: SentPacket = {
    sender: principalKey(principal),
    clientId: client.id,
    packetId: packet.messageId,
    hash: packetHash(packet.topic, packet.payload as Buffer),
    dup: packet.dup,
    connection,
  }
  return { ...item, packet: sent }
}
