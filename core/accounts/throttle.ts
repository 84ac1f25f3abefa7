// Failed sign-in counting, per account and per address, in fixed windows. In memory: each instance
// counts its own share (behind a load balancer an attacker's budget is multiplied by the instances).
export interface ThrottleRule {
  max: number
  windowMs: number
}

export function createThrottle(rule: ThrottleRule, maxKeys = 100_000) {
  const windows = new Map<string, { count: number; start: number }>()
  const current = (key: string, now: number) => {
    const entry = windows.get(key)
    if (!entry || now - entry.start >= rule.windowMs) return undefined
    return entry
  }
  return {
    /** true while key may try again */
    allowed(key: string, now = Date.now()): boolean {
      return (current(key, now)?.count ?? 0) < rule.max
    },
    fail(key: string, now = Date.now()): void {
      const entry = current(key, now)
      if (entry) entry.count++
      else {
        if (windows.size >= maxKeys) windows.clear()
        windows.set(key, { count: 1, start: now })
      }
    },
    reset(key: string): void {
      windows.delete(key)
    },
  }
}

export const SIGN_IN_LIMITS = {
  perAccount: { max: 10, windowMs: 15 * 60_000 },
  perAddress: { max: 50, windowMs: 15 * 60_000 },
}
