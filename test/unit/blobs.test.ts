// The blob store contract on the memory backend: content addressing, limits and hash validation.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import { text } from 'node:stream/consumers'
import { describe, test } from 'node:test'
import { checkHash, MemoryBlobStore } from '../../core/blobs/index.ts'

const sha256 = (data: string) => createHash('sha256').update(data).digest('hex')
const hasCode = (code: string) => (err: Error & { code?: string }) => err.code === code

describe('blob store contract (memory backend)', () => {
  test('a blob is stored under the SHA-256 of its bytes and reads back unchanged', async () => {
    const store = new MemoryBlobStore()
    const blob = await store.put(Readable.from(['hello ', 'world']))
    assert.deepEqual(blob, { hash: sha256('hello world'), size: 11 })
    assert.equal(await text(await store.get(blob.hash)), 'hello world')
    assert.equal(await store.has(blob.hash), true)
  })

  test('identical content is stored once, whether it comes as a Buffer or a stream', async () => {
    const store = new MemoryBlobStore()
    const a = await store.put(Buffer.from('same bytes'))
    const b = await store.put(Readable.from([Buffer.from('same '), Buffer.from('bytes')]))
    assert.equal(a.hash, b.hash)
    assert.equal(store.count, 1)
  })

  test('a deleted or never-stored blob is not found; deleting twice is fine', async () => {
    const store = new MemoryBlobStore()
    const { hash } = await store.put(Buffer.from('short-lived'))
    await store.delete(hash)
    await store.delete(hash)
    assert.equal(await store.has(hash), false)
    await assert.rejects(store.get(hash), hasCode('not_found'))
  })

  test('an endless upload is cut off at maxBytes: too_large, nothing stored, source no longer read', async () => {
    const store = new MemoryBlobStore()
    let pulled = 0
    const endless = Readable.from(
      (function* () {
        for (;;) yield (pulled++, Buffer.alloc(1024))
      })(),
    )
    await assert.rejects(store.put(endless, { maxBytes: 10_000 }), hasCode('too_large'))
    assert.equal(store.count, 0)
    assert.ok(endless.destroyed)
    assert.ok(pulled < 50, `pulled ${pulled} chunks`)
    await assert.rejects(store.put(Buffer.alloc(11), { maxBytes: 10 }), hasCode('too_large'))
    assert.equal((await store.put(Buffer.alloc(10), { maxBytes: 10 })).size, 10)
  })

  test('hashes are 64 hex characters; anything else is refused before it can name a path', async () => {
    const good = sha256('x')
    assert.equal(checkHash(good), good)
    assert.equal(checkHash(good.toUpperCase()), good)
    const store = new MemoryBlobStore()
    for (const bad of [
      '',
      'abc',
      good.slice(1),
      `${good}0`,
      `${good}\n`,
      `../../${good.slice(6)}`,
      'g'.repeat(64),
      `${good.slice(2)}/.`,
    ]) {
      assert.throws(() => checkHash(bad), hasCode('invalid'), JSON.stringify(bad))
      await assert.rejects(store.get(bad), hasCode('invalid'))
      await assert.rejects(store.has(bad), hasCode('invalid'))
      await assert.rejects(store.delete(bad), hasCode('invalid'))
    }
  })
})
