// A small TTL cache for lookups the broker and REST repeat many times a second (paths, rows, access
// levels): concurrent misses on one key share one load, and a clear() drops loads started before it,
// so an answer from before a change is never kept after it.
export interface TtlCache<T> {
  get(key: string, load: () => Promise<T>): Promise<T>
  set(key: string, value: T): void
  peek(key: string): T | undefined
  delete(key: string): void
  clear(): void
}

export interface TtlCacheOptions<T> {
  /** whether a loaded value is kept at all (default: every value) */
  keep?: (value: T) => boolean
  /** a shorter life for some values (e.g. misses), in ms; default ttlMs */
  ttlOf?: (value: T) => number
}

/** A TTL cache whose concurrent misses on one key share one load, and which drops loads started before a clear(). */
export function ttlCache<T>(ttlMs: number, maxEntries: number, options: TtlCacheOptions<T> = {}): TtlCache<T> {
  const { keep = () => true, ttlOf = () => ttlMs } = options
  const entries = new Map<string, { value: T; until: number }>()
  const pending = new Map<string, Promise<T>>()
  const dropped = new WeakSet<Promise<T>>() // loads whose key was deleted while they ran
  let generation = 0
  const set = (key: string, value: T) => {
    if (entries.size >= maxEntries) entries.clear() // crude bound; a busy broker refills what it uses
    entries.set(key, { value, until: Date.now() + ttlOf(value) })
  }
  return {
    get(key, load) {
      const hit = entries.get(key)
      if (hit && Date.now() < hit.until) return Promise.resolve(hit.value)
      const running = pending.get(key)
      if (running) return running
      const started = generation
      const loading = load()
        .then((value) => {
          // else invalidated meanwhile: may be stale, do not keep it
          if (started === generation && !dropped.has(loading) && keep(value)) set(key, value)
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
      return hit && Date.now() < hit.until ? hit.value : undefined
    },
    delete(key) {
      entries.delete(key)
      const running = pending.get(key)
      if (running) dropped.add(running) // it may predate what made the key stale
      pending.delete(key)
    },
    clear() {
      generation++
      entries.clear()
      pending.clear()
    },
  }
}
