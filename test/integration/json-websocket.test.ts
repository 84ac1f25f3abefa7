// rhizo's JSON websocket at /api/v1/websocket: a second door onto the same routing as MQTT.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import WebSocket from 'ws'
import { createController } from '../../core/admin.ts'
import { folderMessages } from '../../core/messages/history.ts'
import { revokeKey } from '../../core/accounts/keys.ts'
import { findPath } from '../../core/resources/tree.ts'
import { providers } from '../helpers/core.ts'
import { fixture } from '../helpers/fixtures.ts'
import { connect, endAll, granted } from '../helpers/mqtt.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { closeSockets, openSocket, settled } from '../helpers/json-websocket.ts'

const send = (ws: WebSocket, frame: Record<string, unknown>) => ws.send(JSON.stringify(frame))

for (const provider of providers) {
  describe(`JSON websocket on ${provider}`, () => {
    let server: TestServer
    let piKey: string
    let piId: number
    let otherKey: string
    let betaKey: string

    before(async () => {
      server = await startTestServer(provider)
      const f = await fixture(server.core, {
        orgs: ['acme', 'beta'],
        controllers: ['acme/lab/pi-1', 'acme/lab/pi-2', 'beta/pi-b'],
      })
      piKey = f.controllers['acme/lab/pi-1'].key
      piId = f.controllers['acme/lab/pi-1'].id
      otherKey = f.controllers['acme/lab/pi-2'].key
      betaKey = f.controllers['beta/pi-b'].key
    })
    after(async () => {
      closeSockets()
      endAll()
      await server.close()
    })

    test('a connection without a valid key or session is refused with 401', async () => {
      await assert.rejects(openSocket(server.url), (e: { status?: number }) => e.status === 401)
      await assert.rejects(
        openSocket(server.url, 'tdl_' + 'Q'.repeat(50)),
        (e: { status?: number }) => e.status === 401,
      )
    })

    test('a controller subscribed to "self" receives messages sent to its folder over MQTT', async () => {
      const ws = await openSocket(server.url, piKey)
      send(ws, { type: 'subscribe', parameters: { subscriptions: [{ folder: 'self' }] } })
      await settled(ws)
      const mqtt = await connect(server.mqttUrl, otherKey)
      mqtt.publish('acme/lab/pi-1', JSON.stringify({ set_interval: { seconds: 30 } }))
      const frame = await ws.next()
      assert.equal(frame?.type, 'set_interval')
      assert.deepEqual(frame?.parameters, { seconds: 30 })
      assert.match(frame!.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    })

    test('a message sent on the websocket reaches MQTT subscribers and the folder history', async () => {
      const mqtt = await connect(server.mqttUrl, otherKey)
      await granted(mqtt, 'acme/lab')
      // (the controller's connecting is announced on its folder too, as a presence message)
      const received = new Promise<string>((resolve) =>
        mqtt.on(
          'message',
          (_topic, payload) => !payload.toString().includes('"presence"') && resolve(payload.toString()),
        ),
      )
      const ws = await openSocket(server.url, piKey)
      send(ws, { type: 'experiment_started', folder: '/acme/lab', parameters: { run: 7 } })
      assert.deepEqual(JSON.parse(await received), { experiment_started: { run: 7 } })
      const lab = (await findPath(server.core.db, '/acme/lab'))!.at(-1)!
      assert.deepEqual(
        (await folderMessages(server.core, lab.id)).map((m) => [m.type, m.parameters]),
        [['experiment_started', { run: 7 }]],
      )
    })

    test('subscriptions can include child folders and filter by message type; the sender gets no echo', async () => {
      const watcher = await openSocket(server.url, otherKey)
      send(watcher, {
        type: 'subscribe',
        parameters: { subscriptions: [{ folder: '/acme/lab', include_children: true, message_type: 'alarm' }] },
      })
      await settled(watcher)
      const sender = await openSocket(server.url, piKey)
      send(sender, { type: 'subscribe', parameters: { subscriptions: [{ folder: '/acme/lab/pi-1' }] } })
      await settled(sender)
      send(sender, { type: 'chatter', parameters: {} })
      send(sender, { type: 'alarm', parameters: { level: 'high' } })
      const frame = await watcher.next()
      assert.deepEqual([frame?.type, frame?.parameters], ['alarm', { level: 'high' }])
      assert.equal(await watcher.next(300), null, 'the other type was filtered out')
      assert.equal(await sender.next(300), null, 'no echo to the sender')
    })

    test("another organization's folders can be neither subscribed to nor written", async () => {
      const outsider = await openSocket(server.url, betaKey)
      send(outsider, {
        type: 'subscribe',
        parameters: { subscriptions: [{ folder: '/acme/lab', include_children: true }] },
      })
      // no hint that the folder exists: the same answer as for a folder that does not
      assert.deepEqual((await outsider.next())?.parameters, { message: 'folder not found: /acme/lab' })
      send(outsider, { type: 'intrusion', folder: '/acme/lab', parameters: {} })
      assert.deepEqual((await outsider.next())?.parameters, { message: 'folder not found: /acme/lab' })
      send(outsider, { type: 'x', folder: '/nowhere/at/all', parameters: {} })
      assert.equal((await outsider.next())?.type, 'error')
    })

    test('revoking the key of a live websocket closes it within about a second', async () => {
      const { key, id } = await createController(server.core, 'acme/lab/pi-revoked')
      const ws = await openSocket(server.url, key)
      const other = await openSocket(server.url, otherKey)
      const closedWith = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)))
      await revokeKey(
        server.core.db,
        (await server.core.db.key.findFirstOrThrow({ where: { accessAsControllerId: id } })).id,
      )
      const code = await Promise.race([closedWith, new Promise<null>((r) => setTimeout(() => r(null), 2500))])
      assert.equal(code, 4001, 'closed with the credentials code')
      assert.equal(other.readyState, WebSocket.OPEN, 'other connections stay open')
    })

    test('malformed frames get an error frame and the connection stays open', async () => {
      const ws = await openSocket(server.url, piKey)
      ws.send('not json')
      assert.equal((await ws.next())?.type, 'error')
      send(ws, { parameters: {} })
      assert.equal((await ws.next())?.type, 'error')
      assert.equal(ws.readyState, WebSocket.OPEN)
    })

    test('watchdog and presence over the websocket update the controller status, with the client version', async () => {
      closeSockets()
      endAll()
      const status = () => server.core.db.controllerStatus.findUniqueOrThrow({ where: { controllerId: piId } })
      const until = async (check: (s: Awaited<ReturnType<typeof status>>) => boolean) => {
        for (let i = 0; i < 100 && !check(await status()); i++) await new Promise((r) => setTimeout(r, 30))
        return check(await status())
      }
      assert.ok(await until((s) => !s.connected))
      const ws = await openSocket(server.url, piKey)
      assert.ok(await until((s) => s.connected && s.clientVersion === '0.3.7'))
      send(ws, { type: 'watchdog', parameters: {} })
      assert.ok(await until((s) => !!s.lastWatchdogAt && Date.now() - s.lastWatchdogAt.getTime() < 5000))
      ws.close()
      assert.ok(await until((s) => !s.connected))
    })
  })
}
