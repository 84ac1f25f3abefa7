// MQTT 3.1.1 behaviour through Tendril's broker with real clients: Debian's mosquitto_pub and
// mosquitto_sub beside MQTT.js — QoS 0/1/2, retained messages, offline queueing, unsubscribe,
// overlapping subscriptions and keepalive.
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { after, before, describe, test } from 'node:test'
import { promisify } from 'node:util'
import mqtt from 'mqtt'
import { folderMessages } from '../../core/messages/history.ts'
import { findPath } from '../../core/resources/tree.ts'
import { providers } from '../helpers/core.ts'
import { fixture } from '../helpers/fixtures.ts'
import { closed, connect, endAll, granted, nextMessage, rawSession } from '../helpers/mqtt.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

const run = promisify(execFile)

for (const provider of providers) {
  describe(`MQTT protocol on ${provider}`, () => {
    let server: TestServer
    let host: string
    let port: string
    let key: string
    let other: string

    before(async () => {
      server = await startTestServer(provider)
      ;({ hostname: host, port } = new URL(server.mqttUrl))
      const f = await fixture(server.core, { org: 'acme', controllers: ['acme/lab/pi-1', 'acme/lab/pi-2'] })
      key = f.controllers['acme/lab/pi-1'].key
      other = f.controllers['acme/lab/pi-2'].key
    })
    after(async () => {
      endAll()
      await server.close()
    })

    const mosquittoPub = (topic: string, message: string, qos: number, extra: string[] = []) =>
      run('mosquitto_pub', [
        '-h',
        host,
        '-p',
        port,
        '-u',
        'key',
        '-P',
        key,
        '-t',
        topic,
        '-m',
        message,
        '-q',
        String(qos),
        ...extra,
      ])

    for (const qos of [0, 1, 2]) {
      test(`mosquitto_pub at QoS ${qos} reaches an MQTT.js subscriber`, async () => {
        const sub = await connect(server.mqttUrl, other)
        await new Promise<void>((resolve, reject) =>
          sub.subscribe('acme/lab/pi-1/out', { qos: 2 }, (err) => (err ? reject(err) : resolve())),
        )
        const received = nextMessage(sub)
        await mosquittoPub('acme/lab/pi-1/out', `hello qos ${qos}`, qos)
        assert.equal((await received)?.payload, `hello qos ${qos}`)
      })
    }

    test('a QoS 2 message to a folder reaches a QoS 2 subscriber once, at QoS 2, and is kept once', async () => {
      const sub = await connect(server.mqttUrl, other)
      const granted2 = await new Promise<number>((resolve, reject) =>
        sub.subscribe('acme/lab/pi-1', { qos: 2 }, (err, g) => (err ? reject(err) : resolve(g![0]!.qos))),
      )
      assert.equal(granted2, 2)
      const received: { payload: string; qos: number }[] = []
      sub.on('message', (_t, payload, packet) => received.push({ payload: payload.toString(), qos: packet.qos }))
      const pub = await connect(server.mqttUrl, key)
      await pub.publishAsync('acme/lab/pi-1', '{"exactly_once": {"n": 2}}', { qos: 2 }) // resolves on PUBCOMP
      for (let i = 0; i < 40 && received.length === 0; i++) await new Promise((r) => setTimeout(r, 25))
      await new Promise((r) => setTimeout(r, 300)) // a second copy would be here by now
      assert.deepEqual(received, [{ payload: '{"exactly_once": {"n": 2}}', qos: 2 }])
      const pi = (await findPath(server.core.db, '/acme/lab/pi-1'))!.at(-1)!
      assert.equal((await folderMessages(server.core, pi.id)).filter((m) => m.type === 'exactly_once').length, 1)
    })

    test('mosquitto_sub receives what an MQTT.js client publishes, and a wrong key is refused', async () => {
      const sub = spawn('mosquitto_sub', [
        '-h',
        host,
        '-p',
        port,
        '-u',
        'key',
        '-P',
        other,
        '-t',
        'acme/lab/pi-2/in',
        '-C',
        '1',
        '-W',
        '10',
      ])
      let out = ''
      sub.stdout.on('data', (d) => (out += d))
      const done = new Promise<number | null>((resolve) => sub.on('close', resolve))
      const pub = await connect(server.mqttUrl, key)
      // publish until the subscriber, which connects on its own schedule, has seen one
      const timer = setInterval(() => pub.publish('acme/lab/pi-2/in', 'from mqtt.js'), 100)
      const code = await done
      clearInterval(timer)
      assert.equal(code, 0)
      assert.equal(out.trim(), 'from mqtt.js')
      await assert.rejects(
        run('mosquitto_pub', ['-h', host, '-p', port, '-u', 'key', '-P', 'wrong', '-t', 'acme/lab', '-m', 'x']),
      )
    })

    test('a retained message is delivered to later subscribers with the retain flag', async () => {
      await mosquittoPub('acme/lab/pi-1/state', 'open', 1, ['-r'])
      const late = await connect(server.mqttUrl, other)
      const received = new Promise<{ payload: string; retain: boolean }>((resolve) =>
        late.once('message', (_t, p, packet) => resolve({ payload: p.toString(), retain: packet.retain })),
      )
      await granted(late, 'acme/lab/pi-1/state')
      assert.deepEqual(await received, { payload: 'open', retain: true })
    })

    test('a persistent session gets the QoS 1 messages published while it was offline', async () => {
      const options = { clientId: 'offline-tester', clean: false }
      const first = await connect(server.mqttUrl, other, options)
      await new Promise<void>((resolve, reject) =>
        first.subscribe('acme/lab/pi-2/queue', { qos: 1 }, (err) => (err ? reject(err) : resolve())),
      )
      await new Promise<void>((resolve) => first.end(false, {}, () => resolve()))
      for (const n of [1, 2, 3]) await mosquittoPub('acme/lab/pi-2/queue', `queued ${n}`, 1)
      // listen before the CONNACK: queued messages follow it at once
      const received: string[] = []
      const again = mqtt.connect(server.mqttUrl, { username: 'key', password: other, reconnectPeriod: 0, ...options })
      again.on('message', (_t, p) => received.push(p.toString()))
      for (let i = 0; i < 60 && received.length < 3; i++) await new Promise((r) => setTimeout(r, 50))
      again.end(true)
      assert.deepEqual(received, ['queued 1', 'queued 2', 'queued 3'])
    })

    // Tendril sends what one turn of its event loop wrote to a connection at once (broker/write-batching.ts),
    // over WebSocket as one message holding many MQTT packets: a receiver must get them all, in order.
    for (const transport of ['tcp', 'ws'] as const) {
      test(`a burst of 3,000 QoS 0 messages over ${transport === 'ws' ? 'WebSocket' : 'TCP'} arrives complete and in order`, async () => {
        const url = transport === 'ws' ? server.wsUrl : server.mqttUrl
        const sub = await connect(url, other)
        await granted(sub, `acme/lab/pi-1/burst-${transport}`)
        const received: number[] = []
        const all = new Promise<void>((resolve) =>
          sub.on('message', (_t, p) => {
            received.push(Number(p.toString()))
            if (received.length === 3000) resolve()
          }),
        )
        const pub = await connect(url, key)
        for (let i = 0; i < 3000; i++) pub.publish(`acme/lab/pi-1/burst-${transport}`, String(i), { qos: 0 })
        await Promise.race([all, new Promise((r) => setTimeout(r, 20_000))])
        assert.deepEqual(
          received,
          Array.from({ length: 3000 }, (_, i) => i),
        )
      })
    }

    test('after unsubscribing, nothing more arrives', async () => {
      const sub = await connect(server.mqttUrl, other)
      await granted(sub, 'acme/lab/pi-1/un')
      await new Promise<void>((resolve, reject) =>
        sub.unsubscribe('acme/lab/pi-1/un', (err?: Error) => (err ? reject(err) : resolve())),
      )
      const received = nextMessage(sub, 500)
      await mosquittoPub('acme/lab/pi-1/un', 'gone', 1)
      assert.equal(await received, null)
    })

    test('overlapping subscriptions deliver a message once', async () => {
      const sub = await connect(server.mqttUrl, other)
      await granted(sub, 'acme/lab/#')
      await granted(sub, 'acme/lab/pi-1/both')
      const received: string[] = []
      // the controllers' presence notices on acme/lab are not what this test counts
      sub.on('message', (_t, p) => !p.includes('"type":"presence"') && received.push(p.toString()))
      await mosquittoPub('acme/lab/pi-1/both', 'once', 1)
      await new Promise((r) => setTimeout(r, 300))
      assert.deepEqual(received, ['once'])
    })

    test('a client that stops sending within its keepalive is disconnected', async () => {
      const raw = await rawSession(server.mqttUrl, other, 'silent-client', 1)
      const started = Date.now()
      await raw.closed()
      const waited = Date.now() - started
      assert.ok(waited >= 1000 && waited < 4000, `closed after ${waited} ms`)
      const alive = await connect(server.mqttUrl, other, { keepalive: 1 })
      await new Promise((r) => setTimeout(r, 2500))
      assert.equal(await closed(alive, 10), false, 'a client that pings stays connected')
    })
  })
}
