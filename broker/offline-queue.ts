// A bound on what a persistent session piles up while its client is away (Mosquitto's
// max_queued_messages). Aedes queues every QoS 1/2 message for every persistent subscription, with no
// limit: a controller that subscribed to a busy folder with clean=false and never came back (sold,
// broken, renamed) would grow the broker's memory, or Redis, until it ran out. Past the limit the
// newest messages are dropped, with one log line per client until its queue has room again. With
// Redis, messages arriving together through several instances may pass the limit by a few: each is
// checked before those ahead of it are queued.
import type { Aedes } from 'aedes'
import type { Logger } from '../core/log.ts'

type Sub = { clientId: string }
type Packet = object

/** The part of Aedes' persistence the bound wraps. */
interface QueuePersistence {
  outgoingEnqueue(sub: Sub, packet: Packet): Promise<void>
  outgoingEnqueueCombi(subs: Sub[], packet: Packet): Promise<void>
  outgoingClearMessageId(client: Sub | { id: string }, packet: Packet): Promise<Packet | undefined>
}

/**
 * How long each client's queue is. Given (Redis): read from where the persistence keeps it. Not
 * given (the in-memory persistence, whose queues are private): counted here, from what is queued
 * and what is cleared.
 */
export type QueueLength = (clientId: string) => Promise<number>

/** `dropped`: told of each message dropped (/metrics) */
export function limitOfflineQueues(
  aedes: Aedes,
  limit: number,
  log: Logger,
  queueLength?: QueueLength,
  dropped: () => void = () => {},
): void {
  const persistence = (aedes as unknown as { persistence: QueuePersistence }).persistence
  const length = queueLength ?? countQueues(persistence) // (wraps first: what is queued below is counted)
  const enqueueCombi = persistence.outgoingEnqueueCombi.bind(persistence)
  const full = new Set<string>() // clients told about in the log, until their queue has room again

  // a client online here takes its messages as they come; only a queue nobody reads can fill up
  const keep = async (sub: Sub): Promise<boolean> => {
    if ((aedes as unknown as { clients: Record<string, unknown> }).clients[sub.clientId]) return true
    if ((await length(sub.clientId)) < limit) {
      full.delete(sub.clientId)
      return true
    }
    dropped()
    if (!full.has(sub.clientId)) {
      full.add(sub.clientId)
      log.warn(
        { clientId: sub.clientId, limit },
        'mqtt offline queue full: newer messages for this persistent session are dropped until its client returns',
      )
    }
    return false
  }

  persistence.outgoingEnqueueCombi = async (subs, packet) => {
    if (subs.length === 0) return enqueueCombi(subs, packet)
    const kept = await Promise.all(subs.map(keep))
    const wanted = subs.filter((_, i) => kept[i])
    if (wanted.length > 0) await enqueueCombi(wanted, packet)
  }
}

/** Keeps each client's queue length beside the in-memory persistence, by wrapping what queues and clears. */
function countQueues(persistence: QueuePersistence): QueueLength {
  const counts = new Map<string, number>()
  const add = (clientId: string, n: number) => {
    const next = (counts.get(clientId) ?? 0) + n
    if (next > 0) counts.set(clientId, next)
    else counts.delete(clientId)
  }
  const enqueue = persistence.outgoingEnqueue.bind(persistence)
  const enqueueCombi = persistence.outgoingEnqueueCombi.bind(persistence)
  const clear = persistence.outgoingClearMessageId.bind(persistence)
  persistence.outgoingEnqueue = async (sub, packet) => {
    await enqueue(sub, packet)
    add(sub.clientId, 1)
  }
  persistence.outgoingEnqueueCombi = async (subs, packet) => {
    await enqueueCombi(subs, packet)
    for (const sub of subs) add(sub.clientId, 1)
  }
  persistence.outgoingClearMessageId = async (client, packet) => {
    const cleared = await clear(client, packet)
    if (cleared) add('id' in client ? client.id : client.clientId, -1)
    return cleared
  }
  return async (clientId) => counts.get(clientId) ?? 0
}
