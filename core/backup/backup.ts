// `tendril backup FILE`: a consistent snapshot of the database (SQLite's online backup API, or
// pg_dump) and every blob that snapshot refers to, while the server runs.
import { createReadStream } from 'node:fs'
import { rm, stat } from 'node:fs/promises'
import type { Config } from '../config.ts'
import { createBlobStore, MemoryBlobStore, S3BlobStore, type BlobStore } from '../blobs/index.ts'
import { TendrilError } from '../errors.ts'
import { version } from '../version.ts'
import { ArchiveWriter, BLOB_PREFIX, DATABASE_ENTRY, MANIFEST, type Manifest } from './archive.ts'
import { verifyBlob, type BlobProblem } from './check.ts'
import { dumpPostgres, findPgTool, openPostgresReader } from './postgres.ts'
import { blobReferences, type BlobReference, type ReferencePage } from './references.ts'
import { openSqliteReader, snapshotSqlite } from './sqlite.ts'

export interface BackupOptions {
  /** directory holding pg_dump (default: PATH) */
  pgBin?: string
}

export interface BackupResult {
  file: string
  database: Manifest['database']
  blobsIncluded: boolean
  blobs: number
  bytes: number
}

/** Blobs the database refers to are missing or corrupt: a backup of them would not restore. */
export class BlobProblemsError extends TendrilError {
  readonly problems: BlobProblem[]
  constructor(problems: BlobProblem[]) {
    super('conflict', `${problems.length} blob(s) the database refers to are missing or corrupt; no backup was written`)
    this.problems = problems
  }
}

/** A blob went missing because it was collected after the snapshot: a newer snapshot will not refer to it. */
class SnapshotOutdated extends Error {}

const ATTEMPTS = 3

export async function backup(config: Config, file: string, options: BackupOptions = {}): Promise<BackupResult> {
  const blobs = createBlobStore(config.blobstore, config.dataDir)
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        return await backupOnce(config, file, blobs, options)
      } catch (err) {
        if (!(err instanceof SnapshotOutdated) || attempt === ATTEMPTS) throw err
      }
    }
  } finally {
    await blobs.close?.()
  }
}

async function backupOnce(
  config: Config,
  file: string,
  blobs: BlobStore,
  options: BackupOptions,
): Promise<BackupResult> {
  const provider = config.database.provider
  // S3 keeps its objects with its own versioning and replication; memory: has nothing to copy
  const blobsIncluded = !(blobs instanceof S3BlobStore || blobs instanceof MemoryBlobStore)
  const manifest: Manifest = {
    format: 'tendril-backup',
    version: 1,
    tendril: version,
    created: new Date().toISOString(),
    database: provider,
    blobsIncluded,
  }
  const snapshot = `${file}.database.partial`
  const writer = new ArchiveWriter(file)
  let count = 0
  try {
    await writer.add(MANIFEST, Buffer.from(JSON.stringify(manifest, null, 2)))
    const copy = async (page: ReferencePage, isReferenced: (hash: string) => Promise<boolean>) => {
      if (blobsIncluded) count = await copyBlobs(writer, blobs, blobReferences(page), isReferenced)
    }
    if (config.database.provider === 'sqlite') await snapshotSqliteWithBlobs(config.database.file, snapshot, copy)
    else await snapshotPostgresWithBlobs(config.database.url, snapshot, findPgTool('pg_dump', options.pgBin), copy)
    await writer.addStream(DATABASE_ENTRY[provider], (await stat(snapshot)).size, createReadStream(snapshot))
    await writer.finish()
  } catch (err) {
    await writer.abort()
    throw err
  } finally {
    await rm(snapshot, { force: true })
  }
  return { file, database: provider, blobsIncluded, blobs: count, bytes: (await stat(file)).size }
}

type CopyBlobs = (page: ReferencePage, isReferenced: (hash: string) => Promise<boolean>) => Promise<void>

async function snapshotSqliteWithBlobs(file: string, snapshot: string, copy: CopyBlobs): Promise<void> {
  await snapshotSqlite(file, snapshot)
  const taken = openSqliteReader(snapshot)
  const live = openSqliteReader(file)
  try {
    await copy(taken.references, async (hash) => live.isReferenced(hash))
  } finally {
    taken.close()
    live.close()
  }
}

async function snapshotPostgresWithBlobs(
  url: string,
  dumpFile: string,
  pgDump: string,
  copy: CopyBlobs,
): Promise<void> {
  const live = await openPostgresReader(url)
  try {
    await dumpPostgres(url, dumpFile, pgDump, (page) => copy(page, live.isReferenced))
  } finally {
    await live.close()
  }
}

/** Streams each referenced blob into the archive; after the first problem, lists every problem and refuses. */
async function copyBlobs(
  writer: ArchiveWriter,
  blobs: BlobStore,
  references: AsyncIterable<BlobReference>,
  isReferenced: (hash: string) => Promise<boolean>,
): Promise<number> {
  let count = 0
  const problems: BlobProblem[] = []
  const record = async (problem: BlobProblem | null) => {
    if (!problem) return
    if (problem.problem === 'missing' && !(await isReferenced(problem.hash))) throw new SnapshotOutdated()
    problems.push(problem)
  }
  for await (const ref of references) {
    if (problems.length) {
      await record(await verifyBlob(blobs, ref))
      continue
    }
    try {
      await writer.addStream(BLOB_PREFIX + ref.hash, ref.size, await blobs.get(ref.hash))
      count++
    } catch (err) {
      // the archive is broken now: a blob at fault is recorded, anything else (a full disk) is the error
      const problem = await verifyBlob(blobs, ref)
      if (!problem) throw err
      await record(problem)
    }
  }
  if (problems.length) throw new BlobProblemsError(problems)
  return count
}
