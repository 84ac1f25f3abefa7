// Who owns each MQTT client id. Aedes lets a CONNECT with a known client id take over the session
// of that id — its subscriptions and the messages queued for it while offline — whoever connects.
// Tendril ties an id to the first principal that uses it, so another principal (another organization's
// controller, say) is refused with CONNACK 2 instead, on any instance and while the owner is offline.
//
// A claim also names the connection that holds the id, so that when the owner reconnects (on this
// instance or another) and its old connection is closed for it [MQTT-3.1.4-2], the old connection's
// end does not release the id the new one now holds.
import type { Redis } from 'ioredis'

export interface ClientIdOwners {
  /** true when the id is free or already owned by owner; owner and this connection then hold it */
  claim(clientId: string, owner: string, connection: string): Promise<boolean>
  /** forgets the owner of a clean session's id once that session ended, unless another connection holds it now */
  release(clientId: string, owner: string, connection: string): Promise<void>
}

export function memoryClientIdOwners(): ClientIdOwners {
  const holders = new Map<string, { owner: string; connection: string }>()
  return {
    async claim(clientId, owner, connection) {
      const current = holders.get(clientId)
      if (current !== undefined && current.owner !== owner) return false
      holders.set(clientId, { owner, connection })
      return true
    },
    async release(clientId, owner, connection) {
      const current = holders.get(clientId)
      if (current?.owner === owner && current.connection === connection) holders.delete(clientId)
    },
  }
}

const HASH = 'client-owners'
// the hash holds "<owner>\n<connection>" (an entry of an older version: "<owner>"); checked and set in one step
const CLAIM = `local current = redis.call('HGET', KEYS[1], ARGV[1])
if current and string.match(current, '^[^\\n]*') ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '\\n' .. ARGV[3])
return 1`
const RELEASE = `if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] .. '\\n' .. ARGV[3] then return redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0`

/** Shared by every instance on the Redis (the connection carries the broker's key prefix). */
export function redisClientIdOwners(redis: Redis): ClientIdOwners {
  return {
    async claim(clientId, owner, connection) {
      return Number(await redis.eval(CLAIM, 1, HASH, clientId, owner, connection)) === 1
    },
    async release(clientId, owner, connection) {
      await redis.eval(RELEASE, 1, HASH, clientId, owner, connection)
    },
  }
}
