// --mqtt-retained-per-org: retained messages on unique sub-topics would grow the broker's store
// without bound, so each organization (a topic's first level) keeps at most that many retained
// topics. A retained publish on a new topic beyond them is relayed to subscribers but not kept.
import type { Client, PublishPacket } from 'aedes'
import type { Redis } from 'ioredis'
import type { Logger } from '../core/log.ts'

/**
 * The retained topics of each organization: in memory beside Aedes' own store, or in Redis beside
 * aedes-persistence-redis.
 */
export interface RetainedTopics {
  /** counts topic as retained in org unless org holds `limit` other topics; false when it is full */
  add(org: string, topic: string, limit: number): Promise<boolean>
  /** the topic's retained message was cleared (an empty retained publish) */
  remove(org: string, topic: string): Promise<void>
}

export function memoryRetainedTopics(): RetainedTopics {
  const byOrg = new Map<string, Set<string>>()
  return {
    async add(org, topic, limit) {
      const topics = byOrg.get(org) ?? byOrg.set(org, new Set()).get(org)!
      if (topics.has(topic)) return true
      if (topics.size >= limit) return false
      topics.add(topic)
      return true
    },
    async remove(org, topic) {
      byOrg.get(org)?.delete(topic)
    },
  }
}

// one step in Redis, so that instances publishing at once cannot pass the limit together
const ADD_SCRIPT = `if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 1 end
if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('SADD', KEYS[1], ARGV[1])
return 1`

/** A set per organization in Redis (`data` carries the broker's key prefix), counted by every instance. */
export function redisRetainedTopics(data: Redis): RetainedTopics {
  const key = (org: string) => `retained:${org}`
  return {
    async add(org, topic, limit) {
      return (await data.eval(ADD_SCRIPT, 1, key(org), topic, limit)) === 1
    },
    async remove(org, topic) {
      await data.srem(key(org), topic)
    },
  }
}

/**
 * Decides whether a retained PUBLISH (already authorized) is kept; past the limit its retain flag is
 * cleared, so Aedes relays it without storing it. One log line per client, not one per message.
 */
export function limitRetained(limit: number, log: Logger, topics: RetainedTopics) {
  const warned = new WeakSet<Client>()
  const notKept = (client: Client, packet: PublishPacket, reason: string) => {
    packet.retain = false
    if (warned.has(client)) return
    warned.add(client)
    log.info({ clientId: client.id, topic: packet.topic, limit }, `mqtt retained message not kept: ${reason}`)
  }
  return async (client: Client, packet: PublishPacket): Promise<void> => {
    const org = packet.topic.split('/', 1)[0]!
    try {
      if (packet.payload.length === 0) return await topics.remove(org, packet.topic)
      if (!(await topics.add(org, packet.topic, limit)))
        notKept(client, packet, 'the organization holds --mqtt-retained-per-org retained topics')
    } catch (err) {
      log.warn({ err }, 'retained topics not counted')
      notKept(client, packet, 'they cannot be counted now')
    }
  }
}
