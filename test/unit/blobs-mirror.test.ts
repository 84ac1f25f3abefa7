// mirror:A,B over in-memory stores: writes land in both, reads survive the loss of either.
import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import { text } from 'node:stream/consumers'
import { describe, test } from 'node:test'
import { MemoryBlobStore, MirrorBlobStore, type BlobStore } from '../../core/blobs/index.ts'

const hasCode = (code: string) => (err: Error & { code?: string }) => err.code === code

/** A store whose every call fails, like a bucket that is down. */
const broken: BlobStore = {
  put: async (source) => {
    if (source instanceof Readable) source.resume()
    throw new Error('store down')
  },
  get: async () => Promise.reject(new Error('store down')),
  has: async () => Promise.reject(new Error('store down')),
  delete: async () => Promise.reject(new Error('store down')),
}

describe('mirror blob store', () => {
  test('a put from a stream lands in both stores', async () => {
    const [a, b] = [new MemoryBlobStore(), new MemoryBlobStore()]
    const { hash } = await new MirrorBlobStore(a, b).put(Readable.from(['mirrored ', 'bytes']))
    assert.equal(await text(await a.get(hash)), 'mirrored bytes')
    assert.equal(await text(await b.get(hash)), 'mirrored bytes')
  })

  test('reads fall back to the second store when the first misses or fails', async () => {
    const [a, b] = [new MemoryBlobStore(), new MemoryBlobStore()]
    const { hash } = await new MirrorBlobStore(a, b).put(Buffer.from('kept twice'))
    await a.delete(hash)
    assert.equal(await text(await new MirrorBlobStore(a, b).get(hash)), 'kept twice')
    assert.equal(await new MirrorBlobStore(a, b).has(hash), true)
    assert.equal(await text(await new MirrorBlobStore(broken, b).get(hash)), 'kept twice')
    assert.equal(await new MirrorBlobStore(broken, b).has(hash), true)
    await b.delete(hash)
    await assert.rejects(new MirrorBlobStore(a, b).get(hash), hasCode('not_found'))
  })

  test('a put fails if either store fails, and maxBytes stops both', async () => {
    const good = new MemoryBlobStore()
    await assert.rejects(new MirrorBlobStore(good, broken).put(Readable.from(['x'.repeat(100)])), /store down/)
    const [a, b] = [new MemoryBlobStore(), new MemoryBlobStore()]
    const big = Readable.from(Array.from({ length: 100 }, () => Buffer.alloc(1024)))
    await assert.rejects(new MirrorBlobStore(a, b).put(big, { maxBytes: 4096 }), hasCode('too_large'))
    assert.equal(a.count + b.count, 0)
  })

  test('delete removes the blob from both stores', async () => {
    const [a, b] = [new MemoryBlobStore(), new MemoryBlobStore()]
    const mirror = new MirrorBlobStore(a, b)
    const { hash } = await mirror.put(Buffer.from('gone soon'))
    await mirror.delete(hash)
    assert.equal(a.count + b.count, 0)
  })
})
