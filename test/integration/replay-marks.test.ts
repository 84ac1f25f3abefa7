// An SDK entry's replay mark is written in the transaction that stores its values: a failure between
// the two (here a trigger that makes the mark write fail) stores neither, so the entry, sent again,
// is stored exactly once. Each of the store's paths: SQLite's connection, Prisma's transaction
// (SQLite while its connection is busy; PostgreSQL always), and the long way (a value for the blob store).
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createController, createOrg } from '../../core/admin.ts'
import { sequenceHistory } from '../../core/resources/sequence-history.ts'
import type { SequenceValueInput } from '../../core/resources/sequence-store/rules.ts'
import { storeSequenceValues } from '../../core/resources/sequence-store/store.ts'
import { createSequence, findPath } from '../../core/resources/tree.ts'
import { SequenceDataType } from '../../core/resources/types.ts'
import { providers, type Provider } from '../helpers/core.ts'
import { closed, connect, endAll } from '../helpers/mqtt.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

const FAIL = 'injected: the replay mark write fails'

/** Makes every write of a mark that records ids fail (creating an empty one, as the lock does, still works). */
async function failMarkWrites(server: TestServer, provider: Provider): Promise<() => Promise<void>> {
  const db = server.core.db
  const records = `NEW."ranges" <> '[]' OR NEW."through" <> 0`
  if (provider === 'sqlite') {
    for (const op of ['INSERT', 'UPDATE'])
      await db.$executeRawUnsafe(
        `CREATE TRIGGER fail_mark_${op} BEFORE ${op} ON "ReplayMark" WHEN ${records} BEGIN SELECT RAISE(ABORT, '${FAIL}'); END`,
      )
    return async () => {
      for (const op of ['INSERT', 'UPDATE']) await db.$executeRawUnsafe(`DROP TRIGGER fail_mark_${op}`)
    }
  }
  await db.$executeRawUnsafe(
    `CREATE OR REPLACE FUNCTION fail_mark() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION '${FAIL}'; END $$ LANGUAGE plpgsql`,
  )
  await db.$executeRawUnsafe(
    `CREATE TRIGGER fail_mark BEFORE INSERT OR UPDATE ON "ReplayMark" FOR EACH ROW WHEN (${records}) EXECUTE FUNCTION fail_mark()`,
  )
  return async () => void (await db.$executeRawUnsafe(`DROP TRIGGER fail_mark ON "ReplayMark"`))
}

for (const provider of providers) {
  describe(`replay marks in the values' transaction on ${provider}`, () => {
    let server: TestServer
    let key: string
    let controllerId: number
    const ids = new Map<string, number>()

    before(async () => {
      server = await startTestServer(provider)
      await createOrg(server.core, 'acme')
      key = (await createController(server.core, 'acme/pi')).key
      const pi = (await findPath(server.core.db, '/acme/pi'))!.at(-1)!
      controllerId = pi.id
      for (const name of ['mqtt', 'busy', 'large']) {
        ids.set(
          name,
          (
            await createSequence(server.core.db, pi, name, {
              dataType: name === 'large' ? SequenceDataType.text : SequenceDataType.numeric,
            })
          ).id,
        )
      }
    })
    after(async () => {
      endAll()
      await server.close()
    })

    const values = async (name: string) =>
      (await sequenceHistory(server.core.db, ids.get(name)!, { blobs: server.core.blobs })).values

    test('over MQTT: the mark write fails, nothing is stored; the entries sent again are stored once', async () => {
      const payload = 'e,prodmqtt1,1,1\ns,mqtt,2026-12-05T00:00:01.000Z,1\ns,mqtt,2026-12-05T00:00:02.000Z,2'
      const restore = await failMarkWrites(server, provider)
      try {
        const failing = await connect(server.mqttUrl, key)
        const acked = failing.publishAsync('acme/pi', payload, { qos: 1 }).then(
          () => true,
          () => false,
        )
        // the store failed: no PUBACK, the connection is closed (or, at worst, nothing comes back)
        const answer = await Promise.race([acked, closed(failing, 5000).then(() => false)])
        failing.end(true)
        assert.deepEqual(await values('mqtt'), [], 'the values rolled back with their mark')
        assert.equal(answer, false, 'no PUBACK for values that were not stored')
      } finally {
        await restore()
      }
      const mqtt = await connect(server.mqttUrl, key)
      await mqtt.publishAsync('acme/pi', payload, { qos: 1 })
      await mqtt.publishAsync('acme/pi', payload, { qos: 1 })
      assert.deepEqual(await values('mqtt'), ['1', '2'])
      await mqtt.endAsync()
    })

    const input = (name: string, value: string, id: number, producer: string): SequenceValueInput => ({
      sequenceId: ids.get(name)!,
      value,
      timestamp: new Date(Date.parse('2026-12-05T00:00:00Z') + id * 1000),
      entry: { sender: `controller:${controllerId}`, producer, id, floor: 1 },
    })

    test("through Prisma's transaction (SQLite's connection busy): the mark write fails, nothing is stored", async () => {
      const restore = await failMarkWrites(server, provider)
      let release!: () => void
      let started!: () => void
      const busy = new Promise<void>((resolve) => (started = resolve))
      // a transaction holds the connection, so the store cannot run on it directly and queues in Prisma
      const holder = server.core.db.$transaction(async (tx) => {
        await tx.$queryRaw`SELECT 1`
        started()
        await new Promise<void>((resolve) => (release = resolve))
      })
      try {
        await busy
        const storing = storeSequenceValues(server.core, server.core.blobs, [
          input('busy', '1', 1, 'prodbusy1'),
          input('busy', '2', 2, 'prodbusy1'),
        ])
        release()
        await holder
        await assert.rejects(storing, new RegExp(FAIL))
        assert.deepEqual(await values('busy'), [])
      } finally {
        await restore()
      }
      const batch = [input('busy', '1', 1, 'prodbusy1'), input('busy', '2', 2, 'prodbusy1')]
      assert.equal((await storeSequenceValues(server.core, server.core.blobs, batch)).stored.length, 2)
      assert.equal((await storeSequenceValues(server.core, server.core.blobs, batch)).stored.length, 0, 'a replay')
      assert.deepEqual(await values('busy'), ['1', '2'])
    })

    test('the long way (a value for the blob store): the mark write fails, nothing is stored', async () => {
      const big = 'x'.repeat(server.core.config.inlineBytes + 10)
      const restore = await failMarkWrites(server, provider)
      try {
        await assert.rejects(
          storeSequenceValues(server.core, server.core.blobs, [input('large', big, 1, 'prodlarge1')]),
          new RegExp(FAIL),
        )
        assert.deepEqual(await values('large'), [])
      } finally {
        await restore()
      }
      assert.equal(
        (await storeSequenceValues(server.core, server.core.blobs, [input('large', big, 1, 'prodlarge1')])).stored
          .length,
        1,
      )
      assert.equal(
        (await storeSequenceValues(server.core, server.core.blobs, [input('large', big, 1, 'prodlarge1')])).stored
          .length,
        0,
        'a replay',
      )
      assert.deepEqual(await values('large'), [big])
    })
  })
}
