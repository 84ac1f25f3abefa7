// The controllers SDK's on-disk queue: what survives a restart or a crash, and what must not come back.
import assert from 'node:assert/strict'
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { DiskQueue, type QueueItem } from '@tendril/controllers-sdk'

const value = (i: number): QueueItem => ({
  kind: 'value',
  folder: null,
  name: 'temp',
  value: String(i),
  t: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
})
const values = (n: number, from = 0) => Array.from({ length: n }, (_, i) => value(from + i))

describe('SDK disk queue', () => {
  const root = mkdtempSync(join(tmpdir(), 'tendril-queue-'))
  after(() => rmSync(root, { recursive: true, force: true }))
  let n = 0
  const dir = () => join(root, `q${n++}`)

  test('entries survive a reopen in order; acknowledged ones do not come back', async () => {
    const d = dir()
    const q = await DiskQueue.open(d)
    await q.append(values(10))
    q.ack(q.after(0, 4).map((e) => e.id))
    await q.close()
    const again = await DiskQueue.open(d)
    assert.deepEqual(
      again.after(0, 100).map((e) => (e.kind === 'value' ? e.value : '')),
      ['4', '5', '6', '7', '8', '9'],
    )
    assert.equal(again.size, 6)
    await again.append(values(1, 10))
    assert.equal(again.after(0, 100).at(-1)!.id, 11, 'ids keep increasing after a reopen')
    await again.close()
  })

  test('a backlog of 100,000 entries is read back whole and in order', async () => {
    const d = dir()
    const q = await DiskQueue.open(d)
    for (let from = 0; from < 100_000; from += 10_000) await q.append(values(10_000, from))
    await q.close()
    const again = await DiskQueue.open(d)
    assert.equal(again.size, 100_000)
    const all = again.after(0, 100_000)
    assert.deepEqual([all[0]!.id, all[99_999]!.id], [1, 100_000])
    await again.close()
  })

  test('a torn last line from a crash mid-write is cut off; the whole lines before it are kept', async () => {
    const d = dir()
    const q = await DiskQueue.open(d)
    await q.append(values(3))
    await q.close()
    appendFileSync(join(d, 'queue.log'), '{"id":4,"kind":"value","fol')
    const again = await DiskQueue.open(d)
    assert.equal(again.size, 3)
    await again.append(values(1, 3))
    await again.close()
    const lines = readFileSync(join(d, 'queue.log'), 'utf8').trim().split('\n')
    assert.equal(lines.length, 4)
    for (const line of lines) JSON.parse(line)
  })

  test("a second process cannot open a queue in use; a dead owner's lock is taken over", async () => {
    const d = dir()
    const q = await DiskQueue.open(d)
    await assert.rejects(DiskQueue.open(d), /in use by process/)
    await q.close()
    appendFileSync(join(d, 'lock'), '999999999') // a pid that does not exist
    const again = await DiskQueue.open(d)
    await again.close()
  })

  test('at the bound the oldest are dropped, and dropped entries stay dropped after a reopen', async () => {
    const d = dir()
    const q = await DiskQueue.open(d, { maxEntries: 5 })
    let reported = 0
    q.onDrop = (count) => (reported += count)
    for (let i = 0; i < 12; i++) await q.append([value(i)])
    assert.equal(q.size, 5)
    assert.equal(q.dropped, 7)
    assert.equal(reported, 7)
    await q.close()
    const again = await DiskQueue.open(d, { maxEntries: 5 })
    assert.deepEqual(
      again.after(0, 100).map((e) => (e.kind === 'value' ? e.value : '')),
      ['7', '8', '9', '10', '11'],
    )
    await again.close()
  })

  test('entries in flight are not dropped at the bound', async () => {
    const q = await DiskQueue.open(dir(), { maxEntries: 3 })
    await q.append(values(3))
    q.protectThrough(2) // ids 1 and 2 were handed to the connection
    await q.append(values(2, 3))
    assert.deepEqual(
      q.after(0, 100).map((e) => e.id),
      [1, 2, 5],
    )
    await q.close()
  })

  test('the log is emptied once everything is acknowledged, and the files are private', async () => {
    const d = dir()
    const q = await DiskQueue.open(d)
    const big = Array.from({ length: 8000 }, (_, i) => ({ ...value(i), value: 'x'.repeat(150) }))
    await q.append(big)
    assert.ok(statSync(join(d, 'queue.log')).size > 1 << 20)
    q.ack(q.after(0, 10_000).map((e) => e.id))
    await q.flush()
    assert.equal(statSync(join(d, 'queue.log')).size, 0)
    assert.equal(readFileSync(join(d, 'committed'), 'utf8'), '8000')
    assert.equal(statSync(d).mode & 0o777, 0o700)
    await q.close()
    const again = await DiskQueue.open(d)
    assert.equal(again.size, 0)
    await again.append(values(1))
    assert.equal(again.after(0, 1)[0]!.id, 8001)
    await again.close()
  })
})
