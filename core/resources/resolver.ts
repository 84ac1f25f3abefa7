// Path -> live resource with a short-lived cache: the broker resolves a topic for every message,
// and paths change rarely. Anything that renames, moves or deletes calls invalidate() (the broker
// does when the access version moves, which such changes move). A miss (a sub-topic, a name not
// created yet) is kept only a second, and creating a resource forgets the misses on its path at once.
// Beneath the paths, the rows themselves are cached by liveKey, so that walking a path (access
// checks) reads an organization or a folder shared by thousands of controllers once.
import { markerReaderFor } from '../change-markers.ts'
import type { CoreContext } from '../context.ts'
import type { Db, Resource } from '../db/index.ts'
import { ttlCache } from '../ttl-cache.ts'
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
  /** forgets what it knew of this path and those above it (they were just created) */
  forgetMissing(path: string): void
  invalidate(): void
}

/** How long a path found missing stays missing: a resource created through another instance is found after this. */
export const MISS_TTL_MS = 1000

export function createPathResolver(db: Db, ttlMs = 5000, maxEntries = 50_000): PathResolver {
  const paths = ttlCache<Resource | null>(ttlMs, maxEntries, {
    ttlOf: (found) => (found ? ttlMs : Math.min(ttlMs, MISS_TTL_MS)),
  })
  // only rows that exist: a name looked up before it was created must be found once it is
  const rows = ttlCache<Resource | null>(ttlMs, maxEntries, { keep: (row) => row !== null })
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
    forgetMissing(path) {
      // every level, found or not: a lookup under way may have started before the creation
      const names = splitPath(path)
      for (let depth = 1; depth <= names.length; depth++) paths.delete('/' + names.slice(0, depth).join('/'))
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
