// Attempt counters shared by the instances on one Redis (docs/architecture.md, "Scaling out": rate-limit
// counters live in Redis). One key per limit and subject, counted and given its window's expiry in
// one atomic step. While Redis does not answer, each instance counts on its own (memoryThrottle), so
// a Redis outage neither locks everyone out nor lifts the limits.
import type { Redis } from 'ioredis'
import type { Logger } from '../log.ts'
import { memoryThrottle, type Throttle, type ThrottleRule, type Throttles } from './throttle.ts'

/** How long a count may take before this instance falls back to its own counters. */
const REDIS_WAIT_MS = 1000
/** While Redis is away, how often a count tries it again (the others count here at once). */
const RETRY_EVERY_MS = 5000

// the window starts with the first attempt: INCR, and on 1 the expiry, in one step
const ATTEMPT =
  "local n = redis.call('INCR', KEYS[1]) if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end return n"
// never below zero, and never a key without its expiry
const REFUND = "if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then return redis.call('DECR', KEYS[1]) end return 0"

/** `redis` should carry a key prefix of its own (the caller's choice); names and subjects go under it. */
export function redisThrottles(redis: Redis, log: Logger): Throttles {
  let degraded = false
  let retryAt = 0
  const shared = async <T>(run: () => Promise<T>, local: () => Promise<T>): Promise<T> => {
    if (degraded && Date.now() < retryAt) return local() // a sign-in does not wait a second per count during an outage
    try {
      const result = await within(REDIS_WAIT_MS, run())
      if (degraded) log.info('rate limits are shared through redis again')
      degraded = false
      return result
    } catch (err) {
      if (!degraded) log.warn({ err }, 'redis did not answer; rate limits are counted per instance until it does')
      degraded = true
      retryAt = Date.now() + RETRY_EVERY_MS
      return local()
    }
  }
  return {
    limit(name: string, rule: ThrottleRule): Throttle {
      const local = memoryThrottle(rule)
      const keyOf = (key: string) => `${name}:${key}`
      return {
        attempt: (key) =>
          shared(
            async () => Number(await redis.eval(ATTEMPT, 1, keyOf(key), rule.windowMs)) <= rule.max,
            () => local.attempt(key),
          ),
        refund: (key) =>
          shared(
            async () => void (await redis.eval(REFUND, 1, keyOf(key))),
            () => local.refund(key),
          ),
        reset: (key) =>
          shared(
            async () => void (await redis.del(keyOf(key))),
            () => local.reset(key),
          ),
      }
    },
  }
}

function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>(
    (_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)),
  )
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}
