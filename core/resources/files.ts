// File contents with full revision history. Every write adds a revision and moves lastRevisionId;
// small revisions stay inline in the row, large ones are streamed into the blob store (revisions.ts).
//
// Blob lifetime for streamed uploads: the bytes are put in the store before the transaction, and
// cannot be put again from memory afterwards (they were never all in memory). So the transaction
// that references the blob first takes the blob-reference lock and then checks the blob is still
// there: a collector deletes only under the exclusive lock, so once our check passes under the
// shared lock, nothing can remove the blob before our reference commits.
import { Readable } from 'node:stream'
import type { BlobStore } from '../blobs/index.ts'
import type { CoreContext } from '../context.ts'
import { inTransaction, type DbClient, type Resource } from '../db/index.ts'
import { conflict, invalid, notFound, tooLarge } from '../errors.ts'
import { formatTimestamp } from '../messages/timestamps.ts'
import {
  collectUnreferencedBlobs,
  holdBlobReferences,
  insertRevisionRows,
  lockBlobCollection,
  type RevisionContent,
} from './revisions.ts'
import { ResourceType } from './types.ts'
import { queueThumbnail } from '../images/queue.ts'
import { makeFileThumbnail } from '../images/thumbnails.ts'

/**
 * Where the bytes of one upload went: inline (read whole, at most inlineBytes) or into the blob store,
 * streamed, refusing (too_large) past maxBytes without keeping anything.
 */
export async function receiveContent(
  ctx: CoreContext,
  blobs: BlobStore,
  source: Readable | Buffer,
  maxBytes: number,
): Promise<RevisionContent> {
  if (Buffer.isBuffer(source)) {
    if (source.length > maxBytes) throw tooLarge(`the upload is larger than the limit of ${maxBytes} bytes`)
    if (source.length <= ctx.config.inlineBytes)
      return { data: source as Uint8Array<ArrayBuffer>, blobHash: null, size: source.length }
    const blob = await blobs.put(source, { maxBytes })
    return { data: null, blobHash: blob.hash, size: blob.size }
  }
  const iterator = source[Symbol.asyncIterator]()
  const head: Buffer[] = []
  let headSize = 0
  // read just past the inline threshold to learn which side of it the upload is
  while (headSize <= ctx.config.inlineBytes) {
    const next = await iterator.next()
    if (next.done) {
      const data = Buffer.concat(head)
      return { data: data as Uint8Array<ArrayBuffer>, blobHash: null, size: data.length }
    }
    const chunk = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value as Uint8Array)
    head.push(chunk)
    headSize += chunk.length
  }
  async function* all() {
    yield* head
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value as Buffer
  }
  try {
    const blob = await blobs.put(Readable.from(all(), { objectMode: false }), { maxBytes })
    return { data: null, blobHash: blob.hash, size: blob.size }
  } finally {
    if (!source.destroyed && !source.readableEnded) source.destroy()
  }
}

/** Undoes receiveContent when the write it was for is refused: the blob goes unless something refers to it. */
export async function discardContent(
  ctx: CoreContext,
  blobs: BlobStore,
  content: RevisionContent | undefined,
): Promise<void> {
  if (!content?.blobHash) return
  const hash = content.blobHash
  await inTransaction(ctx.db, async (tx) => {
    await lockBlobCollection(tx)
    await collectUnreferencedBlobs(ctx, tx, blobs, [hash])
  }).catch((err: unknown) => ctx.log.warn({ err, hash }, 'could not discard an unused upload'))
}

/**
 * Adds a revision to a live file inside the caller's transaction and makes it the latest.
 * Call with content from receiveContent; see the top of this file for why the blob is checked here.
 */
export async function addFileRevision(
  tx: DbClient,
  blobs: BlobStore,
  file: Pick<Resource, 'id' | 'type'>,
  content: RevisionContent,
  timestamp = new Date(),
): Promise<number> {
  if (file.type !== ResourceType.file) throw invalid('only a file has file revisions')
  if (content.blobHash !== null) {
    await holdBlobReferences(tx)
    if (!(await blobs.has(content.blobHash)))
      throw conflict('the upload was removed while it was being stored; send it again')
  }
  const [revisionId] = await insertRevisionRows(tx, [{ resourceId: file.id, timestamp, content, numericValue: null }])
  await tx.resource.update({ where: { id: file.id }, data: { lastRevisionId: revisionId!, modifiedAt: timestamp } })
  return revisionId!
}

const THUMBNAILED = /\.(png|jpe?g)$/i

/**
 * Queues the 120 px thumbnail of a png/jpg file's new revision; it is made after the response (core/images/queue.ts).
 */
export async function afterFileRevision(
  ctx: CoreContext,
  blobs: BlobStore,
  file: Pick<Resource, 'id' | 'name'>,
  revisionId: number,
): Promise<void> {
  if (!THUMBNAILED.test(file.name)) return
  queueThumbnail(ctx, `file ${file.id} revision ${revisionId}`, () =>
    makeFileThumbnail(ctx, blobs, file.id, revisionId),
  )
}

/** thumbnail=1: the 120 px JPEG of a file revision, once it has been made. */
export async function fileThumbnail(db: DbClient, fileId: number, revisionId: number) {
  const thumbnail = await db.thumbnail.findFirst({
    where: { resourceId: fileId, revisionId },
    orderBy: { id: 'desc' },
    select: { data: true, format: true },
  })
  if (!thumbnail)
    throw notFound('no thumbnail for this revision (only png and jpg files get one, shortly after upload)')
  return thumbnail
}

/** Beyond this a file's revision list is refused (413) rather than built or cut short. */
export const MAX_REVISIONS_LISTED = 10_000

/** revisions=1: a file's revisions, oldest first. */
export async function listRevisions(db: DbClient, fileId: number) {
  const rows = await db.resourceRevision.findMany({
    where: { resourceId: fileId },
    orderBy: [{ timestamp: 'asc' }, { id: 'asc' }],
    select: { id: true, timestamp: true, size: true },
    take: MAX_REVISIONS_LISTED + 1,
  })
  if (rows.length > MAX_REVISIONS_LISTED)
    throw tooLarge(`the file has more than ${MAX_REVISIONS_LISTED} revisions, too many to list`)
  return rows.map((r) => ({ id: r.id, timestamp: formatTimestamp(r.timestamp), size: r.size }))
}

/** The revision to read: the latest, or rev= if it belongs to this resource. */
export async function fileRevision(db: DbClient, file: Resource, revisionId?: number) {
  const id = revisionId ?? file.lastRevisionId
  if (id === null || id === undefined) return null
  const revision = await db.resourceRevision.findUnique({ where: { id } })
  if (!revision || revision.resourceId !== file.id) throw notFound(`revision ${id} not found for this resource`)
  return revision
}
