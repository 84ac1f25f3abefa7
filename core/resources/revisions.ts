// Where a revision's bytes live: inline in the row up to config.inlineBytes (rhizo's 1000-byte rule),
// else in the content-addressed blob store with the row keeping blobHash + size (docs/architecture.md).
//
// Blob lifetime. Blobs are shared by identical revisions and written BEFORE the transaction that
// references them, so the retention job must never delete a blob that a concurrent writer has just
// put and is about to reference. The protocol, in both providers:
//   - a writer references blobs inside a transaction that holds the blob-reference lock in shared
//     mode, and after commit checks each blob is still there (re-putting it from memory if not);
//   - the collector deletes an unreferenced blob only inside a transaction holding the lock
//     exclusively, after re-checking that no revision refers to it.
// On SQLite every write transaction already holds the database's single write lock (inTransaction
// takes it up front); on PostgreSQL the lock is a transaction-level advisory lock.
import type { Readable } from 'node:stream'
import type { BlobStore } from '../blobs/index.ts'
import type { CoreContext } from '../context.ts'
import type { DbClient } from '../db/index.ts'
import { notFound } from '../errors.ts'
import { ResourceType } from './types.ts'

export interface RevisionContent {
  data: Uint8Array<ArrayBuffer> | null
  blobHash: string | null
  size: number
}

export type Provider = 'sqlite' | 'postgresql'

/**
 * The SQL dialect behind a client (or an open transaction), for the few queries written per provider.
 * core/db keeps its own record of SQLite clients private, so this reads Prisma's active provider.
 */
export function providerOf(db: DbClient): Provider {
  const provider = (db as unknown as { _activeProvider?: string })._activeProvider
  if (provider === 'sqlite' || provider === 'postgresql') return provider
  throw new Error(`unsupported database provider ${JSON.stringify(provider)}`)
}

/**
 * A DateTime as the database keeps it, for raw SQL that builds values inside the statement (JSON
 * parameters). SQLite: ISO 8601 text exactly as @prisma/adapter-better-sqlite3 writes it with its
 * default timestampFormat "iso8601" ("2024-05-01T12:00:00.123+00:00"), so raw and Prisma-written rows
 * compare and sort alike as text. PostgreSQL: timestamp(3) without time zone, in UTC.
 */
export function sqlTimestamp(provider: Provider, d: Date): string {
  // the broker writes a row per message, many within one millisecond: the last answer is kept
  const ms = d.getTime()
  const last = lastTimestamp[provider]
  if (last.ms === ms) return last.text
  const iso = d.toISOString()
  const text = provider === 'sqlite' ? iso.slice(0, -1) + '+00:00' : iso.slice(0, -1)
  lastTimestamp[provider] = { ms, text }
  return text
}

const lastTimestamp: Record<Provider, { ms: number; text: string }> = {
  sqlite: { ms: NaN, text: '' },
  postgresql: { ms: NaN, text: '' },
}

/** Any 64-bit number no other module uses as an advisory lock key ("tendril blob refs"). */
const BLOB_REFERENCE_LOCK = 0x7465_6e64_626c_6f62n

/** Taken by a transaction that inserts revisions referring to blobs (see the top of this file). */
export async function holdBlobReferences(tx: DbClient): Promise<void> {
  if (providerOf(tx) === 'postgresql')
    await tx.$executeRawUnsafe(`SELECT pg_advisory_xact_lock_shared(${BLOB_REFERENCE_LOCK})`)
}

/** Taken by a transaction that deletes blobs no revision refers to (see the top of this file). */
export async function lockBlobCollection(tx: DbClient): Promise<void> {
  if (providerOf(tx) === 'postgresql')
    await tx.$executeRawUnsafe(`SELECT pg_advisory_xact_lock(${BLOB_REFERENCE_LOCK})`)
}

/** How bytes are kept in a revision row: inline, or put in the blob store first. */
export async function placeRevisionBytes(ctx: CoreContext, blobs: BlobStore, bytes: Buffer): Promise<RevisionContent> {
  // Node allocates Buffers on plain ArrayBuffers, never shared ones
  if (bytes.length <= ctx.config.inlineBytes)
    return { data: bytes as Uint8Array<ArrayBuffer>, blobHash: null, size: bytes.length }
  const blob = await blobs.put(bytes)
  return { data: null, blobHash: blob.hash, size: blob.size }
}

export interface NewRevision {
  resourceId: number
  timestamp: Date
  content: RevisionContent
  numericValue: number | null
}

/** Rows per INSERT: bounds the JSON parameter (inline data is hex, ≤ 2 × inlineBytes per row). */
const INSERT_CHUNK = 1000

/**
 * Inserts revisions with one statement per thousand rows, the rows passed as one JSON parameter:
 * Prisma's createMany spent ~0.14 ms per row (140 ms per 1000) on both providers, five to fifteen
 * times what this statement takes. Returns the new ids in the order given (ids grow in insertion
 * order within one statement, so sorting what RETURNING lists restores it).
 */
export async function insertRevisionRows(tx: DbClient, revisions: NewRevision[]): Promise<number[]> {
  const provider = providerOf(tx)
  const ids: number[] = []
  for (let i = 0; i < revisions.length; i += INSERT_CHUNK) {
    const rows = revisions.slice(i, i + INSERT_CHUNK).map((r) => ({
      r: r.resourceId,
      t: sqlTimestamp(provider, r.timestamp),
      d:
        r.content.data === null
          ? null
          : Buffer.from(r.content.data.buffer, r.content.data.byteOffset, r.content.data.byteLength).toString('hex'),
      h: r.content.blobHash,
      s: r.content.size,
      n: r.numericValue,
    }))
    const json = JSON.stringify(rows)
    const inserted =
      provider === 'sqlite'
        ? await tx.$queryRaw<{ id: number | bigint }[]>`
            INSERT INTO "ResourceRevision" ("resourceId", "timestamp", "data", "blobHash", "size", "numericValue")
            SELECT value ->> 'r', value ->> 't', unhex(value ->> 'd'), value ->> 'h', value ->> 's', value ->> 'n'
            FROM json_each(${json}) ORDER BY key
            RETURNING id`
        : await tx.$queryRaw<{ id: number | bigint }[]>`
            INSERT INTO "ResourceRevision" ("resourceId", "timestamp", "data", "blobHash", "size", "numericValue")
            SELECT x.r, x.t, decode(x.d, 'hex'), x.h, x.s, x.n
            FROM ROWS FROM (json_to_recordset(${json}::json) AS (r int, t timestamp(3), d text, h text, s int, n float8))
                 WITH ORDINALITY AS x(r, t, d, h, s, n, o)
            ORDER BY x.o
            RETURNING id`
    ids.push(...inserted.map((r) => Number(r.id)).sort((a, b) => a - b))
  }
  return ids
}

/**
 * After the transaction that referenced these blobs committed: puts back any that a collector
 * removed between our put and our commit (the collector saw no reference yet).
 */
export async function ensureBlobsKept(blobs: BlobStore, written: Map<string, Buffer>): Promise<void> {
  for (const [hash, bytes] of written) {
    if (!(await blobs.has(hash))) await blobs.put(bytes)
  }
}

/**
 * Deletes those of the hashes no revision refers to any more; call inside a transaction that holds lockBlobCollection.
 */
export async function collectUnreferencedBlobs(
  ctx: CoreContext,
  tx: DbClient,
  blobs: BlobStore,
  hashes: Iterable<string>,
): Promise<number> {
  const candidates = [...new Set(hashes)]
  if (candidates.length === 0) return 0
  const referenced = await tx.resourceRevision.findMany({
    where: { blobHash: { in: candidates } },
    select: { blobHash: true },
    distinct: ['blobHash'],
  })
  const kept = new Set(referenced.map((r) => r.blobHash))
  let deleted = 0
  for (const hash of candidates) {
    if (kept.has(hash)) continue
    try {
      await blobs.delete(hash)
      deleted++
    } catch (err) {
      // leaking a blob is harmless; failing the transaction would restore revisions whose blobs are half gone
      ctx.log.warn({ err, hash }, 'could not delete an unreferenced blob')
    }
  }
  return deleted
}

/** A revision's bytes: a Buffer when inline, a verified stream from the blob store when large. */
export async function readRevision(
  _ctx: CoreContext,
  blobs: BlobStore,
  revision: RevisionContent,
): Promise<Buffer | Readable> {
  return openRevision(blobs, revision)
}

async function openRevision(blobs: BlobStore, revision: RevisionContent): Promise<Buffer | Readable> {
  if (revision.data !== null)
    return Buffer.from(revision.data.buffer, revision.data.byteOffset, revision.data.byteLength)
  if (revision.blobHash === null) throw notFound('the revision has no content')
  return blobs.get(revision.blobHash)
}

/** Reads a revision's bytes whole: only for values known to be small enough (text values). */
export async function readRevisionBytes(blobs: BlobStore, revision: RevisionContent): Promise<Buffer> {
  const body = await openRevision(blobs, revision)
  if (Buffer.isBuffer(body)) return body
  const chunks: Buffer[] = []
  for await (const chunk of body) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

export interface RevisionBody {
  revisionId: number
  timestamp: Date
  size: number
  body: Buffer | Readable
}

/** The newest value of a live sequence (the revision lastRevisionId names), or null before the first one. */
export async function latestValue(
  ctx: CoreContext,
  blobs: BlobStore,
  sequenceId: number,
): Promise<RevisionBody | null> {
  const sequence = await ctx.db.resource.findUnique({
    where: { id: sequenceId },
    select: { type: true, deleted: true, lastRevisionId: true },
  })
  if (!sequence || sequence.deleted || sequence.type !== ResourceType.sequence)
    throw notFound(`sequence ${sequenceId} not found`)
  if (sequence.lastRevisionId === null) return null
  return revisionBody(ctx, blobs, sequenceId, sequence.lastRevisionId)
}

/** One revision of a resource by id (REST `rev=`); not_found if it belongs to another resource. */
export async function revisionBody(
  ctx: CoreContext,
  blobs: BlobStore,
  resourceId: number,
  revisionId: number,
): Promise<RevisionBody | null> {
  const revision = await ctx.db.resourceRevision.findUnique({ where: { id: revisionId } })
  if (!revision || revision.resourceId !== resourceId) return null
  return {
    revisionId: revision.id,
    timestamp: revision.timestamp,
    size: revision.size,
    body: await readRevision(ctx, blobs, revision),
  }
}
