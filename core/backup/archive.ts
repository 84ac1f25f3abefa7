// The backup file: a gzipped tar (tar-stream) of a manifest, the database snapshot and the blobs
// under blobs/<hash>. Entries stream with their size in the header, so no blob is held in memory.
import { once } from 'node:events'
import { createReadStream, createWriteStream } from 'node:fs'
import { rename, rm } from 'node:fs/promises'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createGunzip, createGzip } from 'node:zlib'
import tar, { type Pack } from 'tar-stream'
import { invalid } from '../errors.ts'

export const MANIFEST = 'tendril-backup.json'
export const BLOB_PREFIX = 'blobs/'
export const DATABASE_ENTRY = { sqlite: 'database/tendril.db', postgresql: 'database/tendril.pgdump' } as const

export interface Manifest {
  format: 'tendril-backup'
  version: 1
  tendril: string
  created: string
  database: 'sqlite' | 'postgresql'
  /** false when the blob store is backed up by its own means (S3) */
  blobsIncluded: boolean
}

/** Writes to FILE.partial and renames it into place on finish, so FILE is only ever a whole backup. */
export class ArchiveWriter {
  readonly #pack = tar.pack()
  readonly #written: Promise<void>
  readonly #file: string
  readonly #partial: string

  constructor(file: string) {
    this.#file = file
    this.#partial = `${file}.partial`
    this.#written = pipeline(this.#pack, createGzip(), createWriteStream(this.#partial))
    this.#written.catch(() => {}) // awaited in finish/abort
  }

  add(name: string, bytes: Buffer): Promise<void> {
    return new Promise((resolve, reject) =>
      this.#pack.entry({ name, size: bytes.length }, bytes, (err) => (err ? reject(err) : resolve())),
    )
  }

  /** Streams `size` bytes from source into one entry; a source that errors or differs in size breaks the archive. */
  async addStream(name: string, size: number, source: Readable | AsyncIterable<Buffer>): Promise<void> {
    let entry!: ReturnType<Pack['entry']>
    const done = new Promise<void>(
      (resolve, reject) => (entry = this.#pack.entry({ name, size }, (err) => (err ? reject(err) : resolve()))),
    )
    entry.on('error', () => {}) // reported through `done`
    try {
      for await (const chunk of source) if (!entry.write(chunk)) await once(entry, 'drain')
      entry.end(undefined)
    } catch (err) {
      entry.destroy(err as Error)
      done.catch(() => {}) // the source's error is the one to report
      throw err
    }
    await done
  }

  async finish(): Promise<void> {
    this.#pack.finalize()
    await this.#written
    await rename(this.#partial, this.#file)
  }

  async abort(): Promise<void> {
    this.#pack.destroy(new Error('backup aborted'))
    await this.#written.catch(() => {})
    await rm(this.#partial, { force: true })
  }
}

export type ArchiveEntry = AsyncIterable<Buffer> & { header: { name: string }; resume(): unknown }

/** The archive's entries in order; each must be read (or resumed) before the next arrives. */
export async function* readArchive(file: string): AsyncGenerator<ArchiveEntry> {
  const extract = tar.extract()
  const reading = pipeline(createReadStream(file), createGunzip(), extract)
  reading.catch(() => {}) // the loop below sees the same failure
  try {
    for await (const entry of extract) yield entry as unknown as ArchiveEntry // streamx types its chunks unknown
    await reading
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code?.startsWith('Z_'))
      throw invalid(`${file} is not a gzipped Tendril backup (${(err as Error).message})`)
    throw err
  }
}
