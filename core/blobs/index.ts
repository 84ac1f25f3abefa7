// Picks a blob store from its one-line spec (a setting or flag):
//   fs            <dataDir>/blobs
//   fs:PATH       a directory (relative paths resolve against the working directory, like file: DB URLs)
//   memory:       in-process, for tests
//   s3://bucket/prefix?endpoint=…&region=…&forcePathStyle=true
//   mirror:A,B    two of the above, e.g. mirror:fs,s3://tendril-blobs
import { join, resolve } from 'node:path'
import { FsBlobStore } from './fs.ts'
import { MemoryBlobStore } from './memory.ts'
import { MirrorBlobStore } from './mirror.ts'
import { parseS3Url, S3BlobStore } from './s3.ts'
import type { BlobStore } from './store.ts'

export type { BlobStore, PutOptions, StoredBlob } from './store.ts'
export { BlobIntegrityError, checkHash } from './digest.ts'
export { FsBlobStore, MemoryBlobStore, MirrorBlobStore, S3BlobStore, parseS3Url }

const FORMS = 'fs, fs:PATH, memory:, s3://bucket/prefix or mirror:A,B'

export function createBlobStore(spec: string, dataDir: string): BlobStore {
  if (spec.startsWith('mirror:')) {
    const [first, second, ...rest] = splitMirror(spec.slice('mirror:'.length))
    if (!first || !second || rest.length)
      throw new Error(`blob store "${spec}": a mirror joins exactly two stores, as mirror:A,B`)
    if (first.startsWith('mirror:') || second.startsWith('mirror:'))
      throw new Error(`blob store "${spec}": mirrors do not nest`)
    return new MirrorBlobStore(createBlobStore(first, dataDir), createBlobStore(second, dataDir))
  }
  if (spec === 'fs') return new FsBlobStore(join(dataDir, 'blobs'))
  if (spec.startsWith('fs:')) {
    if (spec === 'fs:')
      throw new Error('blob store "fs:" needs a directory, as fs:PATH (or plain fs for <data-dir>/blobs)')
    return new FsBlobStore(resolve(spec.slice('fs:'.length)))
  }
  if (spec === 'memory:' || spec === 'memory') return new MemoryBlobStore()
  if (spec.startsWith('s3:')) {
    try {
      return new S3BlobStore(parseS3Url(spec))
    } catch (err) {
      throw new Error(`blob store: ${(err as Error).message}`, { cause: err })
    }
  }
  throw new Error(`unknown blob store "${spec}": use ${FORMS}`)
}

/** Splits only at commas that start another spec, so a comma inside an fs path survives. */
function splitMirror(list: string): string[] {
  return list.split(/,(?=fs(?:,|$)|fs:|memory:?(?:,|$)|s3:|mirror:)/)
}
