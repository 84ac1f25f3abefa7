// mirror:A,B — every write goes to both stores, reads come from the first that answers. Typical use:
// a local disk in front of S3, or two buckets during a migration.
import { PassThrough, type Readable } from 'node:stream'
import { checkHash } from './digest.ts'
import type { BlobStore, PutOptions, StoredBlob } from './store.ts'

export class MirrorBlobStore implements BlobStore {
  readonly stores: readonly [BlobStore, BlobStore]

  constructor(primary: BlobStore, secondary: BlobStore) {
    this.stores = [primary, secondary]
  }

  /**
   * Tees the source into both stores at the pace of the slower one. If either fails, the other is
   * cancelled and the put rejects; a copy one store already completed stays, as harmless unreferenced
   * content (deleting it could remove a blob that existed before this put).
   */
  async put(source: Readable | Buffer, opts?: PutOptions): Promise<StoredBlob> {
    if (Buffer.isBuffer(source)) return bothOrFirstError(this.stores.map((store) => store.put(source, opts)))
    const branches = this.stores.map(() => new PassThrough())
    let failure: unknown
    const cancel = (err: unknown) => {
      failure ??= err
      source.destroy()
      // Without an error: a branch nobody reads any more has no 'error' listener. A store still
      // reading sees a premature close, and the put reports `failure`, the cause.
      for (const branch of branches) branch.destroy()
    }
    source.on('error', cancel) // pipe() does not forward source errors
    for (const branch of branches) source.pipe(branch)
    const puts = this.stores.map((store, i) =>
      store.put(branches[i]!, opts).catch((err) => (cancel(err), Promise.reject(err))),
    )
    return bothOrFirstError(puts, () => failure)
  }

  async get(hash: string): Promise<Readable> {
    const key = checkHash(hash)
    return this.stores[0].get(key).catch(() => this.stores[1].get(key))
  }

  async has(hash: string): Promise<boolean> {
    const key = checkHash(hash)
    return this.stores[0].has(key).then(
      (found) => found || this.stores[1].has(key),
      () => this.stores[1].has(key),
    )
  }

  async delete(hash: string): Promise<void> {
    const key = checkHash(hash)
    await bothOrFirstError(this.stores.map((store) => store.delete(key)))
  }

  async close(): Promise<void> {
    await bothOrFirstError(this.stores.map(async (store) => store.close?.()))
  }
}

/** Waits for every operation (so none is still writing when we return), then fails with the first error. */
async function bothOrFirstError<T>(operations: Promise<T>[], firstError?: () => unknown): Promise<T> {
  const results = await Promise.allSettled(operations)
  const failed = results.find((r) => r.status === 'rejected')
  if (failed) throw firstError?.() ?? failed.reason
  return (results[0] as PromiseFulfilledResult<T>).value
}
