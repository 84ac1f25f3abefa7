// Attempt counters in fixed windows: failed sign-ins per account and address, PIN guesses, wrong old
// passwords. An attempt is counted before it is checked and given back if it turned out fine, so a
// burst of concurrent guesses gets no more than the limit through (counting failures afterwards let
// every request of a burst pass the check while the first ones were still hashing their password).
//
// In memory, each instance counts its own share. Instances that share a Redis (--redis) count
// together (throttle-redis.ts): behind a load balancer an attacker's budget is not multiplied by the
// number of instances.
export interface ThrottleRule {
  max: number
  windowMs: number
}

export interface Throttle {
  /** counts one attempt for key; false when it is over the limit in the current window (refuse it) */
  attempt(key: string): Promise<boolean>
  /** gives back one attempt that turned out fine (a right password), so it does not count */
  refund(key: string): Promise<void>
  /** forgets the key's attempts (a successful sign-in clears its account's failures) */
  reset(key: string): Promise<void>
}

/** Makes the throttles; `name` keeps the counters of different limits apart. */
export interface Throttles {
  limit(name: string, rule: ThrottleRule): Throttle
}

/** Counters in this process, for one instance (or a fallback while Redis is away). */
export function memoryThrottles(maxKeys = 100_000): Throttles {
  return { limit: (_name, rule) => memoryThrottle(rule, maxKeys) }
}

export function memoryThrottle(rule: ThrottleRule, maxKeys = 100_000): Throttle {
  const windows = new Map<string, { count: number; start: number }>()
  const current = (key: string, now: number) => {
    const entry = windows.get(key)
    if (!entry || now - entry.start >= rule.windowMs) return undefined
    return entry
  }
  return {
    async attempt(key) {
      const now = Date.now()
      let entry = current(key, now)
      if (!entry) {
        if (windows.size >= maxKeys) windows.clear() // bounded memory: a flood of addresses starts every count over
        windows.set(key, (entry = { count: 0, start: now }))
      }
      return ++entry.count <= rule.max
    },
    async refund(key) {
      const entry = current(key, Date.now())
      if (entry && entry.count > 0) entry.count--
    },
    async reset(key) {
      windows.delete(key)
    },
  }
}

export const SIGN_IN_LIMITS = {
  perAccount: { max: 10, windowMs: 15 * 60_000 },
  perAddress: { max: 50, windowMs: 15 * 60_000 },
}
