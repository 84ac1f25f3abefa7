// Content addressing on the way in and out: writers meter the bytes as they stream past (hash, size,
// limit); readers re-hash them and fail the stream if what was stored is not what was asked for.
import { createHash } from 'node:crypto'
import { pipeline, Transform, type Readable, type TransformCallback } from 'node:stream'
import { invalid, tooLarge } from '../errors.ts'
import type { StoredBlob } from './store.ts'

const HASH = /^[0-9a-f]{64}$/

/** The hash in canonical (lowercase) form, or `invalid`: backends build paths and keys only from this. */
export function checkHash(hash: unknown): string {
  const canonical = typeof hash === 'string' ? hash.toLowerCase() : ''
  if (!HASH.test(canonical)) throw invalid('a blob hash is 64 hex characters (SHA-256)')
  return canonical
}

export function checkMaxBytes(maxBytes: number | undefined): number {
  if (maxBytes === undefined) return Infinity
  if (!(maxBytes >= 0)) throw invalid('maxBytes must be a non-negative number')
  return maxBytes
}

function asBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk
  if (typeof chunk === 'string') return Buffer.from(chunk)
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
  throw invalid('a blob source must yield bytes')
}

/** Hashes and counts bytes as they pass; one meter per put. */
export class ContentMeter {
  readonly #hash = createHash('sha256')
  readonly #maxBytes: number
  #size = 0

  constructor(maxBytes?: number) {
    this.#maxBytes = checkMaxBytes(maxBytes)
  }

  /**
   * Yields the source's bytes unchanged. Past maxBytes it throws too_large before yielding the
   * offending chunk; leaving the loop destroys the source stream, so nothing more is read.
   */
  async *pass(source: Readable | Buffer): AsyncGenerator<Buffer> {
    if (Buffer.isBuffer(source)) {
      this.#add(source)
      yield source
      return
    }
    for await (const chunk of source) {
      const bytes = asBuffer(chunk)
      this.#add(bytes)
      yield bytes
    }
  }

  #add(bytes: Buffer): void {
    this.#size += bytes.length
    if (this.#size > this.#maxBytes) throw tooLarge(`the blob is larger than ${this.#maxBytes} bytes`)
    this.#hash.update(bytes)
  }

  /** Call once, after the source is exhausted. */
  result(): StoredBlob {
    return { hash: this.#hash.digest('hex'), size: this.#size }
  }
}

/** Stored bytes that no longer match their hash (disk corruption, tampering, a truncated object). */
export class BlobIntegrityError extends Error {
  readonly expected: string
  readonly actual: string
  constructor(expected: string, actual: string) {
    super(`blob ${expected} is corrupt: its bytes hash to ${actual}`)
    this.name = 'BlobIntegrityError'
    this.expected = expected
    this.actual = actual
  }
}

/**
 * Passes `stored` through, hashing as it goes; the stream errors at the end if the hash differs.
 * The bytes before that point have already been handed on, so a consumer must treat the error as
 * "discard what you got" (an HTTP response is aborted rather than completed).
 */
export function verified(stored: Readable, hash: string): Readable {
  const digest = createHash('sha256')
  const check = new Transform({
    transform(chunk: Buffer, _encoding, done: TransformCallback) {
      digest.update(chunk)
      done(null, chunk)
    },
    flush(done: TransformCallback) {
      const actual = digest.digest('hex')
      done(actual === hash ? null : new BlobIntegrityError(hash, actual))
    },
  })
  // pipeline forwards read errors to `check` and closes `stored` if the consumer gives up early.
  return pipeline(stored, check, () => {})
}
