// Access levels by (principal, path) for a short while: ingestion checks the same few sequences for
// the same controllers thousands of times a second. The answer may be up to ttlMs old.
import type { Db } from '../db/index.ts'
import { ttlCache } from '../ttl-cache.ts'
import { accessToPath } from './access.ts'
import { principalKey, type Principal } from './permissions.ts'
import { unlessUnreachable } from '../db/availability.ts'

export interface AccessCache {
  level(principal: Principal, path: string): Promise<number>
  /** forget every answer (access rules changed) */
  clear(): void
}

export function createAccessCache(db: Db, ttlMs = 1000, maxEntries = 100_000): AccessCache {
  const cache = ttlCache<number>(ttlMs, maxEntries)
  return {
    level: (principal, path) =>
      cache.get(`${principalKey(principal)}|${path}`, () =>
        accessToPath(db, principal, path).catch(unlessUnreachable(0)),
      ),
    clear: () => cache.clear(),
  }
}
