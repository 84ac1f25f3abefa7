// Path -> live resource with a short-lived cache: the broker resolves a topic for every message,
// and paths change rarely. Anything that renames, moves or deletes calls invalidate() (the broker
// does when the access version moves, which such changes move).
// Beneath the paths, the rows themselves are cached by liveKey, so that walking a path (access
// checks) reads an organization or a folder shared by thousands of controllers once.
import { markerReaderFor } from '../change-markers.ts'
import type { CoreContext } from '../context.ts'
import type { Db, Resource } from '../db/index.ts'
import { splitPath } from './paths.ts'
import { findNearest, type FindLive } from './access.ts'

export interface PathResolver {
  /** the live resource at exactly this path, or null */
  resolve(path: string): Promise<Resource | null>
  /** resolve's cached answer without waiting: undefined when it would have to look */
  peek(path: string): Resource | null | undefined
  /** the live resource with this liveKey ("parentId/name"), or null: for access.ts' walks */
  findLive: FindLive
  /** keeps a live row loaded elsewhere (a controller's folder at authentication) */
  remember(resource: Resource): void
  invalidate(): void
}

interface Cached<T> {
  get(key: string, load: () => Promise<T>): Promise<T>
  set(key: string, value: T): void
  peek(key: string): T | undefined
  clear(): void
}

/** A TTL cache whose concurrent misses on one key share one load, and which drops loads started before a clear(). */
function cached<T>(ttlMs: number, maxEntries: number, keep: (value: T) => boolean = () => true): Cached<T> {
  const entries = new Map<string, { value: T; at: number }>()
  const pending = new Map<string, Promise<T>>()
  let generation = 0
  const set = (key: string, value: T) => {
    if (entries.size >= maxEntries) entries.clear() // crude bound; a busy broker refills what it uses
    entries.set(key, { value, at: Date.now() })
  }
  return {
    get(key, load) {
      const hit = entries.get(key)
      if (hit && Date.now() - hit.at < ttlMs) return Promise.resolve(hit.value)
      const running = pending.get(key)
      if (running) return running
      const started = generation
      const loading = load()
        .then((value) => {
          if (started === generation && keep(value)) set(key, value) // else invalidated meanwhile: may be stale, do not keep it
          return value
        })
        .finally(() => {
          if (pending.get(key) === loading) pending.delete(key)
        })
      pending.set(key, loading)
      return loading
    },
    set,
    peek(key) {
      const hit = entries.get(key)
      return hit && Date.now() - hit.at < ttlMs ? hit.value : undefined
    },
    clear() {
      generation++
      entries.clear()
      pending.clear()
    },
  }
}

export function createPathResolver(db: Db, ttlMs = 5000, maxEntries = 50_000): PathResolver {
  const paths = cached<Resource | null>(ttlMs, maxEntries)
  // only rows that exist: a name looked up before it was created must be found once it is
  const rows = cached<Resource | null>(ttlMs, maxEntries, (row) => row !== null)
  const findLive: FindLive = (liveKey) => rows.get(liveKey, () => db.resource.findUnique({ where: { liveKey } }))
  return {
    resolve: (path) =>
      paths.get(path, async () => {
        const names = splitPath(path)
        const found = await findNearest(db, names, findLive)
        return found && found.depth === names.length ? found.resource : null
      }),
    peek: (path) => paths.peek(path),
    findLive,
    remember(resource) {
      if (resource.liveKey && !resource.deleted) rows.set(resource.liveKey, resource)
    },
    invalidate() {
      paths.clear()
      rows.clear()
    },
  }
}

const shared = new WeakMap<CoreContext, { resolver: PathResolver; marker?: string }>()

/** The open core's one path resolver: the broker and REST share it. */
export function pathResolverFor(ctx: CoreContext): PathResolver {
  let entry = shared.get(ctx)
  if (!entry) shared.set(ctx, (entry = { resolver: createPathResolver(ctx.db) }))
  return entry.resolver
}

/**
 * The shared resolver, first emptied if the access marker moved since it was last asked (renames,
 * moves, deletes and permission changes move it): at once for changes made by this process, within a
 * second for those of other instances (core/change-markers.ts reads the marker at most once a second).
 */
export async function currentPathResolver(ctx: CoreContext): Promise<PathResolver> {
  const resolver = pathResolverFor(ctx)
  const entry = shared.get(ctx)!
  const { access } = await markerReaderFor(ctx).current()
  if (entry.marker !== access) {
    resolver.invalidate() // (also the first time: what was loaded before any marker was seen is not trusted)
    entry.marker = access
  }
  return resolver
}
