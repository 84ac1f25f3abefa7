// Limits: a faulty or hostile MQTT client loses its own connection and nobody else's.
import assert from 'node:assert/strict'
import net from 'node:net'
import { after, before, describe, test } from 'node:test'
import { createController, createOrg } from '../../core/admin.ts'
import { createTendril, type Tendril } from '../../server.ts'
import { freePort } from '../harness/ports.ts'
import { openTestCore, providers, type TestCore } from '../helpers/core.ts'
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
