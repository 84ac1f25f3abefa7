// The s3 blob store against a real S3-protocol server (s3rver in a child process on a free loopback
// port), and a mirror of fs and s3. If the server cannot start, these tests fail rather than skip.
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { Readable } from 'node:stream'
import { text } from 'node:stream/consumers'
import { after, before, describe, test } from 'node:test'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3'
import { createBlobStore, FsBlobStore, S3BlobStore, type BlobStore } from '../../core/blobs/index.ts'

const MiB = 1024 * 1024
const BUCKET = 'tendril-test'
const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex')
const hasCode = (code: string) => (err: Error & { code?: string }) => err.code === code

// s3rver's fixed credentials, read by the AWS default provider chain like real ones would be.
Object.assign(process.env, {
  AWS_ACCESS_KEY_ID: 'S3RVER',
  AWS_SECRET_ACCESS_KEY: 'S3RVER',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
})

/** The child exits when its stdin closes, so even a crashed test run leaves no server behind. */
const SERVER_SCRIPT = `
const S3rver = require(process.argv[1])
const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: process.argv[2], configureBuckets: [{ name: process.argv[3] }] })
server.run().then((addr) => console.log(JSON.stringify({ port: addr.port })), (err) => { console.error(err); process.exit(1) })
process.stdin.on('end', () => server.close().finally(() => process.exit(0))).resume()
`

async function startS3Server(dir: string): Promise<{ endpoint: string; stop(): Promise<void> }> {
  const s3rver = createRequire(import.meta.url).resolve('s3rver')
  const child = spawn(process.execPath, ['-e', SERVER_SCRIPT, s3rver, dir, BUCKET], {
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  const stop = async (server: ChildProcess = child) => {
    if (server.exitCode !== null || server.signalCode !== null) return
    server.kill('SIGTERM')
    await once(server, 'exit')
  }
  const firstLine = once(createInterface({ input: child.stdout! }), 'line')
  const exited = once(child, 'exit').then(([code]) =>
    Promise.reject(new Error(`s3rver exited (${code}) before listening`)),
  )
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error('s3rver did not start in 15 s')), 15_000).unref(),
  )
  try {
    const [line] = (await Promise.race([firstLine, exited, timeout])) as [string]
    return { endpoint: `http://127.0.0.1:${JSON.parse(line).port}`, stop }
  } catch (err) {
    await stop()
    throw err
  }
}

// The test's source makes a fresh 64 KiB Buffer per chunk, and V8 may leave tens of MiB of them
// uncollected; collecting every 20 ms makes the RSS peak show what the store holds, not V8's timing.
setFlagsFromString('--expose-gc')
const collectGarbage = runInNewContext('gc') as () => void

/** How far RSS rose above its starting point while `work` ran, in MiB (sampled every 5 ms). */
async function peakRssGrowthMiB(work: () => Promise<void>): Promise<number> {
  collectGarbage()
  const baseline = process.memoryUsage.rss()
  let peak = baseline
  let samples = 0
  const timer = setInterval(() => {
    if (++samples % 4 === 0) collectGarbage()
    peak = Math.max(peak, process.memoryUsage.rss())
  }, 5)
  try {
    await work()
  } finally {
    clearInterval(timer)
  }
  return (Math.max(peak, process.memoryUsage.rss()) - baseline) / MiB
}

function* chunks(totalBytes: number, chunkBytes = 64 * 1024): Generator<Buffer> {
  for (let i = 0; i * chunkBytes < totalBytes; i++)
    yield Buffer.alloc(Math.min(chunkBytes, totalBytes - i * chunkBytes), i % 251)
}

describe('s3 blob store', () => {
  let dir: string
  let server: Awaited<ReturnType<typeof startS3Server>>
  let spec: string
  let store: S3BlobStore
  let s3: S3Client
  const objectKeys = async () =>
    ((await s3.send(new ListObjectsV2Command({ Bucket: BUCKET }))).Contents ?? []).map((o) => o.Key!).sort()

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tendril-s3-'))
    server = await startS3Server(join(dir, 's3'))
    spec = `s3://${BUCKET}/tenant/blobs?endpoint=${server.endpoint}&region=us-east-1&forcePathStyle=true`
    store = createBlobStore(spec, dir) as S3BlobStore
    s3 = new S3Client({ endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true })
  })
  after(async () => {
    await store?.close()
    s3?.destroy()
    await server?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  // First, while RSS holds nothing left over from other tests.
  test('a 50 MiB stream goes through a multipart upload and back without being held in memory', async () => {
    let stored = { hash: '', size: 0 }
    const putGrowth = await peakRssGrowthMiB(async () => {
      stored = await store.put(Readable.from(chunks(50 * MiB)))
    })
    const read = createHash('sha256')
    let readBytes = 0
    const getGrowth = await peakRssGrowthMiB(async () => {
      for await (const chunk of await store.get(stored.hash)) {
        read.update(chunk)
        readBytes += chunk.length
      }
    })
    assert.equal(readBytes, 50 * MiB)
    assert.equal(read.digest('hex'), stored.hash)
    const expected = createHash('sha256')
    for (const chunk of chunks(50 * MiB)) expected.update(chunk)
    assert.deepEqual(stored, { hash: expected.digest('hex'), size: 50 * MiB })
    assert.ok(putGrowth < 30, `put grew RSS by ${putGrowth.toFixed(1)} MiB`)
    assert.ok(getGrowth < 30, `get grew RSS by ${getGrowth.toFixed(1)} MiB`)
    console.log(`# 50 MiB s3: peak RSS growth put ${putGrowth.toFixed(1)} MiB, get ${getGrowth.toFixed(1)} MiB`)
    await store.delete(stored.hash)
  })

  test('a blob round-trips under <prefix>/ab/cd/<hash> and no temporary object remains', async () => {
    const { hash, size } = await store.put(Readable.from(['greenhouse ', 'photo']))
    assert.equal(hash, sha256('greenhouse photo'))
    assert.equal(size, 16)
    assert.deepEqual(await objectKeys(), [`tenant/blobs/${hash.slice(0, 2)}/${hash.slice(2, 4)}/${hash}`])
    assert.equal(await text(await store.get(hash)), 'greenhouse photo')
    assert.equal(await store.has(hash), true)
    await store.delete(hash)
    assert.equal(await store.has(hash), false)
    await assert.rejects(store.get(hash), hasCode('not_found'))
    assert.deepEqual(await objectKeys(), [])
  })

  test('the same content put twice is one object', async () => {
    const a = await store.put(Buffer.from('config.json v3'))
    const b = await store.put(Readable.from(['config.json ', 'v3']))
    assert.equal(a.hash, b.hash)
    assert.deepEqual(await objectKeys(), [store.keyOf(a.hash)])
    await store.delete(a.hash)
  })

  test('a put over maxBytes is refused, even mid-multipart, and leaves no object', async () => {
    await assert.rejects(store.put(Readable.from(chunks(12 * MiB)), { maxBytes: 7 * MiB }), hasCode('too_large'))
    await assert.rejects(store.put(Buffer.alloc(2000), { maxBytes: 1000 }), hasCode('too_large'))
    assert.deepEqual(await objectKeys(), [])
  })

  test('concurrent puts of the same content all succeed and leave one object', async () => {
    const results = await Promise.all(Array.from({ length: 6 }, () => store.put(Readable.from(chunks(MiB, 16 * 1024)))))
    assert.equal(new Set(results.map((r) => r.hash)).size, 1)
    assert.deepEqual(await objectKeys(), [store.keyOf(results[0]!.hash)])
    assert.equal((await text(await store.get(results[0]!.hash))).length, MiB)
    await store.delete(results[0]!.hash)
  })

  test('malformed hashes are refused before any request', async () => {
    for (const bad of ['../other-tenant/x', 'tmp/', 'f'.repeat(65)]) {
      await assert.rejects(store.get(bad), hasCode('invalid'))
      await assert.rejects(store.has(bad), hasCode('invalid'))
      await assert.rejects(store.delete(bad), hasCode('invalid'))
    }
  })

  test('mirror:fs,s3 writes both and reads from S3 when the local copy is gone', async () => {
    const mirror = createBlobStore(`mirror:fs,${spec}`, dir)
    const [local, remote] = (mirror as unknown as { stores: [FsBlobStore, BlobStore] }).stores
    const { hash } = await mirror.put(Readable.from(['offsite ', 'backup']))
    assert.equal(await local.has(hash), true)
    assert.equal(await remote.has(hash), true)
    await local.delete(hash)
    assert.equal(await text(await mirror.get(hash)), 'offsite backup')
    await mirror.delete(hash)
    assert.equal(await remote.has(hash), false)
    await mirror.close?.()
  })
})
