// Messages to folders over MQTT: relayed to subscribers, kept in the folder's history, watchdogs
// and presence recorded — with real MQTT.js clients, on SQLite and PostgreSQL.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createController, createOrg } from '../../core/admin.ts'
import { folderMessages } from '../../core/messages/history.ts'
import { findPath } from '../../core/resources/tree.ts'
import { createTendril } from '../../server.ts'
import { openTestCore, providers } from '../helpers/core.ts'
import { fixture } from '../helpers/fixtures.ts'
import { closed, collect, connect, endAll, granted, nextMessage, rawSession } from '../helpers/mqtt.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { eventually } from '../helpers/http.ts'

for (const provider of providers) {
  describe(`MQTT messages on ${provider}`, () => {
    let server: TestServer
    let piKey: string
    let pi: { id: number }
    let labKey: string

    before(async () => {
      server = await startTestServer(provider)
      const f = await fixture(server.core, { org: 'acme', controllers: ['acme/lab/pi-1', 'acme/lab/pi-2'] })
      piKey = f.controllers['acme/lab/pi-1'].key
      pi = { id: f.controllers['acme/lab/pi-1'].id }
      labKey = f.controllers['acme/lab/pi-2'].key
    })
    after(async () => {
      endAll()
      await server.close()
    })

    const history = async (path: string) =>
      folderMessages(server.core, (await findPath(server.core.db, path))!.at(-1)!.id)

    test('a message of any other type is relayed to subscribers and kept in the folder history', async () => {
      const subscriber = await connect(server.mqttUrl, piKey)
      await granted(subscriber, 'acme/lab/pi-1')
      const sender = await connect(server.wsUrl, labKey)
      const received = nextMessage(subscriber)
      sender.publish('acme/lab/pi-1', '{"set_interval": {"seconds": 10}}')
      assert.equal((await received)?.payload, '{"set_interval": {"seconds": 10}}')
      assert.ok(await eventually(async () => (await history('/acme/lab/pi-1')).length === 1))
      const [kept] = await history('/acme/lab/pi-1')
      assert.equal(kept!.type, 'set_interval')
      assert.deepEqual(kept!.parameters, { seconds: 10 })
      assert.ok(kept!.senderControllerId !== null)
    })

    test('the websocket form {"type", "parameters"} is understood too', async () => {
      const sender = await connect(server.mqttUrl, labKey)
      await new Promise<void>((resolve, reject) =>
        sender.publish('acme/lab', JSON.stringify({ type: 'note', parameters: { text: 'hi' } }), { qos: 1 }, (err) =>
          err ? reject(err) : resolve(),
        ),
      )
      const kept = await history('/acme/lab')
      assert.deepEqual(
        kept.map((m) => [m.type, m.parameters]),
        [['note', { text: 'hi' }]],
      )
    })

    test('when a QoS 1 PUBACK arrives, the message is already stored', async () => {
      const sender = await connect(server.mqttUrl, piKey)
      for (let i = 0; i < 20; i++) {
        await new Promise<void>((resolve, reject) =>
          sender.publish('acme/lab/pi-2', JSON.stringify({ tick: { i } }), { qos: 1 }, (err) =>
            err ? reject(err) : resolve(),
          ),
        )
      }
      const kept = await history('/acme/lab/pi-2')
      assert.deepEqual(
        kept.map((m) => (m.parameters as { i: number }).i),
        [...Array(20).keys()],
      )
    })

    test('a QoS 1 message resent with DUP after a lost PUBACK is stored once, even on a new connection', async () => {
      const topic = 'acme/lab'
      const publish = {
        cmd: 'publish',
        topic,
        payload: Buffer.from('{"dup_check": {"n": 1}}'),
        qos: 1,
        messageId: 7,
        retain: false,
      } as const
      const first = await rawSession(server.mqttUrl, labKey, 'dup-tester')
      first.send({ ...publish, dup: false })
      await first.next('puback')
      first.close() // as if the PUBACK had been lost with the connection
      const second = await rawSession(server.mqttUrl, labKey, 'dup-tester')
      second.send({ ...publish, dup: true })
      await second.next('puback')
      second.close()
      assert.equal((await history('/acme/lab')).filter((m) => m.type === 'dup_check').length, 1)
    })

    test('a watchdog message records the controller as alive and is not kept as history', async () => {
      const client = await connect(server.mqttUrl, piKey)
      const before = (await history('/acme/lab/pi-1')).length
      await new Promise<void>((resolve, reject) =>
        client.publish('acme/lab/pi-1', '{"watchdog": {}}', { qos: 1 }, (err) => (err ? reject(err) : resolve())),
      )
      const status = await server.core.db.controllerStatus.findUniqueOrThrow({ where: { controllerId: pi.id } })
      assert.ok(status.lastWatchdogAt && Date.now() - status.lastWatchdogAt.getTime() < 5000)
      assert.equal((await history('/acme/lab/pi-1')).length, before)
    })

    test('a controller is shown connected while its session is open, and disconnected after', async () => {
      const status = () => server.core.db.controllerStatus.findUniqueOrThrow({ where: { controllerId: pi.id } })
      endAll()
      assert.ok(await eventually(async () => !(await status()).connected))
      const client = await connect(server.mqttUrl, piKey)
      assert.ok(await eventually(async () => (await status()).connected))
      assert.ok((await status()).lastConnectAt)
      client.end()
      assert.ok(await eventually(async () => !(await status()).connected))
    })

    test('a controller left shown connected by a crash or power cut is shown disconnected once the server is back', async () => {
      const core = await openTestCore(provider)
      await createOrg(core, 'acme')
      const gone = await createController(core, 'acme/lab/pi-gone')
      const back = await createController(core, 'acme/lab/pi-back')
      // what a server that lost power with both connected left in the database
      for (const { id } of [gone, back]) {
        await core.db.controllerStatus.upsert({
          where: { controllerId: id },
          create: { controllerId: id, connected: true },
          update: { connected: true },
        })
      }
      const tendril = await createTendril(core)
      try {
        const { mqttPort } = await tendril.listen({ port: 0, host: '127.0.0.1', mqttPort: 0 })
        await connect(`mqtt://127.0.0.1:${mqttPort}`, back.key) // reconnects at once
        const shown = async (id: number) =>
          (await core.db.controllerStatus.findUniqueOrThrow({ where: { controllerId: id } })).connected
        assert.ok(await eventually(async () => !(await shown(gone.id))), 'the one that did not come back')
        await new Promise((resolve) => setTimeout(resolve, 300))
        assert.equal(await shown(back.id), true, 'the one that did')
      } finally {
        endAll()
        await tendril.close()
        await core.cleanup()
      }
    })

    test('after a storm of connects and disconnects each controller is shown as its sessions are', async () => {
      const fleet: Awaited<ReturnType<typeof createController>>[] = []
      for (let i = 0; i < 30; i++) fleet.push(await createController(server.core, `acme/storm/pi-${i}`))
      // some have a status row to update, the others none yet (a row to insert)
      await server.core.db.controllerStatus.deleteMany({
        where: { controllerId: { in: fleet.slice(10).map((c) => c.id) } },
      })
      const open = (c: (typeof fleet)[number], session: string) =>
        connect(server.mqttUrl, c.key, { clientId: `${session}-${c.id}` })
      const first = await Promise.all(fleet.map((c) => open(c, 'a')))
      // without waiting for the writes: the odd ones leave, every third opens a second session and
      // drops its first, every fifth leaves and comes back
      const second = await Promise.all(fleet.map((c, i) => (i % 3 === 0 ? open(c, 'b') : null)))
      const third = await Promise.all(
        fleet.map(async (c, i) => {
          if (i % 2 === 1 || i % 3 === 0) first[i]!.end(true)
          if (i % 5 !== 0) return null
          const again = await open(c, 'c')
          if (i % 2 === 1) again.end(true)
          return again
        }),
      )
      const expected = fleet.map((_, i) => i % 3 === 0 || i % 2 === 0)
      const shown = async () => {
        const rows = await server.core.db.controllerStatus.findMany({
          where: { controllerId: { in: fleet.map((c) => c.id) } },
        })
        const byId = new Map(rows.map((r) => [r.controllerId, r]))
        return fleet.map((c) => byId.get(c.id)?.connected ?? false)
      }
      assert.ok(
        await eventually(async () => JSON.stringify(await shown()) === JSON.stringify(expected), 5000),
        'shown as the sessions are',
      )
      await new Promise((resolve) => setTimeout(resolve, 300)) // no late write undoes it
      assert.deepEqual(await shown(), expected)
      const connectedRows = await server.core.db.controllerStatus.findMany({
        where: { controllerId: { in: fleet.map((c) => c.id) }, connected: true },
      })
      assert.ok(
        connectedRows.every((r) => r.lastConnectAt && Date.now() - r.lastConnectAt.getTime() < 60_000),
        'each has its connect time',
      )
      // each key's use is written once the storm is over, not lost
      const used = async () =>
        (await server.core.db.key.count({
          where: { accessAsControllerId: { in: fleet.map((c) => c.id) }, lastUsedAt: { not: null } },
        })) === fleet.length
      assert.ok(await eventually(used, 5000), 'every key shows its use')
      for (const client of [...first, ...second, ...third]) client?.end(true)
      assert.ok(
        await eventually(async () => (await shown()).every((c) => !c), 5000),
        'and all disconnected once every session closed',
      )
    })

    test('a payload that is not a rhizo message is relayed but not stored, and the client stays connected', async () => {
      const subscriber = await connect(server.mqttUrl, labKey)
      await granted(subscriber, 'acme/lab/pi-1')
      const sender = await connect(server.mqttUrl, piKey)
      const before = (await history('/acme/lab/pi-1')).length
      const received = nextMessage(subscriber)
      await new Promise<void>((resolve, reject) =>
        sender.publish('acme/lab/pi-1', 'x,not,csv', { qos: 1 }, (err) => (err ? reject(err) : resolve())),
      )
      assert.equal((await received)?.payload, 'x,not,csv')
      assert.equal((await history('/acme/lab/pi-1')).length, before)
      // JSON found bad only when kept (its decoding waits until then): relayed, and neither kept nor in the way of the
      // good one after it
      const relayed = collect(subscriber, 1500)
      for (const [payload, qos] of [
        ['{"note": 5}', 0],
        ['{"note": {}', 1],
        ['{"note": {"n": "good"}}', 1],
      ] as const)
        await sender.publishAsync('acme/lab/pi-1', payload, { qos })
      assert.deepEqual(
        (await relayed).map((m) => m.payload),
        ['{"note": 5}', '{"note": {}', '{"note": {"n": "good"}}'],
      )
      assert.deepEqual(
        (await history('/acme/lab/pi-1')).slice(before).map((m) => [m.type, m.parameters]),
        [['note', { n: 'good' }]],
      )
      assert.equal(await closed(sender, 300), false)
    })

    test('messages to a sub-topic below a folder are relayed only', async () => {
      const subscriber = await connect(server.mqttUrl, labKey)
      await granted(subscriber, 'acme/lab/pi-1/led')
      const sender = await connect(server.mqttUrl, piKey)
      const received = nextMessage(subscriber)
      sender.publish('acme/lab/pi-1/led', '{"on": {}}')
      assert.equal((await received)?.payload, '{"on": {}}')
      assert.equal(await findPath(server.core.db, '/acme/lab/pi-1/led'), null)
    })
  })
}
