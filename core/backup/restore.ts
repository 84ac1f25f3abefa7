// `tendril restore FILE`: a backup into an empty data dir (and, on PostgreSQL, an empty database).
// Blobs go in through the configured store, which re-hashes them; the database file is put in
// place last, so a restore that fails leaves no database behind.
import { createWriteStream } from 'node:fs'
import { mkdir, mkdtemp, readdir, rename, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { checkHash, createBlobStore, FsBlobStore, type BlobStore } from '../blobs/index.ts'
import type { Config } from '../config.ts'
import { conflict, invalid } from '../errors.ts'
import { BLOB_PREFIX, DATABASE_ENTRY, MANIFEST, readArchive, type ArchiveEntry, type Manifest } from './archive.ts'
import { findPgTool, postgresTableCount, restorePostgres } from './postgres.ts'

export interface RestoreOptions {
  /** directory holding pg_restore (default: PATH) */
  pgBin?: string
}

export interface RestoreResult {
  database: Manifest['database']
  blobs: number
  created: string
}

export async function restore(config: Config, file: string, options: RestoreOptions = {}): Promise<RestoreResult> {
  await stat(file) // a missing file is reported before anything is checked or made
  const blobs = createBlobStore(config.blobstore, config.dataDir)
  const pgRestore = config.database.provider === 'postgresql' ? findPgTool('pg_restore', options.pgBin) : undefined
  const work = await mkdtemp(join(tmpdir(), 'tendril-restore-'))
  const sqlite = config.database.provider === 'sqlite' ? config.database.file : undefined
  // beside its final place, so the last step is a rename
  const databaseFile = sqlite ? `${sqlite}.restoring` : join(work, 'database.pgdump')
  try {
    await refuseNonEmptyTarget(config, blobs)
    await mkdir(dirname(databaseFile), { recursive: true })
    const { manifest, count } = await unpack(config, file, blobs, databaseFile)
    if (sqlite) await rename(databaseFile, sqlite)
    else await restorePostgres(config.database.url, databaseFile, pgRestore!)
    return { database: manifest.database, blobs: count, created: manifest.created }
  } finally {
    await rm(databaseFile, { force: true })
    await rm(work, { recursive: true, force: true })
    await blobs.close?.()
  }
}

async function isEmptyDir(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length === 0
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true
    throw err
  }
}

async function refuseNonEmptyTarget(config: Config, blobs: BlobStore): Promise<void> {
  const refuse = (what: string) => conflict(`${what} is not empty: a backup is restored into an empty one`)
  if (!(await isEmptyDir(config.dataDir))) throw refuse(`the data dir ${config.dataDir}`)
  if (blobs instanceof FsBlobStore && !(await isEmptyDir(blobs.root))) throw refuse(`the blob directory ${blobs.root}`)
  if (config.database.provider === 'sqlite') {
    const exists = await stat(config.database.file).then(
      () => true,
      () => false,
    )
    if (exists) throw conflict(`the database ${config.database.file} exists: a backup is restored into a new one`)
  } else if ((await postgresTableCount(config.database.url)) > 0) {
    throw refuse('the PostgreSQL database')
  }
}

async function unpack(config: Config, file: string, blobs: BlobStore, databaseFile: string) {
  let manifest: Manifest | undefined
  let database = false
  let count = 0
  for await (const entry of readArchive(file)) {
    const name = entry.header.name
    if (!manifest) {
      if (name !== MANIFEST) throw invalid(`${file} is not a Tendril backup`)
      manifest = checkManifest(JSON.parse((await readAll(entry)).toString('utf8')), config)
    } else if (name.startsWith(BLOB_PREFIX)) {
      await restoreBlob(blobs, name.slice(BLOB_PREFIX.length), entry)
      count++
    } else if (name === DATABASE_ENTRY[manifest.database]) {
      await pipeline(entry, createWriteStream(databaseFile))
      database = true
    } else {
      entry.resume() // written by a newer Tendril; not needed here
    }
  }
  if (!manifest || !database) throw invalid(`${file} is incomplete: it holds no database`)
  return { manifest, count }
}

function checkManifest(manifest: Manifest, config: Config): Manifest {
  if (manifest?.format !== 'tendril-backup' || manifest.version !== 1)
    throw invalid('not a Tendril backup of a version this Tendril reads')
  if (manifest.database !== config.database.provider) {
    throw invalid(
      `this is a backup of a ${manifest.database} database; restore it with --db pointing at a ${manifest.database} database`,
    )
  }
  return manifest
}

async function restoreBlob(blobs: BlobStore, name: string, entry: ArchiveEntry): Promise<void> {
  const expected = checkHash(name)
  const stored = await blobs.put(Readable.from(entry, { objectMode: false }))
  if (stored.hash === expected) return
  await blobs.delete(stored.hash)
  throw invalid(`blob ${expected} in the backup is corrupt (its bytes hash to ${stored.hash})`)
}

async function readAll(stream: ArchiveEntry): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk)
  return Buffer.concat(chunks)
}
