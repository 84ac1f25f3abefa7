// Sequence values over MQTT: rhizo's CSV lines, update, update_sequence and raw values on a
// sequence topic are stored (rounded, with their timestamps) and announced to the folder.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { MqttClient } from 'mqtt'
import { createController, createOrg } from '../../core/admin.ts'
import { sequenceHistory } from '../../core/resources/sequences.ts'
import { createSequence, findPath } from '../../core/resources/tree.ts'
import { SequenceDataType } from '../../core/resources/types.ts'
import { providers } from '../helpers/core.ts'
import { closed, connect, endAll, granted, nextMessage } from '../helpers/mqtt.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

const publish = (client: MqttClient, topic: string, payload: string) =>
  new Promise<void>((resolve, reject) => client.publish(topic, payload, { qos: 1 }, (err) => (err ? reject(err) : resolve())))

for (const provider of providers) {
  describe(`MQTT sequence values on ${provider}`, () => {
    let server: TestServer
    let piKey: string
    let betaKey: string

    before(async () => {
      server = await startTestServer(provider)
      await createOrg(server.core, 'acme')
      await createOrg(server.core, 'beta')
      piKey = (await createController(server.core, 'acme/lab/pi-1')).key
      betaKey = (await createController(server.core, 'beta/pi-b')).key
      const pi = (await findPath(server.core.db, '/acme/lab/pi-1'))!.at(-1)!
      await createSequence(server.core.db, pi, 'temperature', { dataType: SequenceDataType.numeric, decimalPlaces: 1, units: 'C' })
      await createSequence(server.core.db, pi, 'note', { dataType: SequenceDataType.text })
    })
    after(async () => {
      endAll()
      await server.close()
    })

    const history = async (path: string) => {
      const sequence = (await findPath(server.core.db, path))!.at(-1)!
      return sequenceHistory(server.core.db, sequence.id, { count: 10_000 })
    }

    test('a CSV "s," line stores the value with its timestamp and announces it as a "d," line', async () => {
      const watcher = await connect(server.mqttUrl, piKey)
      await granted(watcher, 'acme/lab/pi-1')
      const announced = new Promise<string>((resolve) => watcher.on('message', (_t, p) => p.toString().startsWith('d,') && resolve(p.toString())))
      const pi = await connect(server.mqttUrl, piKey)
      await publish(pi, 'acme/lab/pi-1', 's,temperature,2026-11-20T08:30:00.5 Z,21.64')
      const stored = await history('/acme/lab/pi-1/temperature')
      assert.deepEqual(stored.values, ['21.6'])
      assert.equal(stored.timestamps[0]!.toISOString(), '2026-11-20T08:30:00.500Z')
      assert.equal(await announced, 'd,temperature,2026-11-20T08:30:00.500Z,21.6')
    })

    test('an update message stores several sequences, names relative to the folder', async () => {
      const pi = await connect(server.mqttUrl, piKey)
      await publish(pi, 'acme/lab/pi-1', JSON.stringify({ update: { $t: '2026-11-20T09:00:00Z', temperature: 19.96, 'status/processor_usage': 12.345, note: 'door open' } }))
      assert.deepEqual((await history('/acme/lab/pi-1/temperature')).values.at(-1), '20.0')
      assert.deepEqual((await history('/acme/lab/pi-1/status/processor_usage')).values, ['12.3'])
      assert.deepEqual((await history('/acme/lab/pi-1/note')).values, ['door open'])
    })

    test('update_sequence (the websocket form) and a raw value on the sequence topic store too', async () => {
      const pi = await connect(server.mqttUrl, piKey)
      await publish(pi, 'acme/lab/pi-1', JSON.stringify({ type: 'update_sequence', parameters: { sequence: 'note', value: 'from update_sequence' } }))
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
      await publish(outsider, 'beta/pi-b', JSON.stringify({ update_sequence: { sequence: '/acme/lab/pi-1/temperature', value: '99' } }))
      assert.equal((await history('/acme/lab/pi-1/temperature')).values.length, before)
    })

    test('2,000 QoS 1 values from two controllers are all stored, once each', async () => {
      const a = await connect(server.mqttUrl, piKey)
      const b = await connect(server.mqttUrl, piKey)
      const before = (await history('/acme/lab/pi-1/temperature')).values.length
      const start = Date.UTC(2026, 0, 1)
      await Promise.all(
        [a, b].map((client, c) =>
          Promise.all(Array.from({ length: 1000 }, (_, i) => publish(client, 'acme/lab/pi-1', `s,temperature,${new Date(start + (c * 1000 + i) * 1000).toISOString()},${i}`))),
        ),
      )
      assert.equal((await history('/acme/lab/pi-1/temperature')).values.length, before + 2000)
    })
  })
}
