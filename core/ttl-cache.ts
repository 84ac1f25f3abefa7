// A small TTL cache for lookups the broker and REST repeat many times a second (paths, rows, access
// levels): concurrent misses on one key share one load, and a clear() drops loads started before it,
// so an answer from before a change is never kept after it.
export interface TtlCache<T> {
  get(key: string, load: () => Promise<T>): Promise<T>
  set(key: string, value: T): void
  peek(key: string): T | undefined
  clear(): void
}

/** A TTL cache whose concurrent misses on one key share one load, and which drops loads started before a clear(). */
export function ttlCache<T>(ttlMs: number, maxEntries: number, keep: (value: T) => boolean = () => true): TtlCache<T> {
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
