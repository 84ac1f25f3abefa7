// A value small enough to try the inline path but whose encoding outgrows the row ("1e5" stored as
// "100000" with --inline-bytes 4) is stored the blob store's way. The inline attempt had already
// written its packet and replay marks: they must roll back with it, else the blob path would take
// the value for its own resend and store nothing. Both inline paths: SQLite's connection and Prisma's transaction.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createController, createOrg } from '../../core/admin.ts'
import type { SentPacket } from '../../core/messages/types.ts'
import { sequenceHistory } from '../../core/resources/sequence-history.ts'
import type { SequenceValueInput } from '../../core/resources/sequence-store/rules.ts'
import { storeSequenceValues } from '../../core/resources/sequence-store/store.ts'
import { createSequence, findPath } from '../../core/resources/tree.ts'
import { SequenceDataType } from '../../core/resources/types.ts'
import { openTestCore, providers, type TestCore } from '../helpers/core.ts'

/** One packet mark entry: packet id, content hash, seconds (packet-marks.ts). */
const ENTRY_CHARS = 24

for (const provider of providers) {
  describe(`a value that outgrows the row on ${provider}`, () => {
    let core: TestCore
    let sequenceId: number
    let sender: string

    before(async () => {
      core = await openTestCore(provider, { 'inline-bytes': 4 })
      await createOrg(core, 'acme')
      await createController(core, 'acme/pi')
      const pi = (await findPath(core.db, '/acme/pi'))!.at(-1)!
      sender = `controller:${pi.id}`
      sequenceId = (await createSequence(core.db, pi, 'count', { dataType: SequenceDataType.numeric })).id
    })
    after(() => core.cleanup())

    const packet = (clientId: string, dup: boolean): SentPacket => ({
      sender,
      clientId,
      packetId: 7,
      hash: 'abcdefghijkl',
      dup,
      connection: { fresh: true },
    })
    const input = (name: string, second: number, dup = false): SequenceValueInput => ({
      sequenceId,
      value: '1e5',
      timestamp: new Date(Date.parse('2026-12-07T00:00:00Z') + second * 1000),
      entry: { sender, producer: `prod${name}`, id: 1, floor: 1 },
      packet: packet(name, dup),
    })
    const store = (value: SequenceValueInput) => storeSequenceValues(core, core.blobs, [value])
    const recentMarks = async (clientId: string) =>
      (await core.db.packetMark.findUnique({ where: { sender_clientId: { sender, clientId } } }))?.recent ?? ''

    async function storesOnce(name: string, second: number) {
      const first = await store(input(name, second))
      assert.deepEqual(
        first.stored.map((s) => s.value),
        ['100000'],
        'stored the long way, not taken for a replay',
      )
      assert.equal((await recentMarks(name)).length, ENTRY_CHARS, 'one packet mark: the inline one rolled back')
      assert.equal((await store(input(name, second))).stored.length, 0, 'the entry again: a replay')
      assert.equal((await store(input(name, second, true))).stored.length, 0, 'the packet again: a resend')
    }

    test('through the direct path (SQLite) or Prisma (PostgreSQL), the marks roll back with the inline attempt', async () => {
      await storesOnce('free', 1)
    })

    test("through Prisma's transaction while SQLite's connection is busy, the marks roll back too", async () => {
      let release!: () => void
      let started!: () => void
      const busy = new Promise<void>((resolve) => (started = resolve))
      // a transaction holds the connection, so the store cannot run on it directly and queues in Prisma
      const holder = core.db.$transaction(async (tx) => {
        await tx.$queryRaw`SELECT 1`
        started()
        await new Promise<void>((resolve) => (release = resolve))
      })
      await busy
      const storing = store(input('busy', 2))
      release()
      await holder
      assert.deepEqual(
        (await storing).stored.map((s) => s.value),
        ['100000'],
      )
      assert.equal((await recentMarks('busy')).length, ENTRY_CHARS)
      assert.equal((await store(input('busy', 2))).stored.length, 0, 'a replay')
    })

    test('the history holds each value once', async () => {
      const history = await sequenceHistory(core.db, sequenceId, { blobs: core.blobs })
      assert.deepEqual(history.values, ['100000', '100000'])
    })
  })
}
