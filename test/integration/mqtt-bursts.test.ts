// A connection's bytes are handed to the MQTT parser a slice at a time (broker/limits.ts readInSlices),
// so a burst waits its turn between slices instead of running ahead of every other client. What a
// device relies on: every packet of a burst arrives, in order, and a packet larger than a slice
// arrives whole, over TCP and over WebSocket. (The latency the bystanders gain is measured by
// bench/faults/bursts.ts, not here.)
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { after, before, describe, test } from 'node:test'
import mqtt, { type MqttClient } from 'mqtt'
import mqttPacket from 'mqtt-packet'
import { READ_SLICE_BYTES } from '../../broker/limits.ts'
import { providers } from '../helpers/core.ts'
import { fixture } from '../helpers/fixtures.ts'
import { eventually } from '../helpers/http.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

for (const provider of providers) {
  describe(`bursts and large packets read in slices (${provider})`, () => {
    let server: TestServer
    let key: string
    const clients: MqttClient[] = []

    before(async () => {
      // no publish rate limit: the burst is the point here, not the limit
      server = await startTestServer(provider, { config: { 'mqtt-publish-rate': 0 } })
      key = (await fixture(server.core, { org: 'acme', controllers: ['acme/pi'] })).controllers['acme/pi']!.key
    })
    after(async () => {
      for (const client of clients) client.end(true)
      await server?.close()
    })

    const subscriber = async (url: string, topic: string) => {
      const client = await mqtt.connectAsync(url, { username: 'key', password: key, reconnectPeriod: 0 })
      clients.push(client)
      await client.subscribeAsync(topic, { qos: 0 })
      const received: Buffer[] = []
      client.on('message', (_topic, payload) => received.push(payload))
      return received
    }

    /** A raw TCP connection that sends CONNECT, waits for the CONNACK, then writes `packets` at once. */
    const writeAtOnce = async (packets: Buffer[]) => {
      const socket = connect(Number(new URL(server.mqttUrl).port), '127.0.0.1')
      socket.on('error', () => undefined)
      const connack = new Promise((resolve) => socket.once('data', resolve))
      socket.write(
        mqttPacket.generate({
          cmd: 'connect',
          protocolId: 'MQTT',
          protocolVersion: 4,
          clientId: `burster-${Math.random()}`,
          clean: true,
          keepalive: 0,
          username: 'key',
          password: Buffer.from(key),
        }),
      )
      await connack // (Aedes closes a client that sends more than a few packets before its CONNACK)
      socket.resume()
      socket.write(Buffer.concat(packets))
      return socket
    }
    const publishPacket = (topic: string, payload: Buffer) =>
      mqttPacket.generate({ cmd: 'publish', topic, payload, qos: 0, retain: false, dup: false })

    test('every PUBLISH of a burst of 20,000 in one write arrives, in order', async () => {
      const received = await subscriber(server.mqttUrl, 'acme/pi/burst')
      const burst = Array.from({ length: 20_000 }, (_, i) => publishPacket('acme/pi/burst', Buffer.from(String(i))))
      assert.ok(Buffer.concat(burst).length > 20 * READ_SLICE_BYTES, 'the burst spans many slices')
      const socket = await writeAtOnce(burst)
      try {
        assert.ok(await eventually(() => received.length >= 20_000, 20_000), `received ${received.length}`)
        assert.deepEqual(
          received.map(String),
          burst.map((_, i) => String(i)),
        )
      } finally {
        socket.destroy()
      }
    })

    test('a burst to a topic nobody reads (each PUBLISH handled at once) is parsed whole, and what follows arrives', async () => {
      const received = await subscriber(server.mqttUrl, 'acme/pi/after-burst')
      const burst = Array.from({ length: 20_000 }, (_, i) => publishPacket('acme/pi/nobody', Buffer.from(String(i))))
      const socket = await writeAtOnce([...burst, publishPacket('acme/pi/after-burst', Buffer.from('end'))])
      try {
        assert.ok(await eventually(() => received.length >= 1, 10_000), 'the PUBLISH after the burst arrived')
        assert.equal(String(received[0]), 'end')
        assert.equal(socket.destroyed, false, 'the connection was not closed for a packet it did not send')
      } finally {
        socket.destroy()
      }
    })

    test('a PUBLISH several slices long arrives whole, over TCP and WebSocket, and so does the one after it', async () => {
      const large = Buffer.alloc(5 * READ_SLICE_BYTES + 123, 'a')
      const received = await subscriber(server.mqttUrl, 'acme/pi/large')
      const socket = await writeAtOnce([
        publishPacket('acme/pi/large', large),
        publishPacket('acme/pi/large', Buffer.from('next')),
      ])
      try {
        assert.ok(await eventually(() => received.length >= 2, 10_000), `received ${received.length}`)
        assert.ok(received[0]!.equals(large))
        assert.equal(String(received[1]), 'next')
      } finally {
        socket.destroy()
      }
      const overWebSocket = await mqtt.connectAsync(server.wsUrl, {
        username: 'key',
        password: key,
        reconnectPeriod: 0,
      })
      clients.push(overWebSocket)
      await overWebSocket.publishAsync('acme/pi/large', large, { qos: 1 })
      assert.ok(await eventually(() => received.length >= 3, 10_000))
      assert.ok(received[2]!.equals(large))
    })
  })
}
