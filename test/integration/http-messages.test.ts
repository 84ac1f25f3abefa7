// REST /api/v1/messages: the folder history, and messages sent over HTTP reaching MQTT subscribers;
// sequence values they carry are stored and announced as over MQTT.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { findPath } from '../../core/resources/tree.ts'
import { providers } from '../helpers/core.ts'
import { fixture, grant } from '../helpers/fixtures.ts'
import { connect, endAll, granted, nextMessage } from '../helpers/mqtt.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { basicAuth } from '../helpers/http.ts'
import { closeSockets, openSocket, sendRhizo, settled } from '../helpers/json-websocket.ts'
import { sequenceHistory } from '../../core/resources/sequence-history.ts'

for (const provider of providers) {
  describe(`REST messages on ${provider}`, () => {
    let server: TestServer
    let piKey: string
    let userKey: string
    let betaKey: string

    before(async () => {
      server = await startTestServer(provider)
      const f = await fixture(server.core, {
        orgs: ['acme', 'beta'],
        users: { ann: {} },
        controllers: ['acme/lab/pi-1', 'beta/pi-b', 'acme/readonly/pi-r'],
      })
      piKey = f.controllers['acme/lab/pi-1'].key
      betaKey = f.controllers['beta/pi-b'].key
      userKey = f.users.ann.key
      // a folder acme's users may only read
      await grant(server.core, '/acme/readonly', [{ to: 'members', level: 'read' }])
    })
    after(async () => {
      closeSockets()
      endAll()
      await server.close()
    })

    const post = (key: string, body: Record<string, string>, form = true) =>
      fetch(`${server.url}/api/v1/messages`, {
        method: 'POST',
        headers: {
          authorization: basicAuth(key),
          'content-type': form ? 'application/x-www-form-urlencoded' : 'application/json',
        },
        body: form ? new URLSearchParams(body) : JSON.stringify(body),
      })
    const processorUsage = async () => {
      const sequence = (await findPath(server.core.db, '/acme/lab/pi-1/status/processor_usage'))!.at(-1)!
      return sequenceHistory(server.core.db, sequence.id, { count: 1000 })
    }
    const get = (key: string, query: string) =>
      fetch(`${server.url}/api/v1/messages?${query}`, { headers: { authorization: basicAuth(key) } })

    test('a message posted over REST reaches MQTT subscribers and the folder history', async () => {
      const subscriber = await connect(server.mqttUrl, piKey)
      await granted(subscriber, 'acme/lab/pi-1')
      const received = nextMessage(subscriber)
      const res = await post(userKey, {
        folder_path: '/acme/lab/pi-1',
        type: 'set_interval',
        parameters: '{"seconds": 15}',
      })
      assert.equal(res.status, 200)
      assert.deepEqual(await res.json(), { status: 'ok' })
      assert.deepEqual(JSON.parse((await received)!.payload), { set_interval: { seconds: 15 } })
      const history = (await (await get(piKey, 'folder_path=/acme/lab/pi-1&count=10')).json()) as {
        type: string
        parameters: unknown
        timestamp: string
      }[]
      assert.deepEqual(
        history.map((m) => [m.type, m.parameters]),
        [['set_interval', { seconds: 15 }]],
      )
      assert.match(history[0]!.timestamp, /Z$/)
    })

    test('JSON bodies work too, and count returns the newest messages in time order', async () => {
      for (const n of [1, 2, 3])
        assert.equal(
          (await post(userKey, { folder_path: '/acme/lab', type: 'step', parameters: { n } } as never, false)).status,
          200,
        )
      const history = (await (await get(userKey, 'folder_path=/acme/lab&count=2&type=step')).json()) as {
        parameters: { n: number }
      }[]
      assert.deepEqual(
        history.map((m) => m.parameters.n),
        [2, 3],
      )
    })

    test("another organization's folders answer 404, like folders that do not exist", async () => {
      const read = await get(betaKey, 'folder_path=/acme/lab')
      assert.equal(read.status, 404)
      assert.equal(((await read.json()) as { message: string }).message, 'folder not found: /acme/lab')
      assert.equal((await post(betaKey, { folder_path: '/acme/lab', type: 'x', parameters: '{}' })).status, 404)
      assert.equal((await get(userKey, 'folder_path=/acme/no-such-folder')).status, 404)
    })

    test('read access allows reading the history but not sending (403)', async () => {
      assert.equal((await get(userKey, 'folder_path=/acme/readonly')).status, 200)
      assert.equal((await post(userKey, { folder_path: '/acme/readonly', type: 'x', parameters: '{}' })).status, 403)
    })

    test('bad input is a 400 and stores nothing', async () => {
      const bad: Record<string, string>[] = [
        { type: 'x', parameters: '{}' },
        { folder_path: '/acme/lab', type: 'x'.repeat(41), parameters: '{}' },
        { folder_path: '/acme/lab', type: 'x', parameters: '{not json' },
        { folder_path: '/acme/lab', type: 'x', parameters: '[1,2]' },
      ]
      const before = await server.core.db.message.count()
      for (const body of bad) assert.equal((await post(userKey, body)).status, 400, JSON.stringify(body))
      assert.equal((await get(userKey, 'folder_path=/acme/lab&count=0')).status, 400)
      // a value for a missing sequence is a 404, as on every REST door (test/integration/value-refusals.test.ts)
      const missing = {
        folder_path: '/acme/lab',
        type: 'update_sequence',
        parameters: '{"sequence": "t", "value": "1"}',
      }
      assert.equal((await post(userKey, missing)).status, 404)
      assert.equal(await server.core.db.message.count(), before)
    })

    test("an update posted over REST is stored and announced to the folder's MQTT and websocket subscribers", async () => {
      const mqtt = await connect(server.mqttUrl, piKey)
      await granted(mqtt, 'acme/lab/pi-1/status')
      const announced = nextMessage(mqtt, 5000)
      const watcher = await openSocket(server.url, piKey)
      sendRhizo(watcher, { type: 'subscribe', parameters: { subscriptions: [{ folder: '/acme/lab/pi-1/status' }] } })
      await settled(watcher)
      const res = await post(userKey, {
        folder_path: '/acme/lab/pi-1/status',
        type: 'update',
        parameters: '{"$t": "2026-12-03T17:00:00.123456 Z", "processor_usage": "12.34"}',
      })
      assert.equal(res.status, 200)
      assert.deepEqual(await res.json(), { status: 'ok' })
      assert.deepEqual((await processorUsage()).values, ['12.3'])
      assert.equal((await announced)?.payload, 'd,processor_usage,2026-12-03T17:00:00.123Z,12.3')
      const update = await watcher.next(5000, 'sequence_update')
      assert.deepEqual(update?.parameters, {
        id: update?.parameters.id,
        name: '/acme/lab/pi-1/status/processor_usage',
        timestamp: '2026-12-03T17:00:00.123Z',
        value: '12.3',
      })
      // the update message itself is relayed too, as over MQTT
      assert.deepEqual((await watcher.next(5000, 'update'))?.parameters, {
        $t: '2026-12-03T17:00:00.123456 Z',
        processor_usage: '12.34',
      })
    })

    test('a value a numeric sequence cannot take is answered 400 with why, and nothing of the message is stored', async () => {
      const before = (await processorUsage()).values.length
      const res = await post(userKey, {
        folder_path: '/acme/lab/pi-1/status',
        type: 'update',
        parameters: '{"processor_usage": "12", "disk_usage": "busy"}',
      })
      assert.equal(res.status, 400)
      assert.match(
        ((await res.json()) as { message: string }).message,
        /not stored: \/acme\/lab\/pi-1\/status\/disk_usage: "busy" is not a number.*; nothing was stored$/,
      )
      assert.equal(
        (await processorUsage()).values.length,
        before,
        'the good value beside the bad one is not stored either',
      )
      const single = await post(userKey, {
        folder_path: '/acme/lab/pi-1',
        type: 'update_sequence',
        parameters: '{"sequence": "status/processor_usage", "value": "idle"}',
      })
      assert.equal(single.status, 400)
      assert.equal((await processorUsage()).values.length, before)
    })

    test('update_sequence over REST stores a value relative to the folder', async () => {
      const res = await post(piKey, {
        folder_path: '/acme/lab/pi-1',
        type: 'update_sequence',
        parameters: '{"sequence": "status/processor_usage", "value": 55.55}',
      })
      assert.equal(res.status, 200)
      assert.equal((await processorUsage()).values.at(-1), '55.6')
    })

    test('without credentials the history is not readable', async () => {
      assert.equal((await fetch(`${server.url}/api/v1/messages?folder_path=/acme/lab`)).status, 404)
    })
  })
}
