// Limits: a faulty or hostile MQTT client loses its own connection and nobody else's.
import assert from 'node:assert/strict'
import net from 'node:net'
import { after, before, describe, test } from 'node:test'
import { createController, createOrg } from '../../core/admin.ts'
import { createTendril, type Tendril } from '../../server.ts'
import { freePort } from '../harness/ports.ts'
import { openTestCore, providers, type TestCore } from '../helpers/core.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import mqtt, { type MqttClient } from 'mqtt'
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
      mqttPort = (await tendril.listen({ port: 0, host: '127.0.0.1', mqttPort: await freePort() })).mqttPort!
      url = `mqtt://127.0.0.1:${mqttPort}`
      await createOrg(core, 'acme')
      key = (await createController(core, 'acme/pi-1')).key
      other = (await createController(core, 'acme/pi-2')).key
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
    await createOrg(server.core, 'acme')
    pi1 = (await createController(server.core, 'acme/pi-1')).key
    pi2 = (await createController(server.core, 'acme/pi-2')).key
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
  const subscribed = (client: MqttClient) => new Promise<void>((resolve, reject) => client.subscribe('acme/pi-1/commands', { qos: 1 }, (err) => (err ? reject(err) : resolve())))
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
    await Promise.all(sent.map((p) => publisher.publishAsync('acme/pi-1/commands', p, { qos: 1 }))) // in flight together
    for (let i = 0; i < 50 && online.payloads.length < sent.length; i++) await settle(20)
    assert.deepEqual(online.payloads, sent)
    assert.equal(online.client.connected, true)
  })
})
