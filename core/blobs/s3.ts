// S3 backend (AWS or any S3-compatible server). The hash is known only after the last byte, so a put
// uploads to a temporary key (multipart for large streams, see s3-upload.ts), then copies the object
// to <prefix>ab/cd/<hash> inside S3 and deletes the temporary key. The final key therefore only ever
// holds complete, hashed content; concurrent writers of the same content copy identical bytes; a
// crash can at worst leave an object under <prefix>tmp/ (give the bucket a lifecycle rule expiring
// tmp/ objects and incomplete multipart uploads after a day).
import { randomUUID } from 'node:crypto'
import { Readable } from 'node:stream'
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3'
import { notFound } from '../errors.ts'
import { checkHash, checkMaxBytes, ContentMeter, verified } from './digest.ts'
import { uploadStream } from './s3-upload.ts'
import type { BlobStore, PutOptions, StoredBlob } from './store.ts'

/** S3's limit for a single CopyObject; larger blobs would need a multipart copy, which we do not do. */
const MAX_COPY_BYTES = 5 * 1024 ** 3

export interface S3Location {
  bucket: string
  /** '' or ends with '/' */
  prefix: string
  endpoint?: string
  region?: string
  forcePathStyle: boolean
}

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/
const PARAMS = new Set(['endpoint', 'region', 'forcePathStyle'])

/** Parses s3://bucket/optional/prefix?endpoint=http://host:port&region=us-east-1&forcePathStyle=true */
export function parseS3Url(spec: string): S3Location {
  let url: URL
  try {
    url = new URL(spec)
  } catch {
    throw new Error(`"${spec}" is not a valid s3:// URL`)
  }
  if (url.protocol !== 's3:') throw new Error(`"${spec}" must start with s3://`)
  if (url.username || url.password)
    throw new Error('put S3 credentials in the AWS environment variables, not in the blob store URL')
  if (!BUCKET.test(url.hostname))
    throw new Error(`"${url.hostname}" is not a valid S3 bucket name (s3://bucket/prefix)`)
  for (const name of url.searchParams.keys()) {
    if (!PARAMS.has(name)) throw new Error(`unknown S3 option "${name}" (use endpoint, region, forcePathStyle)`)
  }
  const endpoint = url.searchParams.get('endpoint') ?? undefined
  if (endpoint !== undefined && !/^https?:\/\/[^/]/.test(endpoint))
    throw new Error(`S3 endpoint "${endpoint}" must be an http:// or https:// URL`)
  const forcePathStyle = url.searchParams.get('forcePathStyle') ?? 'false'
  if (forcePathStyle !== 'true' && forcePathStyle !== 'false') throw new Error('forcePathStyle must be true or false')
  const path = decodeURIComponent(url.pathname).replace(/^\/+|\/+$/g, '')
  return {
    bucket: url.hostname,
    prefix: path ? `${path}/` : '',
    endpoint,
    region: url.searchParams.get('region') ?? undefined,
    forcePathStyle: forcePathStyle === 'true',
  }
}

/** S3 reports a missing key as NoSuchKey (GET) or a bare 404 NotFound (HEAD). */
const isMissing = (err: unknown) => ['NoSuchKey', 'NotFound'].includes((err as Error)?.name)

export class S3BlobStore implements BlobStore {
  readonly location: S3Location
  readonly #client: S3Client

  /** Credentials come from the AWS default provider chain (AWS_ACCESS_KEY_ID…, profiles, roles). */
  constructor(location: S3Location) {
    this.location = location
    this.#client = new S3Client({
      endpoint: location.endpoint,
      region: location.region,
      forcePathStyle: location.forcePathStyle,
    })
  }

  keyOf(hash: string): string {
    const key = checkHash(hash)
    return `${this.location.prefix}${key.slice(0, 2)}/${key.slice(2, 4)}/${key}`
  }

  async put(source: Readable | Buffer, opts: PutOptions = {}): Promise<StoredBlob> {
    const meter = new ContentMeter(Math.min(checkMaxBytes(opts.maxBytes), MAX_COPY_BYTES))
    const Bucket = this.location.bucket
    const temp = `${this.location.prefix}tmp/${randomUUID()}`
    try {
      await uploadStream(this.#client, Bucket, temp, meter.pass(source))
      const blob = meter.result()
      const Key = this.keyOf(blob.hash)
      if (!(await this.#exists(Key))) {
        try {
          await this.#client.send(new CopyObjectCommand({ Bucket, Key, CopySource: copySource(Bucket, temp) }))
        } catch (err) {
          // Writers of the same content race to the same key; if another one's copy landed, the
          // content is there (it is addressed by its hash), whatever this copy's error was.
          if (!(await this.#exists(Key))) throw err
        }
      }
      return blob
    } finally {
      // Best effort: a leftover temp object is garbage for the lifecycle rule, not a failed put.
      await this.#client.send(new DeleteObjectCommand({ Bucket, Key: temp })).catch(() => {})
    }
  }

  async get(hash: string): Promise<Readable> {
    const key = checkHash(hash)
    try {
      const { Body } = await this.#client.send(
        new GetObjectCommand({ Bucket: this.location.bucket, Key: this.keyOf(key) }),
      )
      if (!(Body instanceof Readable)) throw new Error('the S3 client returned no Node.js stream')
      return verified(Body, key)
    } catch (err) {
      if (isMissing(err)) throw notFound(`blob ${key} not found`)
      throw err
    }
  }

  async has(hash: string): Promise<boolean> {
    return this.#exists(this.keyOf(hash))
  }

  async delete(hash: string): Promise<void> {
    await this.#client.send(new DeleteObjectCommand({ Bucket: this.location.bucket, Key: this.keyOf(hash) }))
  }

  async close(): Promise<void> {
    this.#client.destroy()
  }

  async #exists(Key: string): Promise<boolean> {
    try {
      await this.#client.send(new HeadObjectCommand({ Bucket: this.location.bucket, Key }))
      return true
    } catch (err) {
      if (isMissing(err)) return false
      throw err
    }
  }
}

/** CopySource is "bucket/key" with the key URL-encoded segment by segment. */
function copySource(bucket: string, key: string): string {
  return [bucket, ...key.split('/')].map(encodeURIComponent).join('/')
}
