// A clean shutdown (Tendril's close, `tendril serve` on SIGTERM) stores every sequence value it
// accepted over MQTT before it ends, at QoS 0 and at QoS 1, even while the database is slow: here its
// value writes are held back while the shutdown begins.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { createController, createOrg } from '../../core/admin.ts'
import { sequenceHistory } from '../../core/resources/sequence-history.ts'
import { createSequence, findPath } from '../../core/resources/tree.ts'
import { SequenceDataType } from '../../core/resources/types.ts'
import { createTendril } from '../../server.ts'
import { startServerWithMqtt } from '../helpers/cli.ts'
import { openTestCore, providers, type TestCore } from '../helpers/core.ts'
import { holdValueWrites } from '../helpers/hold-writes.ts'
import { connect, endAll, granted, rawSession } from '../helpers/mqtt.ts'

const QOS1 = 10
const QOS0 = 300
const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** An organization with controller acme/pi-1 and its numeric sequence `level`; the controller's key. */
async function setUp(core: TestCore): Promise<string> {
  await createOrg(core, 'acme')
  const { key } = await createController(core, 'acme/pi-1')
  const pi = (await findPath(core.db, '/acme/pi-1'))!.at(-1)!
  await createSequence(core.db, pi, 'level', { dataType: SequenceDataType.numeric })
  return key
}

async function storedValues(core: TestCore): Promise<number> {
  const level = (await findPath(core.db, '/acme/pi-1/level'))!.at(-1)!
  return (await sequenceHistory(core.db, level.id, { count: 10_000 })).values.length
}

/**
 * Sends QoS 1 values (not waiting for their PUBACKs) and QoS 0 values, and resolves once the broker
 * has accepted them all: a subscriber has seen every QoS 0 one relayed. `hold` runs first, once every
 * sender has stored a value (its key and access are known).
 *
 * Each QoS 1 value comes on a connection of its own: Aedes reads a connection's next chunk only once
 * the packets of the previous one are handled, and a QoS 1 packet is handled when it is stored.
 */
async function sendValues(url: string, key: string, hold: () => Promise<void>): Promise<void> {
  const at = (i: number) => new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString()
  const value = (i: number) =>
    ({
      cmd: 'publish',
      topic: 'acme/pi-1',
      payload: Buffer.from(`s,level,${at(i)},1`),
      qos: 1,
      retain: false,
      dup: false,
    }) as const
  const watcher = await connect(url, key)
  await granted(watcher, 'acme/pi-1')
  let relayed = 0
  watcher.on('message', (_t, payload) => /^s,level,.*,0$/.test(payload.toString()) && relayed++)
  const pi = await connect(url, key)
  await pi.publishAsync('acme/pi-1', `s,level,${at(0)},1`, { qos: 1 })
  const senders = await Promise.all(Array.from({ length: QOS1 }, (_, i) => rawSession(url, key, `sender-${i}`)))
  for (const [i, sender] of senders.entries()) {
    sender.send({ ...value(1000 + i), messageId: 1 })
    await sender.next('puback')
  }
  await hold()
  for (const [i, sender] of senders.entries()) sender.send({ ...value(1 + i), messageId: 2 })
  for (let i = 1; i <= QOS0; i++) pi.publish('acme/pi-1', `s,level,${at(QOS1 + i)},0`, { qos: 0 })
  for (let i = 0; i < 200 && relayed < QOS0; i++) await settle(25)
  assert.equal(relayed, QOS0, 'every QoS 0 value was accepted')
}

for (const provider of providers) {
  describe(`a clean shutdown on ${provider}`, () => {
    test('closing Tendril stores every value accepted over MQTT first', async () => {
      const core = await openTestCore(provider)
      try {
        const key = await setUp(core)
        const tendril = await createTendril(core)
        const { mqttPort } = await tendril.listen({ port: 0, host: '127.0.0.1', mqttPort: 0 })
        let release: (() => Promise<void>) | undefined
        await sendValues(`mqtt://127.0.0.1:${mqttPort}`, key, async () => void (release = await holdValueWrites(core)))
        const closing = tendril.close()
        await settle(300) // the close is under way while the values wait for the database
        await release!()
        await closing
        assert.equal(await storedValues(core), 1 + 2 * QOS1 + QOS0)
      } finally {
        endAll()
        await core.cleanup()
      }
    })

    test('`tendril serve` stores every value accepted over MQTT before it exits on SIGTERM', async () => {
      const core = await openTestCore(provider)
      const key = await setUp(core)
      const server = await startServerWithMqtt(['--db', core.config.database.url, '--data-dir', core.config.dataDir])
      try {
        // the test's own connection holds PostgreSQL's value table; a SQLite file it could only lock
        // by blocking the server's event loop, so there the shutdown meets what is still queued
        let release: (() => Promise<void>) | undefined
        await sendValues(`mqtt://127.0.0.1:${server.mqttPort}`, key, async () => {
          if (provider === 'postgresql') release = await holdValueWrites(core)
        })
        const stopped = server.stop()
        if (release) {
          await settle(500)
          await release()
        }
        assert.equal((await stopped).code, 0, server.output())
        assert.equal(await storedValues(core), 1 + 2 * QOS1 + QOS0)
      } finally {
        endAll()
        await server.stop()
        await core.cleanup()
      }
    })
  })
}
