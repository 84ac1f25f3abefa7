// What the instances on one Redis know of each other: which of them are running, which MQTT clients
// and which controllers each one holds. Keys (under the broker's prefix):
//   instances          set of broker ids that have run
//   alive:<broker id>  exists while that instance runs: refreshed often, gone soon after a crash
//   connected          hash: client id → broker id of the instance the client is connected to
//   held:<broker id>   set of controller ids with a session on that instance
//   key-sessions:<broker id>  hash: key id → MQTT sessions of that key on that instance
// A crashed instance's records stop counting once its `alive` key expires; its `held` set and
// `key-sessions` expire a day later (an instance cut off from Redis for a while finds its own again).
import type { Aedes } from 'aedes'
import type { Redis } from 'ioredis'
import type { Logger } from '../core/log.ts'
import type { QueueLength } from './offline-queue.ts'
import type { SharedPresence } from './presence.ts'
import type { SharedKeySessions } from './limits.ts'

const ALIVE_EVERY_MS = 10_000
const ALIVE_FOR_S = 30
const HELD_FOR_S = 24 * 3600

/** Marks this instance running until stopped. */
export function startHeartbeat(redis: Redis, brokerId: string, log: Logger): { stop(): Promise<void> } {
  const beat = () =>
    void redis
      .multi()
      .sadd('instances', brokerId)
      .set(`alive:${brokerId}`, '1', 'EX', ALIVE_FOR_S)
      .expire(`held:${brokerId}`, HELD_FOR_S)
      .expire(`key-sessions:${brokerId}`, HELD_FOR_S)
      .exec()
      .catch((err: Error) => log.debug({ err }, 'redis heartbeat failed'))
  beat()
  const timer = setInterval(beat, ALIVE_EVERY_MS).unref()
  return {
    async stop() {
      clearInterval(timer)
      // a clean stop: the others need not wait for the key to expire
      await redis
        .multi()
        .del(`alive:${brokerId}`, `held:${brokerId}`, `key-sessions:${brokerId}`)
        .srem('instances', brokerId)
        .exec()
        .catch(() => undefined)
    },
  }
}

const RUNNING = `local running = {}
for _, b in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', ARGV[1] .. 'alive:' .. b) == 1 then table.insert(running, b) end
end
return running`

/** The broker ids of the instances running on this Redis now (the mesh waits to hear from each). */
export async function runningInstances(redis: Redis): Promise<string[]> {
  return (await redis.eval(RUNNING, 1, 'instances', prefixOf(redis))) as string[]
}

export async function isRunning(redis: Redis, brokerId: string): Promise<boolean> {
  return (await redis.exists(`alive:${brokerId}`)) === 1
}

const RELEASE_CONNECTED =
  "if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end return 0"
// 0 when a running instance holds the client, else the length of the list aedes-persistence-redis
// keeps its queue in (ARGV[2]: the key prefix, which ioredis adds to KEYS only)
const AWAY_QUEUE = `local holder = redis.call('HGET', KEYS[1], ARGV[1])
if holder and redis.call('EXISTS', ARGV[2] .. 'alive:' .. holder) == 1 then return 0 end
return redis.call('LLEN', KEYS[2])`

/**
 * The queue length of a client that no instance holds; 0 for one connected anywhere. The queue of a
 * client online elsewhere holds what it has not acknowledged yet, and must not be cut there: QoS 1
 * redelivers those when it resumes.
 */
export function awayQueueLengths(redis: Redis, aedes: Aedes, log: Logger): QueueLength {
  const failed = (err: Error) => log.warn({ err }, 'recording an mqtt connection in redis failed')
  aedes.on('client', (client) => void redis.hset('connected', client.id, aedes.id).catch(failed))
  aedes.on(
    'clientDisconnect',
    (client) => void redis.eval(RELEASE_CONNECTED, 1, 'connected', client.id, aedes.id).catch(failed),
  )
  return async (clientId) =>
    Number(
      await redis.eval(
        AWAY_QUEUE,
        2,
        'connected',
        `outgoing:${encodeURIComponent(clientId)}`,
        clientId,
        prefixOf(redis),
      ),
    )
}

// ARGV[1]: the key prefix; ARGV[2…]: controller ids. Returns those a running instance holds, and
// forgets instances whose records have expired.
const HELD = `local running = {}
for _, b in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', ARGV[1] .. 'alive:' .. b) == 1 then table.insert(running, b)
  elseif redis.call('EXISTS', ARGV[1] .. 'held:' .. b) == 0 then redis.call('SREM', KEYS[1], b) end
end
local out = {}
for i = 2, #ARGV do
  for _, b in ipairs(running) do
    if redis.call('SISMEMBER', ARGV[1] .. 'held:' .. b, ARGV[i]) == 1 then table.insert(out, ARGV[i]) break end
  end
end
return out`

/** Controller presence shared by the instances (presence.ts). */
export function sharedPresence(redis: Redis, brokerId: string): SharedPresence {
  const held = `held:${brokerId}`
  return {
    async hold(ids) {
      if (ids.length > 0) await redis.sadd(held, ...ids.map(String))
    },
    async release(ids) {
      if (ids.length > 0) await redis.srem(held, ...ids.map(String))
    },
    async held(ids) {
      if (ids.length === 0) return []
      const found = (await redis.eval(HELD, 1, 'instances', prefixOf(redis), ...ids.map(String))) as string[]
      return found.map(Number)
    },
  }
}

// KEYS[1]: instances, KEYS[2]: this instance's key-sessions; ARGV: key prefix, this broker id, key
// id, limit. Counts the key's sessions on every running instance, and takes one if there is room.
const TAKE_KEY_SESSION = `local total = tonumber(redis.call('HGET', KEYS[2], ARGV[3]) or '0')
for _, b in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if b ~= ARGV[2] and redis.call('EXISTS', ARGV[1] .. 'alive:' .. b) == 1 then
    total = total + tonumber(redis.call('HGET', ARGV[1] .. 'key-sessions:' .. b, ARGV[3]) or '0')
  end
end
if total >= tonumber(ARGV[4]) then return 0 end
redis.call('HINCRBY', KEYS[2], ARGV[3], 1)
return 1`
const GIVE_KEY_SESSION =
  "if redis.call('HINCRBY', KEYS[1], ARGV[1], -1) <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end return 0"

/** MQTT sessions per key, counted by every instance together (limits.ts). */
export function sharedKeySessions(redis: Redis, brokerId: string): SharedKeySessions {
  const mine = `key-sessions:${brokerId}`
  return {
    async take(keyId, limit) {
      // during an outage a CONNECT does not wait for Redis: the instance counts on its own
      if (redis.status !== 'ready') throw new Error(`redis is ${redis.status}`)
      return (
        Number(
          await redis.eval(
            TAKE_KEY_SESSION,
            2,
            'instances',
            mine,
            prefixOf(redis),
            brokerId,
            String(keyId),
            String(limit),
          ),
        ) === 1
      )
    },
    async give(keyId) {
      await redis.eval(GIVE_KEY_SESSION, 1, mine, String(keyId))
    },
  }
}

/** Keys built inside a script do not get ioredis' prefix: the script adds it. */
function prefixOf(redis: Redis): string {
  return redis.options.keyPrefix ?? ''
}
