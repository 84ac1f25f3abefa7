// Who owns each MQTT client id. Aedes lets a CONNECT with a known client id take over the session
// of that id — its subscriptions and the messages queued for it while offline — whoever connects.
// Tendril ties an id to the first principal that uses it, so another principal (another organization's
// controller, say) is refused with CONNACK 2 instead, on any instance and while the owner is offline.
import type { Redis } from 'ioredis'

export interface ClientIdOwners {
  /** true when the id is free or already owned by owner (which then owns it) */
  claim(clientId: string, owner: string): Promise<boolean>
  /** forgets the owner of a clean session's id once that session ended */
  release(clientId: string, owner: string): Promise<void>
}

export function memoryClientIdOwners(): ClientIdOwners {
  const owners = new Map<string, string>()
  return {
    async claim(clientId, owner) {
      const current = owners.get(clientId)
      if (current === undefined) owners.set(clientId, owner)
      return current === undefined || current === owner
    },
    async release(clientId, owner) {
      if (owners.get(clientId) === owner) owners.delete(clientId)
    },
  }
}

const HASH = 'client-owners'

/** Shared by every instance on the Redis (the connection carries the broker's key prefix). */
export function redisClientIdOwners(redis: Redis): ClientIdOwners {
  return {
    async claim(clientId, owner) {
      if ((await redis.hsetnx(HASH, clientId, owner)) === 1) return true
      return (await redis.hget(HASH, clientId)) === owner
    },
    async release(clientId, owner) {
      // only the owner's entry goes: check and delete in one step
      await redis.eval("if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end return 0", 1, HASH, clientId, owner)
    },
  }
}
