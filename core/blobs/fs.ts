// Local-disk backend. Blobs live at <root>/ab/cd/<hash> so no directory grows past 256 entries per
// level. A put streams into <root>/tmp/, fsyncs, then renames into place: rename is atomic within one
// filesystem, so readers and crashes never see a partial blob, and writers of the same content just
// replace identical bytes (which also heals a blob that rotted on disk).
import { randomUUID } from 'node:crypto'
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { Readable } from 'node:stream'
import { notFound } from '../errors.ts'
import { checkHash, ContentMeter, verified } from './digest.ts'
import type { BlobStore, PutOptions, StoredBlob } from './store.ts'

const TEMP_DIR = 'tmp' // never a two-hex-digit fan-out name, so it cannot collide with blobs
const STALE_TEMP_MS = 60 * 60 * 1000

const hasCode = (err: unknown, ...codes: string[]) => codes.includes((err as NodeJS.ErrnoException)?.code ?? '')

export class FsBlobStore implements BlobStore {
  readonly root: string
  readonly #tempDir: string
  #ready?: Promise<void>

  constructor(root: string) {
    this.root = root
    this.#tempDir = join(root, TEMP_DIR)
  }

  pathOf(hash: string): string {
    const key = checkHash(hash)
    return join(this.root, key.slice(0, 2), key.slice(2, 4), key)
  }

  async put(source: Readable | Buffer, opts: PutOptions = {}): Promise<StoredBlob> {
    const meter = new ContentMeter(opts.maxBytes)
    this.#ready ??= this.#prepare().catch((err) => {
      this.#ready = undefined // let the next put try again (e.g. once the disk is mounted)
      throw err
    })
    await this.#ready
    const temp = join(this.#tempDir, `${randomUUID()}.part`)
    try {
      await writeDurably(temp, meter.pass(source))
      const blob = meter.result()
      const path = this.pathOf(blob.hash)
      await mkdir(dirname(path), { recursive: true })
      await rename(temp, path)
      await syncDirectory(dirname(path))
      return blob
    } catch (err) {
      await rm(temp, { force: true })
      throw err
    }
  }

  async get(hash: string): Promise<Readable> {
    const key = checkHash(hash)
    try {
      const file = await open(this.pathOf(key), 'r')
      return verified(file.createReadStream(), key)
    } catch (err) {
      if (hasCode(err, 'ENOENT', 'ENOTDIR')) throw notFound(`blob ${key} not found`)
      throw err
    }
  }

  async has(hash: string): Promise<boolean> {
    try {
      return (await stat(this.pathOf(hash))).isFile()
    } catch (err) {
      if (hasCode(err, 'ENOENT', 'ENOTDIR')) return false
      throw err
    }
  }

  async delete(hash: string): Promise<void> {
    // Fan-out directories stay: removing them would race a concurrent put into the same one.
    await rm(this.pathOf(hash), { force: true })
  }

  /** Removes temp files a crashed put left behind; younger ones may belong to a put in progress. */
  async sweepTemp(olderThanMs = STALE_TEMP_MS): Promise<number> {
    const cutoff = Date.now() - olderThanMs
    let removed = 0
    for (const name of await readdir(this.#tempDir).catch(() => [])) {
      const path = join(this.#tempDir, name)
      const info = await stat(path).catch(() => undefined)
      if (!info || info.mtimeMs >= cutoff) continue
      await rm(path, { force: true })
      removed++
    }
    return removed
  }

  async #prepare(): Promise<void> {
    await mkdir(this.#tempDir, { recursive: true })
    await this.sweepTemp()
  }
}

/** Writes every chunk and fsyncs before returning, so a later rename publishes complete bytes. */
async function writeDurably(path: string, chunks: AsyncIterable<Buffer>): Promise<void> {
  const file = await open(path, 'wx', 0o644) // 'wx': a fresh temp name never clobbers anything
  try {
    for await (const chunk of chunks) {
      // write() may be partial; awaiting each write is what pulls the source at the disk's pace
      for (let done = 0; done < chunk.length;) done += (await file.write(chunk, done)).bytesWritten
    }
    await file.sync()
  } finally {
    await file.close()
  }
}

/** Makes a rename durable across power loss; some platforms cannot open directories, which is fine. */
async function syncDirectory(path: string): Promise<void> {
  const dir = await open(path, 'r').catch(() => undefined)
  if (!dir) return
  try {
    await dir.sync().catch(() => {})
  } finally {
    await dir.close()
  }
}
