// Path -> live resource with a short-lived cache: the broker resolves a topic for every message,
// and paths change rarely. Anything that renames, moves or deletes calls invalidate().
import type { Db, Resource } from '../db/index.ts'
import { splitPath } from './paths.ts'
import { findNearest } from './access.ts'

export interface PathResolver {
  /** the live resource at exactly this path, or null */
  resolve(path: string): Promise<Resource | null>
  invalidate(): void
}

export function createPathResolver(db: Db, ttlMs = 5000, maxEntries = 50_000): PathResolver {
  const cache = new Map<string, { resource: Resource | null; at: number }>()
  // concurrent misses on one path (a burst of messages to a new topic) share one lookup
  const pending = new Map<string, Promise<Resource | null>>()
  let generation = 0
  const lookUp = async (path: string) => {
    const started = generation
    const names = splitPath(path)
    const found = await findNearest(db, names)
    const resource = found && found.depth === names.length ? found.resource : null
    if (started !== generation) return resource // invalidated meanwhile: the answer may be stale, do not keep it
    if (cache.size >= maxEntries) cache.clear() // crude bound; a busy broker refills what it uses
    cache.set(path, { resource, at: Date.now() })
    return resource
  }
  return {
    resolve(path) {
      const hit = cache.get(path)
      if (hit && Date.now() - hit.at < ttlMs) return Promise.resolve(hit.resource)
      const running = pending.get(path)
      if (running) return running
      const started = lookUp(path).finally(() => pending.delete(path))
      pending.set(path, started)
      return started
    },
    invalidate: () => {
      generation++
      cache.clear()
      pending.clear()
    },
  }
}
