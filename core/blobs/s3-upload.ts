// Streams bytes of unknown length into one S3 object, holding at most two parts in memory: one
// uploading while the next fills. We first used lib-storage's Upload, but its chunker keeps every
// incoming chunk until a part is full and then concatenates them (a copy per part): a 50 MiB upload
// held 25 MiB live even with one part in flight, and 35 MiB with two. Copying each chunk straight into
// one of two reused part buffers holds 2 × PART_SIZE. Checksums follow lib-storage: with the SDK's
// default (WHEN_SUPPORTED) the upload is created with CRC32 and each part's checksum is completed back.
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCommand,
  type CompletedPart,
  type S3Client,
} from '@aws-sdk/client-s3'

/** S3's minimum part size (except the last); 10,000 parts of it reach 48 GiB, past our 5 GiB cap. */
export const PART_SIZE = 5 * 1024 * 1024

export async function uploadStream(
  client: S3Client,
  Bucket: string,
  Key: string,
  body: AsyncIterable<Buffer>,
): Promise<void> {
  const buffers = [Buffer.allocUnsafe(PART_SIZE)] // pages never written cost no RSS, so small blobs stay cheap
  let filling = 0
  let filled = 0
  let UploadId: string | undefined
  let inFlight: Promise<unknown> = Promise.resolve()
  const parts: CompletedPart[] = []

  const sendPart = async (Body: Buffer, PartNumber: number) => {
    const { ETag, ChecksumCRC32, ChecksumCRC32C, ChecksumCRC64NVME, ChecksumSHA1, ChecksumSHA256 } = await client.send(
      new UploadPartCommand({ Bucket, Key, UploadId, PartNumber, Body }),
    )
    parts.push({ PartNumber, ETag, ChecksumCRC32, ChecksumCRC32C, ChecksumCRC64NVME, ChecksumSHA1, ChecksumSHA256 })
  }

  /** Uploads the full buffer in the background and switches to the other one (once its upload is done). */
  const startPart = async () => {
    await inFlight
    UploadId ??= await createUpload(client, Bucket, Key)
    inFlight = sendPart(buffers[filling]!, parts.length + 1) // the previous part is done, so this number is next
    inFlight.catch(() => {}) // awaited later; this only keeps an early failure from counting as unhandled
    filling = 1 - filling
    buffers[filling] ??= Buffer.allocUnsafe(PART_SIZE)
    filled = 0
  }

  try {
    for await (const chunk of body) {
      for (let offset = 0; offset < chunk.length;) {
        if (filled === PART_SIZE) await startPart() // only once more bytes exist, so the last part is never empty
        const copied = chunk.copy(buffers[filling]!, filled, offset)
        filled += copied
        offset += copied
      }
    }
    const last = buffers[filling]!.subarray(0, filled)
    if (UploadId === undefined) {
      await client.send(new PutObjectCommand({ Bucket, Key, Body: last }))
      return
    }
    await inFlight
    await sendPart(last, parts.length + 1)
    await client.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: parts } }))
  } catch (err) {
    await inFlight.catch(() => {})
    // Best effort: if the abort fails too, the bucket's AbortIncompleteMultipartUpload rule cleans up.
    if (UploadId !== undefined)
      await client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId })).catch(() => {})
    throw err
  }
}

async function createUpload(client: S3Client, Bucket: string, Key: string): Promise<string> {
  const checksums = await client.config.requestChecksumCalculation()
  const { UploadId } = await client.send(
    new CreateMultipartUploadCommand({
      Bucket,
      Key,
      ChecksumAlgorithm: checksums === 'WHEN_SUPPORTED' ? 'CRC32' : undefined,
    }),
  )
  if (!UploadId) throw new Error('S3 returned no UploadId for a multipart upload')
  return UploadId
}
