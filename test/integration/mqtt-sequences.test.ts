// Sequence values over MQTT: rhizo's CSV lines, update, update_sequence and raw values on a
// sequence topic are stored (rounded, with their timestamps) and announced to the folder.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { MqttClient } from 'mqtt'
import { sequenceHistory } from '../../core/resources/sequence-history.ts'
import { createSequence, findPath } from '../../core/resources/tree.ts'
import { SequenceDataType } from '../../core/resources/types.ts'
import { sqliteCommits } from '../../core/db/sqlite-connection.ts'
import { providers } from '../helpers/core.ts'
import { fixture } from '../helpers/fixtures.ts'
import { holdValueWrites } from '../helpers/hold-writes.ts'
import { closed, connect, endAll, granted, rawSession } from '../helpers/mqtt.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

const publish = (client: MqttClient, topic: string, payload: string) =>
  new Promise<void>((resolve, reject) =>
    client.publish(topic, payload, { qos: 1 }, (err) => (err ? reject(err) : resolve())),
  )

for (const provider of providers) {
  describe(`MQTT sequence values on ${provider}`, () => {
    let server: TestServer
    let piKey: string
    let betaKey: string

    before(async () => {
      server = await startTestServer(provider)
      const f = await fixture(server.core, { orgs: ['acme', 'beta'], controllers: ['acme/lab/pi-1', 'beta/pi-b'] })
      piKey = f.controllers['acme/lab/pi-1'].key
      betaKey = f.controllers['beta/pi-b'].key
      const pi = (await findPath(server.core.db, '/acme/lab/pi-1'))!.at(-1)!
      await createSequence(server.core.db, pi, 'temperature', {
        dataType: SequenceDataType.numeric,
        decimalPlaces: 1,
        units: 'C',
      })
      await createSequence(server.core.db, pi, 'note', { dataType: SequenceDataType.text })
      for (const name of ['resent', 'resent_at_once', 'resent_while_stored', 'batched'])
        await createSequence(server.core.db, pi, name, { dataType: SequenceDataType.numeric })
      await createSequence(server.core.db, pi, 'sparse', { dataType: SequenceDataType.numeric, minStorageInterval: 60 })
    })
    after(async () => {
      endAll()
      await server.close()
    })

    const history = async (path: string) => {
      const sequence = (await findPath(server.core.db, path))!.at(-1)!
      return sequenceHistory(server.core.db, sequence.id, { count: 10_000 })
    }
    /** The "d," announcements of one sequence that reach a subscriber of the folder. */
    const announcements = async (name: string) => {
      const watcher = await connect(server.mqttUrl, piKey)
      await granted(watcher, 'acme/lab/pi-1')
      const lines: string[] = []
      watcher.on('message', (_t, p) => p.toString().startsWith(`d,${name},`) && lines.push(p.toString()))
      return lines
    }
    const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
    /** A raw QoS 1 PUBLISH of one CSV value, as a client resends it (MQTT.js sets no DUP flag a test controls). */
    const valuePacket = (name: string, messageId: number, dup: boolean) =>
      ({
        cmd: 'publish',
        topic: 'acme/lab/pi-1',
        payload: Buffer.from(`s,${name},2026-03-01T00:00:00Z,7`),
        qos: 1,
        messageId,
        retain: false,
        dup,
      }) as const

    test('a CSV "s," line stores the value with its timestamp and announces it as a "d," line', async () => {
      const watcher = await connect(server.mqttUrl, piKey)
      await granted(watcher, 'acme/lab/pi-1')
      const announced = new Promise<string>((resolve) =>
        watcher.on('message', (_t, p) => p.toString().startsWith('d,') && resolve(p.toString())),
      )
      const pi = await connect(server.mqttUrl, piKey)
      await publish(pi, 'acme/lab/pi-1', 's,temperature,2026-11-20T08:30:00.5 Z,21.64')
      const stored = await history('/acme/lab/pi-1/temperature')
      assert.deepEqual(stored.values, ['21.6'])
      assert.equal(stored.timestamps[0]!.toISOString(), '2026-11-20T08:30:00.500Z')
      assert.equal(await announced, 'd,temperature,2026-11-20T08:30:00.500Z,21.6')
    })

    test('an update message stores several sequences, names relative to the folder', async () => {
      const pi = await connect(server.mqttUrl, piKey)
      await publish(
        pi,
        'acme/lab/pi-1',
        JSON.stringify({
          update: {
            $t: '2026-11-20T09:00:00Z',
            temperature: 19.96,
            'status/processor_usage': 12.345,
            note: 'door open',
          },
        }),
      )
      assert.deepEqual((await history('/acme/lab/pi-1/temperature')).values.at(-1), '20')
      assert.deepEqual((await history('/acme/lab/pi-1/status/processor_usage')).values, ['12.3'])
      assert.deepEqual((await history('/acme/lab/pi-1/note')).values, ['door open'])
    })

    test('update_sequence (the websocket form) and a raw value on the sequence topic store too', async () => {
      const pi = await connect(server.mqttUrl, piKey)
      await publish(
        pi,
        'acme/lab/pi-1',
        JSON.stringify({ type: 'update_sequence', parameters: { sequence: 'note', value: 'from update_sequence' } }),
      )
      await publish(pi, 'acme/lab/pi-1/note', 'raw value')
      assert.deepEqual((await history('/acme/lab/pi-1/note')).values.slice(-2), ['from update_sequence', 'raw value'])
    })

    test('a bad value is not stored, the good ones beside it are, and the client stays connected', async () => {
      const pi = await connect(server.mqttUrl, piKey)
      const before = (await history('/acme/lab/pi-1/temperature')).values.length
      await publish(pi, 'acme/lab/pi-1', 's,temperature,2026-11-21T00:00:00Z,warm\ns,note,2026-11-21T00:00:00Z,kept')
      await publish(pi, 'acme/lab/pi-1', 's,no_such_sequence,2026-11-21T00:00:00Z,1')
      assert.equal((await history('/acme/lab/pi-1/temperature')).values.length, before)
      assert.ok((await history('/acme/lab/pi-1/note')).values.includes('kept'))
      assert.equal(await closed(pi, 300), false)
    })

    test("a controller cannot write another organization's sequence by absolute path", async () => {
      const outsider = await connect(server.mqttUrl, betaKey)
      const before = (await history('/acme/lab/pi-1/temperature')).values.length
      await publish(
        outsider,
        'beta/pi-b',
        JSON.stringify({ update_sequence: { sequence: '/acme/lab/pi-1/temperature', value: '99' } }),
      )
      assert.equal((await history('/acme/lab/pi-1/temperature')).values.length, before)
    })

    test('a QoS 1 value resent with DUP after a lost PUBACK is stored once, even on a new connection', async () => {
      const first = await rawSession(server.mqttUrl, piKey, 'resender')
      first.send(valuePacket('resent', 11, false))
      await first.next('puback')
      first.close() // as if the PUBACK had been lost with the connection
      const second = await rawSession(server.mqttUrl, piKey, 'resender')
      second.send(valuePacket('resent', 11, true))
      await second.next('puback')
      second.close()
      assert.deepEqual((await history('/acme/lab/pi-1/resent')).values, ['7'])
    })

    test('a resend that arrives while the first copy is still being stored is acknowledged, and stored once', async () => {
      const client = await rawSession(server.mqttUrl, piKey, 'impatient')
      client.sendTogether(valuePacket('resent_at_once', 12, false), valuePacket('resent_at_once', 12, true))
      await client.next('puback')
      await client.next('puback')
      client.close()
      assert.deepEqual((await history('/acme/lab/pi-1/resent_at_once')).values, ['7'])
    })

    // PostgreSQL only: there a table lock holds the store back. On SQLite, holding it back holds the one
    // connection, and a new CONNECT could not look up its key (the same-connection case above covers SQLite).
    if (provider === 'postgresql')
      test('a resend on a new connection waits for the first copy to be stored before its PUBACK', async () => {
        const first = await rawSession(server.mqttUrl, piKey, 'reconnecter')
        const release = await holdValueWrites(server.core)
        try {
          first.send(valuePacket('resent_while_stored', 13, false))
          await settle(200) // now being stored
          first.close()
          const second = await rawSession(server.mqttUrl, piKey, 'reconnecter')
          second.send(valuePacket('resent_while_stored', 13, true))
          await assert.rejects(second.next('puback', 300), 'no PUBACK before the value is stored')
          await release()
          await second.next('puback')
          second.close()
        } finally {
          await release()
        }
        assert.deepEqual((await history('/acme/lab/pi-1/resent_while_stored')).values, ['7'])
      })

    test('min_storage_interval thins values over MQTT, and only the stored ones are announced', async () => {
      const announced = await announcements('sparse')
      const pi = await connect(server.mqttUrl, piKey)
      const at = (s: number) => new Date(Date.UTC(2026, 4, 1) + s * 1000).toISOString()
      // in flight together (one batch, or a few), then one after the others are stored
      await Promise.all([0, 10, 30, 61, 70, 125].map((s) => publish(pi, 'acme/lab/pi-1', `s,sparse,${at(s)},${s}`)))
      await publish(pi, 'acme/lab/pi-1', `s,sparse,${at(130)},130`)
      const stored = await history('/acme/lab/pi-1/sparse')
      assert.deepEqual(stored.values, ['0', '61', '125'])
      await settle(300)
      assert.deepEqual(
        announced.sort(),
        [`d,sparse,${at(0)},0`, `d,sparse,${at(125)},125`, `d,sparse,${at(61)},61`].sort(),
      )
    })

    test('many values in flight together are stored in a few transactions, and every one is announced', async () => {
      const announced = await announcements('batched')
      const pi = await connect(server.mqttUrl, piKey)
      const start = Date.UTC(2026, 5, 1)
      const commitsBefore = sqliteCommits(server.core.db)
      await Promise.all(
        Array.from({ length: 1000 }, (_, i) =>
          publish(pi, 'acme/lab/pi-1', `s,batched,${new Date(start + i * 1000).toISOString()},${i}`),
        ),
      )
      const sequence = (await findPath(server.core.db, '/acme/lab/pi-1/batched'))!.at(-1)!
      // PostgreSQL marks each row with the transaction that wrote it
      const transactions =
        provider === 'sqlite'
          ? sqliteCommits(server.core.db) - commitsBefore
          : Number(
              (
                await server.core.db.$queryRawUnsafe<{ n: bigint }[]>(
                  'SELECT count(DISTINCT xmin::text) AS n FROM "ResourceRevision" WHERE "resourceId" = $1',
                  sequence.id,
                )
              )[0]!.n,
            )
      assert.equal((await history('/acme/lab/pi-1/batched')).values.length, 1000)
      assert.ok(transactions < 100, `${transactions} transactions for 1,000 values`)
      for (let i = 0; i < 50 && announced.length < 1000; i++) await settle(50)
      assert.equal(announced.length, 1000)
    })

    test('2,000 QoS 1 values from two controllers are all stored, once each', async () => {
      const a = await connect(server.mqttUrl, piKey)
      const b = await connect(server.mqttUrl, piKey)
      const before = (await history('/acme/lab/pi-1/temperature')).values.length
      const start = Date.UTC(2026, 0, 1)
      await Promise.all(
        [a, b].map((client, c) =>
          Promise.all(
            Array.from({ length: 1000 }, (_, i) =>
              publish(
                client,
                'acme/lab/pi-1',
                `s,temperature,${new Date(start + (c * 1000 + i) * 1000).toISOString()},${i}`,
              ),
            ),
          ),
        ),
      )
      assert.equal((await history('/acme/lab/pi-1/temperature')).values.length, before + 2000)
    })
  })
}
