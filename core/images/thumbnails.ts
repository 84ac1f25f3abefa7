// Thumbnails made with sharp (docs/architecture.md, data model): png/jpg files get a 120 px JPEG in the
// Thumbnail table; every value of an image sequence gets a 240 px JPEG stored, with the same
// timestamp, as a value of its child image sequence "thumbnail-240-x" (rhizo-server's
// resource_util.update_sequence_value). Sizes are the longest side; the aspect ratio is kept and a
// smaller image is never enlarged.
import { pipeline } from 'node:stream/promises'
import type { Readable } from 'node:stream'
import sharp, { type Sharp } from 'sharp'
import type { BlobStore } from '../blobs/index.ts'
import type { CoreContext } from '../context.ts'
import { isUniqueViolation, type Resource } from '../db/index.ts'
import { notFound } from '../errors.ts'
import { readRevision, readRevisionBytes } from '../resources/revisions.ts'
import { sequenceRules } from '../resources/sequence-values.ts'
import type { StoredValue } from '../resources/sequence-store/rules.ts'
import { storeSequenceValues } from '../resources/sequence-store/store.ts'
import { createSequence, liveKey } from '../resources/tree.ts'
import { SequenceDataType } from '../resources/types.ts'
import { queueThumbnail } from './queue.ts'

export const FILE_THUMBNAIL_SIZE = 120
export const SEQUENCE_THUMBNAIL_SIZE = 240
export const THUMBNAIL_SEQUENCE_NAME = `thumbnail-${SEQUENCE_THUMBNAIL_SIZE}-x`

/** Images larger than this many pixels are refused rather than decoded (a decompression bomb guard). */
const MAX_INPUT_PIXELS = 100_000_000

export interface Thumbnail {
  data: Buffer
  width: number
  height: number
  format: 'jpg'
}

/** A JPEG no larger than maxSide on its longest side; input may be bytes or a stream (large blobs). */
export async function makeThumbnail(input: Buffer | Readable, maxSide: number): Promise<Thumbnail> {
  const resize = () =>
    sharp({ limitInputPixels: MAX_INPUT_PIXELS, failOn: 'error' })
      .rotate() // honour EXIF orientation, as a viewer would show the photo
      .resize({ width: maxSide, height: maxSide, fit: 'inside', withoutEnlargement: true })
      .flatten({ background: '#ffffff' }) // JPEG has no alpha: transparent PNG areas become white
      .jpeg({ quality: 80 })
  let transformer: Sharp
  if (Buffer.isBuffer(input)) {
    transformer = resize()
    transformer.end(input)
  } else {
    transformer = resize()
    // the stream is piped in while sharp reads it; a source error rejects the pipeline
    void pipeline(input, transformer).catch((err: Error) => transformer.destroy(err))
  }
  const { data, info } = await transformer.toBuffer({ resolveWithObject: true })
  return { data, width: info.width, height: info.height, format: 'jpg' }
}

/** Makes the 120 px thumbnail of one revision of a png/jpg file and keeps it in the Thumbnail table. */
export async function makeFileThumbnail(
  ctx: CoreContext,
  blobs: BlobStore,
  fileResourceId: number,
  revisionId: number,
) {
  const revision = await ctx.db.resourceRevision.findUnique({ where: { id: revisionId } })
  if (!revision || revision.resourceId !== fileResourceId)
    throw notFound(`revision ${revisionId} of resource ${fileResourceId} not found`)
  const thumbnail = await makeThumbnail(await readRevision(ctx, blobs, revision), FILE_THUMBNAIL_SIZE)
  return ctx.db.thumbnail.create({
    data: {
      resourceId: fileResourceId,
      revisionId,
      width: thumbnail.width,
      height: thumbnail.height,
      format: thumbnail.format,
      data: thumbnail.data as Uint8Array<ArrayBuffer>,
    },
    select: { id: true, width: true, height: true, format: true },
  })
}

/** The image sequence's "thumbnail-240-x" child, created on first use (a concurrent creator may win). */
async function thumbnailSequence(
  ctx: CoreContext,
  sequence: Pick<Resource, 'id' | 'organizationId'>,
): Promise<Resource> {
  const key = liveKey(sequence.id, THUMBNAIL_SEQUENCE_NAME)
  const existing = await ctx.db.resource.findUnique({ where: { liveKey: key } })
  if (existing) return existing
  try {
    return await createSequence(ctx.db, sequence, THUMBNAIL_SEQUENCE_NAME, { dataType: SequenceDataType.image })
  } catch (err) {
    const raced = await ctx.db.resource.findUnique({ where: { liveKey: key } })
    if (raced && (isUniqueViolation(err) || (err as { code?: string }).code === 'conflict')) return raced
    throw err
  }
}

/** Makes the 240 px thumbnail of an image sequence value and stores it in "thumbnail-240-x" with the same timestamp. */
export async function makeSequenceThumbnail(
  ctx: CoreContext,
  blobs: BlobStore,
  sequence: Pick<Resource, 'id' | 'organizationId'>,
  image: Buffer,
  timestamp: Date,
) {
  const thumbnail = await makeThumbnail(image, SEQUENCE_THUMBNAIL_SIZE)
  const child = await thumbnailSequence(ctx, sequence)
  const { stored } = await storeSequenceValues(ctx, blobs, [{ sequenceId: child.id, value: thumbnail.data, timestamp }])
  return {
    sequenceId: child.id,
    revisionId: stored[0]?.revisionId ?? null,
    width: thumbnail.width,
    height: thumbnail.height,
  }
}

/**
 * Queues the 240 px thumbnail of each stored image value (made after the response or PUBACK,
 * core/images/queue.ts), from the bytes as stored: values come in batches whose order need not pair
 * with what was stored (min_storage_interval skips some). `sequences` are those the values were
 * written to; values of other types, and of a thumbnail sequence, get none.
 */
export function queueSequenceThumbnails(
  ctx: CoreContext,
  sequences: Resource[],
  stored: Pick<StoredValue, 'sequenceId' | 'timestamp' | 'revisionId'>[],
): void {
  if (stored.length === 0) return
  const byId = new Map(sequences.map((q) => [q.id, q]))
  const isImage = new Map<number, boolean>() // settings read once per sequence: an MQTT batch holds hundreds of values
  for (const s of stored) {
    const sequence = byId.get(s.sequenceId)
    if (!sequence) continue
    if (!isImage.has(sequence.id))
      isImage.set(
        sequence.id,
        sequence.name !== THUMBNAIL_SEQUENCE_NAME &&
          sequenceRules(sequence.systemAttributes).dataType === SequenceDataType.image,
      )
    if (!isImage.get(sequence.id)) continue
    queueThumbnail(ctx, `sequence ${sequence.id} revision ${s.revisionId}`, async () => {
      const revision = await ctx.db.resourceRevision.findUnique({ where: { id: s.revisionId } })
      if (!revision) return // deleted meanwhile
      return makeSequenceThumbnail(ctx, ctx.blobs, sequence, await readRevisionBytes(ctx.blobs, revision), s.timestamp)
    })
  }
}
