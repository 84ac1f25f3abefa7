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
  return {
    async level(principal, path) {
      const key = `${principalKey(principal)}|${path}`
      const hit = cache.get(key)
      if (hit && Date.now() - hit.at < ttlMs) return hit.level
      const level = await accessToPath(db, principal, path).catch(() => 0)
      if (cache.size >= maxEntries) cache.clear()
      cache.set(key, { level, at: Date.now() })
      return level
    },
    clear: () => cache.clear(),
  }
}
