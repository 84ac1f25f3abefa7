// The fs blob store on a real directory: layout, atomic writes, verify-on-read, limits, crashes and
// a 50 MiB stream that must not be buffered.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { Readable } from 'node:stream'
import { text } from 'node:stream/consumers'
import { after, before, describe, test } from 'node:test'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { BlobIntegrityError, createBlobStore, FsBlobStore } from '../../core/blobs/index.ts'

const MiB = 1024 * 1024
const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex')
const hasCode = (code: string) => (err: Error & { code?: string }) => err.code === code

/** Deterministic bytes made on the fly, so neither the test nor the store needs them all at once. */
function* chunks(totalBytes: number, chunkBytes = 64 * 1024): Generator<Buffer> {
  for (let i = 0; i * chunkBytes < totalBytes; i++)
    yield Buffer.alloc(Math.min(chunkBytes, totalBytes - i * chunkBytes), i % 251)
}

/** Every file under dir, relative to it. */
async function filesIn(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true })
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort()
}
const blobFiles = async (store: FsBlobStore) => (await filesIn(store.root)).filter((f) => !f.startsWith('tmp'))

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

describe('fs blob store', () => {
  let dataDir: string
  let store: FsBlobStore
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'tendril-blobs-'))
    store = createBlobStore('fs', dataDir) as FsBlobStore
  })
  after(() => rm(dataDir, { recursive: true, force: true }))

  // First, while RSS holds nothing left over from other tests.
  test('a 50 MiB stream goes in and out without being held in memory', async () => {
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
    console.log(`# 50 MiB fs: peak RSS growth put ${putGrowth.toFixed(1)} MiB, get ${getGrowth.toFixed(1)} MiB`)
  })

  test('a blob round-trips and lives at <dataDir>/blobs/ab/cd/<hash>', async () => {
    const { hash, size } = await store.put(Readable.from(['sensor ', 'log']))
    assert.equal(hash, sha256('sensor log'))
    assert.equal(size, 10)
    assert.equal(store.pathOf(hash), join(dataDir, 'blobs', hash.slice(0, 2), hash.slice(2, 4), hash))
    assert.equal(await readFile(store.pathOf(hash), 'utf8'), 'sensor log')
    assert.equal(await text(await store.get(hash)), 'sensor log')
    assert.equal(await store.has(hash), true)
    await store.delete(hash)
    assert.equal(await store.has(hash), false)
    await assert.rejects(store.get(hash), hasCode('not_found'))
  })

  test('the same content put twice is one file', async () => {
    const before = await blobFiles(store)
    const a = await store.put(Buffer.from('firmware v1'))
    const b = await store.put(Readable.from([Buffer.from('firmware '), Buffer.from('v1')]))
    assert.equal(a.hash, b.hash)
    assert.equal((await blobFiles(store)).length, before.length + 1)
  })

  test('a blob changed on disk fails the read instead of returning wrong bytes', async () => {
    const { hash } = await store.put(Buffer.from('calibration table'))
    await writeFile(store.pathOf(hash), 'calibration tablE')
    await assert.rejects(
      text(await store.get(hash)),
      (err) => err instanceof BlobIntegrityError && err.expected === hash,
    )
    await writeFile(store.pathOf(hash), 'calibration')
    await assert.rejects(text(await store.get(hash)), BlobIntegrityError)
  })

  test('a put over maxBytes is refused and leaves no blob and no temp file', async () => {
    const before = await filesIn(store.root)
    await assert.rejects(store.put(Readable.from(chunks(2 * MiB)), { maxBytes: MiB }), hasCode('too_large'))
    assert.deepEqual(await filesIn(store.root), before)
  })

  test('concurrent puts of the same content all succeed and leave one complete file', async () => {
    const content = Buffer.concat([...chunks(3 * MiB, 16 * 1024)])
    const puts = Array.from({ length: 8 }, () => store.put(Readable.from(chunks(3 * MiB, 16 * 1024))))
    const results = await Promise.all(puts)
    assert.deepEqual(new Set(results.map((r) => r.hash)), new Set([sha256(content)]))
    assert.deepEqual(await readFile(store.pathOf(sha256(content))), content)
    assert.deepEqual(await readdir(join(store.root, 'tmp')), [])
  })

  test('hashes that are not 64 hex characters are refused before any path is built', async () => {
    for (const bad of ['../../../etc/passwd', 'tmp', 'ab/cd', '0'.repeat(63)]) {
      await assert.rejects(store.get(bad), hasCode('invalid'))
      await assert.rejects(store.has(bad), hasCode('invalid'))
      await assert.rejects(store.delete(bad), hasCode('invalid'))
      assert.throws(() => store.pathOf(bad), hasCode('invalid'))
    }
  })

  test('temp files left by a crash are ignored, and swept once older than an hour', async () => {
    const root = join(dataDir, 'crashed')
    await mkdir(join(root, 'tmp'), { recursive: true })
    await writeFile(join(root, 'tmp', 'old.part'), 'half a blo')
    await writeFile(join(root, 'tmp', 'recent.part'), 'a put in progres')
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000)
    await utimes(join(root, 'tmp', 'old.part'), twoHoursAgo, twoHoursAgo)
    const restarted = new FsBlobStore(root)
    assert.equal(await restarted.has(sha256('half a blo')), false)
    await restarted.put(Buffer.from('first put after restart'))
    assert.deepEqual(await readdir(join(root, 'tmp')), ['recent.part'])
  })
})
