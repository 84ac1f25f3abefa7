// `tendril check`: every blob the database refers to is in the store and hashes to its name.
import { BlobIntegrityError, createBlobStore, type BlobStore } from '../blobs/index.ts'
import type { Config } from '../config.ts'
import { TendrilError } from '../errors.ts'
import { openPostgresReader } from './postgres.ts'
import { blobReferences, type BlobReference } from './references.ts'
import { openSqliteReader } from './sqlite.ts'

export interface BlobProblem {
  hash: string
  problem: 'missing' | 'corrupt' | 'wrong size'
  detail: string
}

export interface CheckResult {
  checked: number
  problems: BlobProblem[]
}

/** Reads the blob through the store's verifying stream; null when it is whole. */
export async function verifyBlob(blobs: BlobStore, ref: BlobReference): Promise<BlobProblem | null> {
  let size = 0
  try {
    for await (const chunk of await blobs.get(ref.hash)) size += (chunk as Buffer).length
  } catch (err) {
    if (err instanceof TendrilError && err.code === 'not_found')
      return { hash: ref.hash, problem: 'missing', detail: 'not in the blob store' }
    if (err instanceof BlobIntegrityError)
      return { hash: ref.hash, problem: 'corrupt', detail: `its bytes hash to ${err.actual}` }
    throw err
  }
  if (size !== ref.size)
    return { hash: ref.hash, problem: 'wrong size', detail: `${size} bytes, the revision says ${ref.size}` }
  return null
}

export async function checkBlobs(references: AsyncIterable<BlobReference>, blobs: BlobStore): Promise<CheckResult> {
  const result: CheckResult = { checked: 0, problems: [] }
  for await (const ref of references) {
    result.checked++
    const problem = await verifyBlob(blobs, ref)
    if (problem) result.problems.push(problem)
  }
  return result
}

/** Checks the blobs of the configured database and blob store. */
export async function checkStore(config: Config): Promise<CheckResult> {
  const blobs = createBlobStore(config.blobstore, config.dataDir)
  const reader =
    config.database.provider === 'sqlite'
      ? openSqliteReader(config.database.file)
      : await openPostgresReader(config.database.url)
  try {
    return await checkBlobs(blobReferences(reader.references), blobs)
  } finally {
    await reader.close()
    await blobs.close?.()
  }
}
