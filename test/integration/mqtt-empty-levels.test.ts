// Issue 16, item 4: topics with empty levels (`acme//TopicA`, `acme/lab/`) are valid MQTT topics
// [MQTT-4.7.1-3]. Each is a sub-topic of the folder before its first empty level, with that folder's
// access, and only relayed; no empty level lets a topic or filter out of its organization.
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { after, before, describe, test } from 'node:test'
import { promisify } from 'node:util'
import type { MqttClient } from 'mqtt'
import { sequenceHistory } from '../../core/resources/sequence-history.ts'
import { findPath } from '../../core/resources/tree.ts'
import { providers } from '../helpers/core.ts'
import { fixture, grant } from '../helpers/fixtures.ts'
import { closed, collect, connect, endAll, granted, nextMessage } from '../helpers/mqtt.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

const run = promisify(execFile)

/** A QoS 1 publish that resolves on its PUBACK, and fails if the connection closes instead (a refusal). */
const publish = (client: MqttClient, topic: string, payload: string) =>
  new Promise<void>((resolve, reject) => {
    const refused = () => reject(new Error(`the connection closed on a publish to ${topic}`))
    client.once('close', refused)
    client.publish(topic, payload, { qos: 1 }, (err) => {
      client.off('close', refused)
      if (err) reject(err)
      else resolve()
    })
  })

for (const provider of providers) {
  describe(`MQTT topics with empty levels on ${provider}`, () => {
    let server: TestServer
    let pi1: string
    let pi2: string
    let betaPi: string
    let memberKey: string
    let privateKey: string

    before(async () => {
      server = await startTestServer(provider)
      const f = await fixture(server.core, {
        orgs: ['acme', 'beta'],
        users: { ann: {} },
        controllers: ['acme/lab/pi-1', 'acme/lab/pi-2', 'beta/pi-b', 'acme/private/pi-p'],
      })
      pi1 = f.controllers['acme/lab/pi-1'].key
      pi2 = f.controllers['acme/lab/pi-2'].key
      betaPi = f.controllers['beta/pi-b'].key
      memberKey = f.users.ann.key
      // a folder only its own controller may reach
      privateKey = f.controllers['acme/private/pi-p'].key
      await grant(server.core, '/acme/private', [
        { to: { controller: f.controllers['acme/private/pi-p'].id }, level: 'write' },
      ])
    })
    after(async () => {
      endAll()
      await server.close()
    })

    test('`acme//TopicA` is published and received within the organization, the publisher staying connected', async () => {
      const subscriber = await connect(server.mqttUrl, memberKey)
      assert.equal(await granted(subscriber, 'acme//TopicA'), 0)
      const publisher = await connect(server.mqttUrl, pi1)
      const received = nextMessage(subscriber)
      await publish(publisher, 'acme//TopicA', 'hello')
      assert.deepEqual(await received, { topic: 'acme//TopicA', payload: 'hello' })
      assert.equal(publisher.connected, true)
    })

    test('`acme/lab/` reaches subscribers of `acme/lab/`, `acme/lab/#` and `acme/+/`; `acme//#` gets `acme//x` and `acme/`; `acme/+/` is checked like `acme/+`', async () => {
      const subscriber = await connect(server.mqttUrl, memberKey)
      for (const filter of ['acme/lab/', 'acme/lab/#', 'acme//#'])
        assert.equal(await granted(subscriber, filter), 0, filter)
      // `acme/+/` matches `acme/private/` too, so only who may read acme/private may have it
      assert.equal(await granted(subscriber, 'acme/+/'), 128)
      const everywhere = await connect(server.mqttUrl, privateKey)
      assert.equal(await granted(everywhere, 'acme/+/'), 0)
      const seenEverywhere = nextMessage(everywhere)
      const received = collect(subscriber, 1500)
      const publisher = await connect(server.mqttUrl, pi2)
      for (const topic of ['acme/lab/', 'acme//x', 'acme/']) await publish(publisher, topic, topic)
      // (`acme/lab/#` also has the controllers' announcements on acme/lab; a message matching several
      // of one client's subscriptions may come once per subscription, as Aedes does)
      const got = (await received).filter((m) => m.topic.endsWith('/') || m.topic.includes('//'))
      assert.deepEqual([...new Set(got.map((m) => m.topic))].sort(), ['acme/', 'acme//x', 'acme/lab/'])
      assert.ok(got.every((m) => m.payload === m.topic))
      assert.equal((await seenEverywhere)?.topic, 'acme/lab/')
      assert.equal(publisher.connected, true)
    })

    test('a value published to a sequence topic with an empty level is relayed, not stored', async () => {
      const subscriber = await connect(server.mqttUrl, pi1)
      assert.equal(await granted(subscriber, 'acme/lab/pi-1/log/'), 0)
      const received = nextMessage(subscriber)
      const publisher = await connect(server.mqttUrl, pi1)
      await publish(publisher, 'acme/lab/pi-1/log/', 'relayed only')
      await publish(publisher, 'acme/lab/pi-1//log', 'relayed only')
      await publish(publisher, 'acme/lab/pi-1/log', 'stored') // PUBACK once stored: the ones before were decided first
      assert.equal((await received)?.payload, 'relayed only')
      const { values } = await sequenceHistory(
        server.core.db,
        (await findPath(server.core.db, '/acme/lab/pi-1/log'))!.at(-1)!.id,
        { count: 100 },
      )
      assert.deepEqual(values, ['stored'])
    })

    test('another organization can neither subscribe to nor publish on `acme//x` or `acme/lab/`', async () => {
      const outsider = await connect(server.mqttUrl, betaPi)
      for (const filter of ['acme//x', 'acme/lab/', 'acme/', 'acme//#', 'acme/+/', 'acme/lab//#', '+//x', '+/lab/']) {
        assert.equal(await granted(outsider, filter), 128, filter)
      }
      assert.equal(await granted(outsider, 'beta//x'), 0, 'its own organization stays open')
      const subscriber = await connect(server.mqttUrl, memberKey)
      await granted(subscriber, 'acme//#')
      await granted(subscriber, 'acme/lab/')
      const received = collect(subscriber, 1000)
      for (const topic of ['acme//x', 'acme/lab/']) {
        const intruder = await connect(server.mqttUrl, betaPi)
        intruder.publish(topic, 'intrusion')
        assert.equal(await closed(intruder), true, topic)
      }
      assert.deepEqual(await received, [])
    })

    test('an empty first level names no organization: `/acme/x` and `//x` are refused to everyone', async () => {
      const member = await connect(server.mqttUrl, memberKey)
      for (const filter of ['/acme/x', '/acme/#', '//x', '/#', '/+/x'])
        assert.equal(await granted(member, filter), 128, filter)
      for (const topic of ['/acme/x', '//acme/x', '/']) {
        const client = await connect(server.mqttUrl, pi1)
        client.publish(topic, 'escape')
        assert.equal(await closed(client), true, topic)
      }
    })

    test('an empty level does not open a closed folder: `acme/private/` follows acme/private, `acme//private` follows acme', async () => {
      const member = await connect(server.mqttUrl, memberKey)
      for (const filter of ['acme/private/', 'acme/private//x', 'acme/private//#', 'acme/private/pi-p/'])
        assert.equal(await granted(member, filter), 128, filter)
      assert.equal(await granted(member, 'acme//private'), 0)
      for (const topic of ['acme/private/', 'acme/private//x']) {
        const client = await connect(server.mqttUrl, memberKey)
        client.publish(topic, 'peek')
        assert.equal(await closed(client), true, topic)
      }
      // its own controller may use them
      const owner = await connect(server.mqttUrl, privateKey)
      assert.equal(await granted(owner, 'acme/private//#'), 0)
      await publish(owner, 'acme/private/', 'mine')
    })

    test('mosquitto_pub and mosquitto_sub use `acme//x` and `acme/lab/`; another organization is refused', async (t) => {
      const { hostname, port } = new URL(server.mqttUrl)
      // -d prints "received SUBACK" once it has subscribed (line-buffered: a pipe would hold it until the exit)
      const sub = spawn('stdbuf', [
        '-oL',
        'mosquitto_sub',
        '-h',
        hostname,
        '-p',
        port,
        '-u',
        'key',
        '-P',
        memberKey,
        '-t',
        'acme//x',
        '-t',
        'acme/lab/',
        '-v',
        '-d',
        '-C',
        '2',
        '-W',
        '10',
      ])
      t.after(() => sub.kill())
      let output = ''
      const subscribed = new Promise<void>((resolve) =>
        sub.stdout.on('data', (d) => (output += d).includes('received SUBACK') && resolve()),
      )
      const exited = new Promise<number | null>((resolve) => sub.on('close', resolve))
      await Promise.race([subscribed, exited])
      const pubArgs = ['-h', hostname, '-p', port, '-u', 'key', '-P', pi1, '-q', '1']
      await run('mosquitto_pub', [...pubArgs, '-t', 'acme//x', '-m', 'one'])
      await run('mosquitto_pub', [...pubArgs, '-t', 'acme/lab/', '-m', 'two'])
      assert.equal(await exited, 0, output)
      assert.deepEqual(
        output.split('\n').filter((line) => line.startsWith('acme/')),
        ['acme//x one', 'acme/lab/ two'],
      )

      const betaArgs = ['-h', hostname, '-p', port, '-u', 'key', '-P', betaPi]
      // QoS 1 never gets its PUBACK: the connection closes and the command fails
      await assert.rejects(run('mosquitto_pub', [...betaArgs, '-q', '1', '-t', 'acme//x', '-m', 'intrusion']))
      const refused = await run('mosquitto_sub', [...betaArgs, '-t', 'acme//x', '-W', '3']).catch(
        (err: { stderr: string }) => err,
      )
      assert.match(refused.stderr, /All subscription requests were denied/)
    })
  })
}
