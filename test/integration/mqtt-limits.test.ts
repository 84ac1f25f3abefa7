// Limits: a faulty or hostile MQTT client loses its own connection and nobody else's.
import assert from 'node:assert/strict'
import net from 'node:net'
import { after, before, describe, test } from 'node:test'
import { createTendril, type Tendril } from '../../server.ts'
import { openTestCore, providers, type TestCore } from '../helpers/core.ts'
import { fixture } from '../helpers/fixtures.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import mqtt, { type MqttClient } from 'mqtt'
import mqttPacket from 'mqtt-packet'
import { closed, connect, endAll, granted, nextMessage, refusalCode } from '../helpers/mqtt.ts'

/** A socket's fate: resolves true when the server closes it within ms. */
function closedByServer(socket: net.Socket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms)
    socket.once('close', () => {
      clearTimeout(timer)
      resolve(true)
    })
  })
}

for (const provider of providers) {
  describe(`MQTT limits on ${provider}`, () => {
    let core: TestCore
    let tendril: Tendril
    let url: string
    let wsUrl: string
    let mqttPort: number
    let key: string
    let other: string

    before(async () => {
      core = await openTestCore(provider, {
        'mqtt-max-packet-size': 4096,
        'mqtt-publish-rate': 20,
        'mqtt-connections-per-key': 2,
        'mqtt-connect-timeout': 300,
      })
      tendril = await createTendril(core)
      const listening = await tendril.listen({ port: 0, host: '127.0.0.1', mqttPort: 0 })
      mqttPort = listening.mqttPort!
      url = `mqtt://127.0.0.1:${mqttPort}`
      wsUrl = `ws://127.0.0.1:${listening.port}/mqtt`
      const f = await fixture(core, { org: 'acme', controllers: ['acme/pi-1', 'acme/pi-2'] })
      key = f.controllers['acme/pi-1'].key
      other = f.controllers['acme/pi-2'].key
    })
    after(async () => {
      endAll()
      await tendril.close()
      await core.cleanup()
    })

    test('a packet over the size limit closes that connection only', async () => {
      const bystander = await connect(url, other)
      await granted(bystander, 'acme/pi-2')
      const big = await connect(url, key)
      big.publish('acme/pi-2', Buffer.alloc(5000, 'x'))
      assert.equal(await closed(big), true)
      const small = await connect(url, key)
      const received = nextMessage(bystander)
      small.publish('acme/pi-2', Buffer.alloc(3000, 'y'))
      assert.equal((await received)?.payload.length, 3000)
    })

    test('over WebSocket /mqtt too, a packet over the size limit closes that connection only', async () => {
      const bystander = await connect(wsUrl, other)
      await granted(bystander, 'acme/pi-2')
      const big = await connect(wsUrl, key)
      big.publish('acme/pi-2', Buffer.alloc(5000, 'x'))
      assert.equal(await closed(big), true)
      assert.equal(bystander.connected, true)
      const small = await connect(wsUrl, key)
      const received = nextMessage(bystander)
      small.publish('acme/pi-2', Buffer.alloc(3000, 'y'))
      assert.equal((await received)?.payload.length, 3000)
      endAll() // the key's sessions are limited
      await new Promise((r) => setTimeout(r, 100))
    })

    test('a client publishing faster than the rate limit is disconnected', async () => {
      const flooder = await connect(url, key)
      for (let i = 0; i < 100; i++) flooder.publish('acme/pi-1/flood', String(i))
      assert.equal(await closed(flooder), true)
      const steady = await connect(url, other)
      steady.publish('acme/pi-2/ok', 'fine')
      assert.equal(await closed(steady, 500), false)
    })

    test('a key holds at most the configured number of sessions', async () => {
      endAll()
      await new Promise((r) => setTimeout(r, 100))
      await connect(url, key, { clientId: 'one' })
      await connect(url, key, { clientId: 'two' })
      assert.equal(await refusalCode(url, key, { clientId: 'three' }), 5)
      assert.equal(await refusalCode(url, other, { clientId: 'other-key' }), 0)
    })

    test('a burst of CONNECTs with one key lets only the configured number in', async () => {
      endAll()
      await new Promise((r) => setTimeout(r, 100))
      const outcomes = await Promise.allSettled(
        Array.from({ length: 6 }, (_, i) => connect(url, key, { clientId: `burst-${i}` })),
      )
      assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 2)
      assert.deepEqual(
        outcomes.flatMap((o) => (o.status === 'rejected' ? [(o.reason as { code?: number }).code] : [])),
        [5, 5, 5, 5],
      )
      endAll()
    })

    test('a connection that never sends CONNECT is closed after the connect timeout', async () => {
      const socket = net.connect(mqttPort, '127.0.0.1')
      assert.equal(await closedByServer(socket, 3000), true)
    })

    test('garbage bytes close that connection and the broker keeps serving', async () => {
      const socket = net.connect(mqttPort, '127.0.0.1')
      await new Promise((r) => socket.once('connect', r))
      socket.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x13, 0x37]))
      assert.equal(await closedByServer(socket, 3000), true)
      endAll()
      assert.ok((await connect(url, other)).connected)
    })

    test('a topic deeper than the path limit is refused', async () => {
      const client = await connect(url, other)
      client.publish('acme/pi-2/' + Array(40).fill('x').join('/'), 'deep')
      assert.equal(await closed(client), true)
    })
  })
}

// Broker behaviour, the same on either database.
describe('MQTT defaults and a subscriber that stops reading', () => {
  const DRAIN_TIMEOUT_MS = 300
  let server: TestServer
  let key: string
  let other: string

  before(async () => {
    server = await startTestServer('sqlite', { config: { 'mqtt-drain-timeout': DRAIN_TIMEOUT_MS } })
    const f = await fixture(server.core, { org: 'acme', controllers: ['acme/pi-1', 'acme/pi-2'] })
    key = f.controllers['acme/pi-1'].key
    other = f.controllers['acme/pi-2'].key
  })
  after(async () => {
    endAll()
    await server.close()
  })

  for (const transport of ['TCP', 'WebSocket'] as const) {
    test(`packets up to 1 MiB pass by default over ${transport}, and a larger one closes the connection`, async () => {
      const url = transport === 'TCP' ? server.mqttUrl : server.wsUrl
      const subscriber = await connect(url, other)
      await granted(subscriber, 'acme/pi-2')
      const sender = await connect(url, key)
      const received = nextMessage(subscriber, 5000)
      sender.publish('acme/pi-2', Buffer.alloc(1_040_000, 'a')) // with its header, just under 1 MiB
      assert.equal((await received)?.payload.length, 1_040_000)
      sender.publish('acme/pi-2', Buffer.alloc((1 << 20) + 1, 'b'))
      assert.equal(await closed(sender), true)
      assert.equal(subscriber.connected, true)
    })
  }

  test('a subscriber that stops reading is disconnected after the drain timeout, and the others keep receiving', async () => {
    const topic = 'acme/pi-2/stream'
    const stalled = net.connect(Number(new URL(server.mqttUrl).port), '127.0.0.1')
    stalled.on('error', () => {})
    stalled.write(
      mqttPacket.generate({
        cmd: 'connect',
        clientId: 'stalled',
        protocolVersion: 4,
        protocolId: 'MQTT',
        clean: true,
        keepalive: 0,
        username: 'key',
        password: Buffer.from(other),
      }),
    )
    stalled.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 0 }] }))
    await new Promise((r) => setTimeout(r, 300)) // subscribed
    // it reads nothing (no 'data' listener): what the broker writes to it backs up

    const healthy = await connect(server.mqttUrl, other)
    assert.equal(await granted(healthy, topic), 0)
    const payloads: number[] = []
    healthy.on('message', (_t, payload) => payloads.push(payload.readUInt32BE(0)))
    const publisher = await connect(server.mqttUrl, key)
    const COUNT = 256 // 16 MiB: more than the sockets between the broker and the stalled client hold
    for (let i = 0; i < COUNT; i++) {
      const payload = Buffer.alloc(64 * 1024)
      payload.writeUInt32BE(i, 0)
      publisher.publish(topic, payload, { qos: 0 })
    }
    for (let i = 0; i < 200 && payloads.length < COUNT; i++) await new Promise((r) => setTimeout(r, 50))
    assert.deepEqual(
      payloads,
      Array.from({ length: COUNT }, (_, i) => i),
      'the others are not held up',
    )
    // well past the drain timeout (the former fixed 10 s would not have passed yet)
    await new Promise((r) => setTimeout(r, 10 * DRAIN_TIMEOUT_MS))
    // reading again, it gets what was already on its way, then the end of the connection the broker closed
    stalled.resume()
    assert.equal(await closedByServer(stalled, 10_000), true)
    const after = nextMessage(healthy)
    publisher.publish(topic, Buffer.from([0, 0, 1, 0]))
    assert.equal((await after)?.payload.length, 4)
    assert.equal(healthy.connected, true)
  })
})

// The queue is broker state (in memory here; Redis in cluster.test.ts), the same on either database.
describe('MQTT queue of a persistent session whose client is away', () => {
  const LIMIT = 5
  let server: TestServer
  let url: string
  let pi1: string
  let pi2: string

  before(async () => {
    server = await startTestServer('sqlite', { config: { 'mqtt-max-queued': LIMIT } })
    url = server.mqttUrl
    const f = await fixture(server.core, { org: 'acme', controllers: ['acme/pi-1', 'acme/pi-2'] })
    pi1 = f.controllers['acme/pi-1'].key
    pi2 = f.controllers['acme/pi-2'].key
  })
  const opened: MqttClient[] = []
  after(async () => {
    for (const client of opened) client.end(true)
    endAll()
    await server.close()
  })

  /** Connects with pi-1's key, collecting messages from the start (a resumed queue comes with the CONNACK). */
  const session = (clientId: string) =>
    new Promise<{ client: MqttClient; payloads: string[] }>((resolve, reject) => {
      const payloads: string[] = []
      const client = mqtt.connect(url, { username: 'key', password: pi1, clientId, clean: false, reconnectPeriod: 0 })
      opened.push(client)
      client.on('message', (_topic, payload) => payloads.push(payload.toString()))
      client.once('connect', () => resolve({ client, payloads }))
      client.once('error', reject)
    })
  const subscribed = (client: MqttClient) =>
    new Promise<void>((resolve, reject) =>
      client.subscribe('acme/pi-1/commands', { qos: 1 }, (err) => (err ? reject(err) : resolve())),
    )
  const away = (client: MqttClient) => new Promise<void>((resolve) => client.end(false, {}, () => resolve()))
  const sendAll = async (publisher: MqttClient, payloads: string[]) => {
    for (const p of payloads) await publisher.publishAsync('acme/pi-1/commands', p, { qos: 1 })
  }
  const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

  test('keeps the oldest messages up to the limit, and has room again once its client has taken them', async () => {
    const first = await session('pi-1-away')
    await subscribed(first.client)
    await away(first.client)
    const publisher = await connect(url, pi2)
    await sendAll(publisher, ['m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7'])

    const back = await session('pi-1-away')
    await settle(500)
    assert.deepEqual(back.payloads, ['m0', 'm1', 'm2', 'm3', 'm4'], 'what came after the limit was dropped')
    await away(back.client)

    await sendAll(publisher, ['n0', 'n1', 'n2'])
    const again = await session('pi-1-away')
    await settle(500)
    assert.deepEqual(again.payloads, ['n0', 'n1', 'n2'])
  })

  test('does not limit a client that is online: it takes every message as it comes', async () => {
    const online = await session('pi-1-online')
    await subscribed(online.client)
    const publisher = await connect(url, pi2)
    const sent = Array.from({ length: 4 * LIMIT }, (_, i) => `live ${i}`)
    // in flight together
    await Promise.all(sent.map((p) => publisher.publishAsync('acme/pi-1/commands', p, { qos: 1 })))
    for (let i = 0; i < 50 && online.payloads.length < sent.length; i++) await settle(20)
    assert.deepEqual(online.payloads, sent)
    assert.equal(online.client.connected, true)
  })
})
