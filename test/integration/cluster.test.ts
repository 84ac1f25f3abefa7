// Two Tendril instances as one deployment: one PostgreSQL database and one Redis, each instance on
// its own ports. A client may land on either, and sees what clients of the other one do
// (shared/DESIGN.md, "Scaling out").
import assert from 'node:assert/strict'
import net from 'node:net'
import { after, before, describe, test } from 'node:test'
import mqttPacket from 'mqtt-packet'
import mqtt, { type IClientOptions, type IClientPublishOptions, type MqttClient } from 'mqtt'
import { createController, createOrg, createOrgUser } from '../../core/admin.ts'
import { revokeKey } from '../../core/accounts/keys.ts'
import { sequenceHistory } from '../../core/resources/sequence-history.ts'
import { createSequence, findPath } from '../../core/resources/tree.ts'
import { SequenceDataType } from '../../core/resources/types.ts'
import { fixture, grant } from '../helpers/fixtures.ts'
import { eventually } from '../helpers/http.ts'
import { closeSockets, openSocket, sendRhizo, settled } from '../helpers/json-websocket.ts'
import { deliveryStops, rawSession } from '../helpers/mqtt.ts'
import { freshRedisDatabase, watchBrokerChannels } from '../helpers/redis.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

describe('two instances on one Redis and one PostgreSQL database', () => {
  let redis: string
  let a: TestServer | undefined
  let b: TestServer | undefined
  let pi1: string
  let pi2: string
  const MAX_QUEUED = 4
  const instance = (brokerId: string, databaseUrl?: string) =>
    startTestServer('postgresql', {
      config: { redis, 'broker-id': brokerId, 'mqtt-max-queued': MAX_QUEUED },
      databaseUrl,
    })

  before(async () => {
    redis = await freshRedisDatabase() // no skip: without Redis this fails, as a broken cluster would
    a = await instance('a')
    b = await instance('b', a.databaseUrl)
    const f = await fixture(a.core, { org: 'acme', controllers: ['acme/greenhouse/pi-1', 'acme/greenhouse/pi-2'] })
    pi1 = f.controllers['acme/greenhouse/pi-1'].key
    pi2 = f.controllers['acme/greenhouse/pi-2'].key
  })
  after(async () => {
    closeSockets()
    endAll()
    await b?.close()
    await a?.close()
  })

  test('a key created through one instance is accepted by the other', async () => {
    const { client } = await open(b!.mqttUrl, pi1)
    assert.equal(client.connected, true)
  })

  test('a message published on one instance reaches a subscriber on the other, at QoS 0 and at QoS 1', async () => {
    const subscriber = await open(b!.mqttUrl, pi1)
    assert.equal(await subscribe(subscriber.client, 'acme/greenhouse/pi-1/commands/#', 1), 1)
    const publisher = await open(a!.mqttUrl, pi2)
    await publish(publisher.client, 'acme/greenhouse/pi-1/commands/led', 'on', { qos: 0 })
    await publish(publisher.client, 'acme/greenhouse/pi-1/commands/fan', 'off', { qos: 1 }) // resolves on PUBACK
    assert.deepEqual(await subscriber.take(2), [
      { topic: 'acme/greenhouse/pi-1/commands/led', payload: 'on', qos: 0, retain: false },
      { topic: 'acme/greenhouse/pi-1/commands/fan', payload: 'off', qos: 1, retain: false },
    ])
    assert.deepEqual(await subscriber.take(1, 500), [], 'each message arrives once')
  })

  test("a value sent on one instance's JSON websocket is stored and reaches a websocket subscriber on the other as sequence_update", async () => {
    const watcher = await openSocket(b!.url, pi2)
    sendRhizo(watcher, { type: 'subscribe', parameters: { subscriptions: [{ folder: '/acme/greenhouse/pi-1' }] } })
    await settled(watcher)
    const pi = await openSocket(a!.url, pi1, { protocols: ['http-only'] })
    sendRhizo(pi, { type: 'update_sequence', parameters: { sequence: 'log', value: 'from instance a' } })
    const update = await watcher.next(5000, 'sequence_update')
    assert.deepEqual(
      [update?.parameters.name, update?.parameters.value],
      ['/acme/greenhouse/pi-1/log', 'from instance a'],
    )
  })

  test("the controllers SDK's entries, sent to both instances at once, are stored once (the replay mark is locked in the values' transaction)", async () => {
    const key = (await createController(a!.core, 'acme/pi-race')).key
    const folder = (await findPath(a!.core.db, '/acme/pi-race'))!.at(-1)!
    const sequence = await createSequence(a!.core.db, folder, 'race', { dataType: SequenceDataType.numeric })
    const [onA, onB] = await Promise.all([open(a!.mqttUrl, key), open(b!.mqttUrl, key)])
    const t0 = Date.parse('2026-12-04T00:00:00Z')
    // 40 publishes of 10 entries each, every one sent to both instances at the same moment
    const payload = (n: number) =>
      [
        `e,raceprod1,${n * 10 + 1},1`,
        ...Array.from(
          { length: 10 },
          (_, i) => `s,race,${new Date(t0 + (n * 10 + i) * 1000).toISOString()},${n * 10 + i}`,
        ),
      ].join('\n')
    await Promise.all(
      Array.from({ length: 40 }, (_, n) =>
        [onA, onB].map((c) => publish(c.client, 'acme/pi-race', payload(n), { qos: 1 })),
      ).flat(),
    )
    const { values } = await sequenceHistory(a!.core.db, sequence.id)
    assert.equal(values.length - new Set(values).size, 0, 'values stored twice')
    assert.deepEqual(
      values,
      Array.from({ length: 400 }, (_, i) => String(i)),
    )
  })

  test('a message goes through Redis only to an instance that listens to its topic', async () => {
    const channels = await watchBrokerChannels(redis)
    try {
      const here = await open(a!.mqttUrl, pi1)
      assert.equal(await subscribe(here.client, 'acme/greenhouse/pi-1/local-only', 0), 0)
      const publisher = await open(a!.mqttUrl, pi2)
      for (let i = 0; i < 50; i++) publisher.client.publish('acme/greenhouse/pi-1/local-only', `alpha${i}`, { qos: 0 })
      await publish(publisher.client, 'acme/greenhouse/pi-1/local-only', 'last', { qos: 1 })
      assert.equal((await here.take(51)).length, 51)
      assert.equal(count(channels.seen(), 'alpha'), 0, 'no instance but a listens: nothing went through Redis')

      const there = await open(b!.mqttUrl, pi1)
      assert.equal(await subscribe(there.client, 'acme/greenhouse/pi-1/local-only', 0), 0)
      for (let i = 0; i < 50; i++) publisher.client.publish('acme/greenhouse/pi-1/local-only', `beta${i}`, { qos: 0 })
      await publish(publisher.client, 'acme/greenhouse/pi-1/local-only', 'last', { qos: 1 })
      assert.equal((await there.take(51)).length, 51, 'b listens now: it gets every message')
      assert.equal((await here.take(51)).length, 51)
      assert.equal(count(channels.seen(), 'beta'), 50, 'each message went to b through Redis once')
    } finally {
      channels.close()
    }
  })

  test('a persistent session left on one instance resumes on the other with the QoS 1 messages sent meanwhile', async () => {
    const session = { clientId: 'pi-1-resumes', clean: false }
    const first = await open(a!.mqttUrl, pi1, session)
    assert.equal(await subscribe(first.client, 'acme/greenhouse/pi-1/commands/#', 1), 1)
    await disconnect(first.client)

    const publisher = await open(b!.mqttUrl, pi2)
    await publish(publisher.client, 'acme/greenhouse/pi-1/commands/led', 'on', { qos: 1 })
    await publish(publisher.client, 'acme/greenhouse/pi-1/commands/fan', 'off', { qos: 1 })

    const resumed = await open(b!.mqttUrl, pi1, session)
    assert.equal(resumed.sessionPresent, true)
    assert.deepEqual(
      (await resumed.take(2)).map(({ topic, payload, qos }) => ({ topic, payload, qos })),
      [
        { topic: 'acme/greenhouse/pi-1/commands/led', payload: 'on', qos: 1 },
        { topic: 'acme/greenhouse/pi-1/commands/fan', payload: 'off', qos: 1 },
      ],
    )
    // the subscription moved with the session: the first instance's publishers still reach it
    const other = await open(a!.mqttUrl, pi2)
    await publish(other.client, 'acme/greenhouse/pi-1/commands/led', 'off', { qos: 1 })
    assert.deepEqual(
      (await resumed.take(1)).map((m) => m.payload),
      ['off'],
    )

    // acknowledged messages are not delivered again on the next reconnect
    await disconnect(resumed.client)
    const again = await open(a!.mqttUrl, pi1, session)
    assert.equal(again.sessionPresent, true)
    assert.deepEqual(await again.take(1, 500), [])
  })

  test('a controller with a session on the other instance stays shown connected when its session here ends', async () => {
    const pi = await createController(a!.core, 'acme/greenhouse/pi-roaming')
    const shown = async () =>
      (await a!.core.db.controllerStatus.findUnique({ where: { controllerId: pi.id } }))?.connected
    const onA = await open(a!.mqttUrl, pi.key)
    await open(b!.mqttUrl, pi.key) // e.g. reconnected through the load balancer before the old session timed out
    assert.ok(await eventually(async () => (await shown()) === true))
    await new Promise((resolve) => setTimeout(resolve, 300)) // both instances have written what they saw
    onA.client.end(true)
    await new Promise((resolve) => setTimeout(resolve, 500))
    assert.equal(await shown(), true)
  })

  test('a client id held on one instance cannot be taken over through the other by another principal', async () => {
    const outsider = (await createController(a!.core, 'acme/greenhouse/pi-outsider')).key
    const owner = await open(a!.mqttUrl, pi1, { clientId: 'held-on-a' })
    // ids are per principal: a session of its own
    const other = await open(b!.mqttUrl, outsider, { clientId: 'held-on-a' })
    await new Promise((resolve) => setTimeout(resolve, 300)) // a takeover would have reached instance a by now
    assert.equal(owner.client.connected && other.client.connected, true)
  })

  test('a client id stays with its owner when the owner reconnects with a clean session, here or on the other instance', async () => {
    const outsider = (await createController(a!.core, 'acme/greenhouse/pi-usurper')).key
    const session = { clientId: 'pi-1-reconnects' }
    const first = await open(a!.mqttUrl, pi1, session)
    const again = await open(a!.mqttUrl, pi1, session) // the old connection is closed for it [MQTT-3.1.4-2]
    assert.equal(await gone(first.client), true)
    const outsiders = await open(b!.mqttUrl, outsider, session) // a session of its own: it closes none of pi-1's
    await new Promise((resolve) => setTimeout(resolve, 300))
    assert.equal(again.client.connected, true)

    const moved = await open(b!.mqttUrl, pi1, session) // the other instance closes the one it held
    assert.equal(await gone(again.client), true)
    await new Promise((resolve) => setTimeout(resolve, 300))
    assert.equal(moved.client.connected && outsiders.client.connected, true)
  })

  test('a QoS 1 value resent through the other instance after a lost PUBACK is stored once', async () => {
    const pi = (await findPath(a!.core.db, '/acme/greenhouse/pi-1'))!.at(-1)!
    await createSequence(a!.core.db, pi, 'level', { dataType: SequenceDataType.numeric })
    const publish = {
      cmd: 'publish',
      topic: 'acme/greenhouse/pi-1',
      payload: Buffer.from('s,level,2026-02-01T00:00:00Z,5'),
      qos: 1,
      messageId: 21,
      retain: false,
    } as const
    const first = await rawSession(a!.mqttUrl, pi1, 'pi-1-roams')
    first.send({ ...publish, dup: false })
    await first.next('puback')
    first.close() // the PUBACK lost with the connection; the load balancer sends the client elsewhere
    const second = await rawSession(b!.mqttUrl, pi1, 'pi-1-roams')
    second.send({ ...publish, dup: true })
    await second.next('puback')
    second.close()
    const level = (await findPath(a!.core.db, '/acme/greenhouse/pi-1/level'))!.at(-1)!
    assert.deepEqual((await sequenceHistory(a!.core.db, level.id, { count: 10 })).values, ['5'])
  })

  test('revoking a key through one instance closes its session on the other within about a second', async () => {
    const doomed = await createController(a!.core, 'acme/greenhouse/pi-doomed')
    const session = await open(b!.mqttUrl, doomed.key)
    const closedAt = new Promise<number>((resolve) => session.client.once('close', () => resolve(Date.now())))
    const keyRow = await a!.core.db.key.findFirstOrThrow({ where: { accessAsControllerId: doomed.id } })
    const started = Date.now()
    await revokeKey(a!.core.db, keyRow.id)
    assert.ok((await closedAt) - started < 2500)
  })

  test('a permission change made through one instance cuts forwarding on the other within about a second', async () => {
    const more = await fixture(a!.core, {
      users: { watcher: { org: 'acme' } },
      controllers: ['acme/greenhouse/pi-guarded'],
    })
    const guarded = more.controllers['acme/greenhouse/pi-guarded']
    const watcherKey = more.users.watcher.key
    const watcher = await open(b!.mqttUrl, watcherKey)
    assert.equal(await subscribe(watcher.client, 'acme/greenhouse/pi-guarded/#', 0), 0)
    const publisher = await open(a!.mqttUrl, guarded.key)
    await publish(publisher.client, 'acme/greenhouse/pi-guarded/reading', 'before', { qos: 1 })
    assert.deepEqual(
      (await watcher.take(1)).map((m) => m.payload),
      ['before'],
    )

    // only the controller itself
    await grant(a!.core, '/acme/greenhouse/pi-guarded', [{ to: { controller: guarded.id }, level: 'write' }])
    const changed = Date.now()
    const lastDelivered = await deliveryStops(watcher.client, publisher.client, 'acme/greenhouse/pi-guarded/reading')
    assert.ok(lastDelivered - changed < 2500, `delivered ${lastDelivered - changed} ms after the change`)
    await watcher.take(100, 0) // the probes that came before the cut
    await publish(publisher.client, 'acme/greenhouse/pi-guarded/never-seen', 'secret', { qos: 1 })
    assert.deepEqual(await watcher.take(1, 1000), [])
  })

  // mqemitter drains a full queue recursively once its messages lose their subscriber; with the
  // Redis emitter's queue (concurrency 100) this overflowed the stack and took the process down
  test('a subscriber that stops reading under a burst, then goes, leaves the instance running', async (t) => {
    const stalled = net.connect(Number(new URL(b!.mqttUrl).port), '127.0.0.1')
    t.after(() => stalled.destroy())
    stalled.on('error', () => {})
    stalled.write(
      mqttPacket.generate({
        cmd: 'connect',
        clientId: 'stalled-reader',
        protocolVersion: 4,
        clean: true,
        keepalive: 0,
        username: 'key',
        password: Buffer.from(pi1),
      }),
    )
    stalled.write(
      mqttPacket.generate({
        cmd: 'subscribe',
        messageId: 1,
        subscriptions: [{ topic: 'acme/greenhouse/pi-1/raw', qos: 0 }],
      }),
    )
    await new Promise((r) => setTimeout(r, 300))
    stalled.pause() // reads nothing more: the broker's writes to it back up
    const publishers = await Promise.all(Array.from({ length: 7 }, () => open(b!.mqttUrl, pi2)))
    const payload = Buffer.alloc(200, 'x')
    for (const { client } of publishers)
      for (let i = 0; i < 3900; i++) client.publish('acme/greenhouse/pi-1/raw', payload, { qos: 0 })
    // a QoS 1 message after each burst: its PUBACK means the broker has taken the whole burst
    await Promise.all(publishers.map(({ client }) => publish(client, 'acme/greenhouse/pi-1/raw', 'end', { qos: 1 })))
    await new Promise((r) => setTimeout(r, 1000))
    stalled.destroy()
    await new Promise((r) => setTimeout(r, 2000))
    const after = await open(b!.mqttUrl, pi1)
    assert.equal(await subscribe(after.client, 'acme/greenhouse/pi-1/raw', 0), 0)
    const publisher = await open(b!.mqttUrl, pi2)
    await publish(publisher.client, 'acme/greenhouse/pi-1/raw', 'still here', { qos: 1 })
    assert.deepEqual(
      (await after.take(1)).map((m) => m.payload),
      ['still here'],
    )
  })

  test('a retained message set on one instance is delivered to a new subscriber on the other, and cleared from either', async () => {
    const publisher = await open(a!.mqttUrl, pi2)
    await publish(publisher.client, 'acme/greenhouse/pi-1/config', '{"interval":5}', { qos: 1, retain: true })
    const subscriber = await open(b!.mqttUrl, pi1)
    assert.equal(await subscribe(subscriber.client, 'acme/greenhouse/pi-1/config', 0), 0)
    assert.deepEqual(await subscriber.take(1), [
      { topic: 'acme/greenhouse/pi-1/config', payload: '{"interval":5}', qos: 0, retain: true },
    ])

    const other = await open(b!.mqttUrl, pi2)
    await publish(other.client, 'acme/greenhouse/pi-1/config', '', { qos: 1, retain: true }) // [MQTT-3.3.1-10]
    const late = await open(a!.mqttUrl, pi1)
    assert.equal(await subscribe(late.client, 'acme/greenhouse/pi-1/config', 0), 0)
    assert.deepEqual(await late.take(1, 500), [])
  })

  test('failed sign-ins count on every instance together: guesses spread over both are refused at the limit', async () => {
    await createOrgUser(a!.core, 'ann@example.com', 'long enough pw', 'acme', false)
    const signIn = (server: TestServer, password: string) =>
      fetch(`${server.url}/sign-in`, {
        method: 'POST',
        body: new URLSearchParams({ email_address: 'ann@example.com', password }),
      }).then((r) => r.status)
    for (let i = 0; i < 10; i++) assert.equal(await signIn(i % 2 ? b! : a!, `guess ${i}`), 401)
    assert.equal(await signIn(a!, 'long enough pw'), 429, 'five guesses on each instance are ten for the account')
    assert.equal(await signIn(b!, 'long enough pw'), 429)
  })

  test('a session nobody holds keeps the oldest --mqtt-max-queued messages, whichever instance they came through', async () => {
    const session = { clientId: 'pi-1-long-gone', clean: false }
    const gone = await open(a!.mqttUrl, pi1, session)
    assert.equal(await subscribe(gone.client, 'acme/greenhouse/pi-1/orders', 1), 1)
    await disconnect(gone.client)
    const viaA = await open(a!.mqttUrl, pi2)
    const viaB = await open(b!.mqttUrl, pi2)
    for (let i = 0; i < 7; i++) {
      await publish((i % 2 ? viaB : viaA).client, 'acme/greenhouse/pi-1/orders', `order ${i}`, { qos: 1 })
      // PUBACK goes out before the message is queued: messages arriving together may pass the limit by a few
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    const back = await open(b!.mqttUrl, pi1, session)
    assert.deepEqual(
      (await back.take(MAX_QUEUED + 1, 1000)).map((m) => m.payload),
      ['order 0', 'order 1', 'order 2', 'order 3'],
    )
  })

  test('a session whose client is online on the other instance is never cut: what it has not acknowledged comes again', async (t) => {
    // a client that takes its messages but has not acknowledged them yet: they stay in its queue
    const slow = await rawSession(b!.mqttUrl, pi1, 'pi-1-slow')
    t.after(() => slow.close())
    slow.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'acme/greenhouse/pi-1/slow', qos: 1 }] })
    await slow.next('suback')
    const publisher = await open(a!.mqttUrl, pi2)
    const sent = Array.from({ length: 3 * MAX_QUEUED }, (_, i) => `unacknowledged ${i}`)
    for (const payload of sent) {
      await publish(publisher.client, 'acme/greenhouse/pi-1/slow', payload, { qos: 1 })
      await new Promise((resolve) => setTimeout(resolve, 30))
    }
    for (const payload of sent)
      assert.equal(String(((await slow.next('publish')) as { payload: Buffer }).payload), payload)
    slow.close()
    await slow.closed()

    const resumed = await open(a!.mqttUrl, pi1, { clientId: 'pi-1-slow', clean: false })
    assert.deepEqual(
      (await resumed.take(sent.length)).map((m) => m.payload),
      sent,
      'QoS 1: every unacknowledged message is delivered again',
    )
  })

  test('messages queued for an offline session survive restarts of the instance that queued them', async () => {
    const session = { clientId: 'pi-1-offline', clean: false }
    const offline = await open(a!.mqttUrl, pi1, session)
    assert.equal(await subscribe(offline.client, 'acme/greenhouse/pi-1/alarms', 1), 1)
    await disconnect(offline.client)

    // An instance numbers the messages it handles from zero at every start, so the same steps after
    // two starts number a message the same: one queued before a restart meets one queued after it.
    for (const payload of ['queued before a restart', 'queued after it']) {
      await b!.close()
      b = undefined
      b = await instance('b', a!.databaseUrl) // the same --broker-id over the same data
      const publisher = await open(b.mqttUrl, pi2)
      await publish(publisher.client, 'acme/greenhouse/pi-1/alarms', payload, { qos: 1 })
    }

    const back = await open(a!.mqttUrl, pi1, session)
    assert.deepEqual(
      (await back.take(2)).map((m) => m.payload),
      ['queued before a restart', 'queued after it'],
    )
  })
})

describe('sessions per key on two instances', () => {
  const LIMIT = 2
  let a: TestServer | undefined
  let b: TestServer | undefined
  before(async () => {
    const redis = await freshRedisDatabase()
    a = await startTestServer('postgresql', { config: { redis, 'broker-id': 'a', 'mqtt-connections-per-key': LIMIT } })
    b = await startTestServer('postgresql', {
      config: { redis, 'broker-id': 'b', 'mqtt-connections-per-key': LIMIT },
      databaseUrl: a.databaseUrl,
    })
    await createOrg(a.core, 'acme')
  })
  after(async () => {
    endAll()
    await b?.close()
    await a?.close()
  })
  const refused = (err: { code?: number }) => err.code === 5

  test('a key holds at most --mqtt-connections-per-key sessions on both instances together', async () => {
    const key = (await createController(a!.core, 'acme/pi-spread')).key
    const onA = await open(a!.mqttUrl, key)
    await open(b!.mqttUrl, key)
    await assert.rejects(open(a!.mqttUrl, key), refused)
    await assert.rejects(open(b!.mqttUrl, key), refused)
    onA.client.end(true)
    assert.ok(
      await eventually(() =>
        open(b!.mqttUrl, key).then(
          () => true,
          () => false,
        ),
      ),
      'the session that ended makes room',
    )
  })

  test('of a burst of CONNECTs with one key over both instances, only the limit get in', async () => {
    const key = (await createController(a!.core, 'acme/pi-burst')).key
    const outcomes = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => open((i % 2 ? b! : a!).mqttUrl, key)))
    assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, LIMIT)
    assert.ok(outcomes.every((o) => o.status === 'fulfilled' || refused(o.reason as { code?: number })))
  })
})

interface Delivery {
  topic: string
  payload: string
  qos: number
  retain: boolean
}

interface Connection {
  client: MqttClient
  /** CONNACK's session-present flag */
  sessionPresent: boolean
  /** the next `count` messages, or those that arrived within `ms` */
  take(count: number, ms?: number): Promise<Delivery[]>
}

const opened: MqttClient[] = []

/** How many times `text` occurs in `haystack`. */
function count(haystack: string, text: string): number {
  return haystack.split(text).length - 1
}

function endAll(): void {
  for (const client of opened.splice(0)) client.end(true)
}

/**
 * An MQTT.js client that collects its messages from the start: a resumed session's queue may arrive with the CONNACK.
 */
function open(url: string, key: string, options: IClientOptions = {}): Promise<Connection> {
  const inbox: Delivery[] = []
  const waiters = new Set<() => void>()
  const client = mqtt.connect(url, {
    username: 'key',
    password: key,
    reconnectPeriod: 0,
    connectTimeout: 5000,
    ...options,
  })
  opened.push(client)
  client.on('message', (topic, payload, packet) => {
    inbox.push({ topic, payload: payload.toString(), qos: packet.qos, retain: packet.retain })
    for (const wake of waiters) wake()
  })
  const take = (count: number, ms = 3000) =>
    new Promise<Delivery[]>((resolve) => {
      const done = () => {
        clearTimeout(timer)
        waiters.delete(check)
        resolve(inbox.splice(0, count))
      }
      const check = () => inbox.length >= count && done()
      const timer = setTimeout(done, ms)
      waiters.add(check)
      check()
    })
  return new Promise((resolve, reject) => {
    client.once('connect', (connack) => resolve({ client, sessionPresent: connack.sessionPresent, take }))
    client.once('error', reject)
  })
}

function subscribe(client: MqttClient, filter: string, qos: 0 | 1): Promise<number> {
  return new Promise((resolve, reject) =>
    client.subscribe(filter, { qos }, (err, granted) => (err ? reject(err) : resolve(granted![0]!.qos))),
  )
}

function publish(client: MqttClient, topic: string, payload: string, options: IClientPublishOptions): Promise<void> {
  return new Promise((resolve, reject) =>
    client.publish(topic, payload, options, (err) => (err ? reject(err) : resolve())),
  )
}

/** Resolves true once the broker has closed the client's connection (false after 3 s). */
function gone(client: MqttClient): Promise<boolean> {
  if (!client.connected) return Promise.resolve(true)
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), 3000)
    client.once('close', () => {
      clearTimeout(timer)
      resolve(true)
    })
  })
}

/** A clean DISCONNECT: the session stays on the broker. */
function disconnect(client: MqttClient): Promise<void> {
  return new Promise((resolve) => client.end(false, {}, () => resolve()))
}

/**
 * A logical database of the shared Redis that no other test file of the run uses, emptied: a counter
 * in database 0 hands them out. Broker state lives in the database, and the broker's pub/sub
 * channels are named after it, so test files on one Redis server do not hear each other.
 */
