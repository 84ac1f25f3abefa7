// Access levels by (principal, path) for a short while: ingestion checks the same few sequences for
// the same controllers thousands of times a second. The answer may be up to ttlMs old.
import type { Db } from '../db/index.ts'
import { accessToPath } from './access.ts'
import { principalKey, type Principal } from './permissions.ts'

export interface AccessCache {
  level(principal: Principal, path: string): Promise<number>
  /** forget every answer (access rules changed) */
  clear(): void
}

export function createAccessCache(db: Db, ttlMs = 1000, maxEntries = 100_000): AccessCache {
  const cache = new Map<string, { level: number; at: number }>()
  // concurrent misses on one (principal, path) share one lookup
  const pending = new Map<string, Promise<number>>()
  let generation = 0
  const lookUp = async (key: string, principal: Principal, path: string) => {
    const started = generation
    const level = await accessToPath(db, principal, path).catch(() => 0)
    if (started !== generation) return level // cleared meanwhile: do not keep an answer from before the change
    if (cache.size >= maxEntries) cache.clear()
    cache.set(key, { level, at: Date.now() })
    return level
  }
  return {
    level(principal, path) {
      const key = `${principalKey(principal)}|${path}`
      const hit = cache.get(key)
      if (hit && Date.now() - hit.at < ttlMs) return Promise.resolve(hit.level)
      const running = pending.get(key)
      if (running) return running
      const started = lookUp(key, principal, path).finally(() => pending.delete(key))
      pending.set(key, started)
      return started
    },
    clear: () => {
      generation++
      cache.clear()
      pending.clear()
    },
  }
}
