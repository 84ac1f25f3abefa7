// Blob-store latency for /metrics: each operation timed around the store, whichever backend it is.
import type { BlobStore } from './store.ts'

export type ObserveBlob = (operation: 'put' | 'get' | 'has' | 'delete', seconds: number) => void

export function timedBlobStore(store: BlobStore, observe: ObserveBlob): BlobStore {
  const time = <T>(operation: 'put' | 'get' | 'has' | 'delete', run: Promise<T>): Promise<T> => {
    const started = performance.now()
    return run.finally(() => observe(operation, (performance.now() - started) / 1000))
  }
  return {
    put: (source, opts) => time('put', store.put(source, opts)),
    get: (hash) => time('get', store.get(hash)),
    has: (hash) => time('has', store.has(hash)),
    delete: (hash) => time('delete', store.delete(hash)),
    ...(store.close ? { close: () => store.close!() } : {}),
  }
}
