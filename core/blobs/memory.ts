// In-memory backend for tests: whole blobs live in a Map, which is the one place buffering is fine.
import { Readable } from 'node:stream'
import { notFound } from '../errors.ts'
import { checkHash, ContentMeter, verified } from './digest.ts'
import type { BlobStore, PutOptions, StoredBlob } from './store.ts'

export class MemoryBlobStore implements BlobStore {
  readonly #blobs = new Map<string, Buffer>()

  /** How many distinct blobs are stored (tests use it to check deduplication). */
  get count(): number {
    return this.#blobs.size
  }

  async put(source: Readable | Buffer, opts: PutOptions = {}): Promise<StoredBlob> {
    const meter = new ContentMeter(opts.maxBytes)
    const chunks: Buffer[] = []
    for await (const chunk of meter.pass(source)) chunks.push(chunk)
    const blob = meter.result()
    // concat copies, so a caller reusing its buffer cannot change a stored blob.
    if (!this.#blobs.has(blob.hash)) this.#blobs.set(blob.hash, Buffer.concat(chunks))
    return blob
  }

  async get(hash: string): Promise<Readable> {
    const key = checkHash(hash)
    const bytes = this.#blobs.get(key)
    if (!bytes) throw notFound(`blob ${key} not found`)
    return verified(Readable.from([Buffer.from(bytes)]), key)
  }

  async has(hash: string): Promise<boolean> {
    return this.#blobs.has(checkHash(hash))
  }

  async delete(hash: string): Promise<void> {
    this.#blobs.delete(checkHash(hash))
  }
}
