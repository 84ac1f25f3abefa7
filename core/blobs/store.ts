// The blob store contract every backend keeps. A blob's key is the lowercase hex SHA-256 of its
// bytes, so identical content is stored once and any reader can check what it got.
import type { Readable } from 'node:stream'

export interface StoredBlob {
  /** lowercase hex SHA-256 of the bytes */
  hash: string
  size: number
}

export interface PutOptions {
  /** refuse (code too_large) and keep nothing once the source passes this many bytes */
  maxBytes?: number
}

export interface BlobStore {
  /** Streams the source in; never holds a whole large blob in memory (the memory backend aside). */
  put(source: Readable | Buffer, opts?: PutOptions): Promise<StoredBlob>
  /** A stream of the bytes that errors (BlobIntegrityError) if they do not hash to `hash`; not_found if absent. */
  get(hash: string): Promise<Readable>
  has(hash: string): Promise<boolean>
  /** Idempotent: deleting an absent blob succeeds, as it does on S3. */
  delete(hash: string): Promise<void>
  close?(): Promise<void>
}
