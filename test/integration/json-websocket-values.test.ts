// Sequence values on rhizo's JSON websocket, sent exactly as the unmodified rhizo client frames them
// when it has no mqtt_host (rhizo/messages.py, rhizo/sequences.py): stored by the same rules as over
// MQTT, announced to the folder's MQTT subscribers ("d,…") and websocket subscribers (rhizo's
// `sequence_update`), and refused values reported back on the socket.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { MqttClient } from 'mqtt'
import sharp from 'sharp'
import { THUMBNAIL_SEQUENCE_NAME } from '../../core/images/thumbnails.ts'
import { readRevisionBytes } from '../../core/resources/revisions.ts'
import { sequenceHistory } from '../../core/resources/sequence-history.ts'
import { createSequence, findPath } from '../../core/resources/tree.ts'
import { SequenceDataType } from '../../core/resources/types.ts'
import { providers } from '../helpers/core.ts'
import { fixture } from '../helpers/fixtures.ts'
import { eventually } from '../helpers/http.ts'
import { closeSockets, openSocket, sendRhizo, settled, type JsonSocket } from '../helpers/json-websocket.ts'
import { connect, endAll, granted } from '../helpers/mqtt.ts'
import { rhizoClient as rhizoHttp } from '../helpers/rhizo.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

/** Collects what an MQTT client receives on a topic. */
function inbox(client: MqttClient) {
  const payloads: string[] = []
  client.on('message', (_topic, payload) => payloads.push(payload.toString()))
  return {
    payloads,
    /** waits for a payload matching re */
    async match(re: RegExp, ms = 5000) {
      assert.ok(
        await eventually(() => payloads.some((p) => re.test(p)), ms),
        `no MQTT payload matching ${re} in ${JSON.stringify(payloads)}`,
      )
      return payloads.find((p) => re.test(p))!
    },
  }
}

/** rhizo's client: subprotocol http-only, Basic "<version>:<key>", then its subscription to its own folder. */
async function rhizoClient(url: string, key: string): Promise<JsonSocket> {
  const ws = await openSocket(url, key, { protocols: ['http-only'], clientVersion: '0.0.4.unknown' })
  sendRhizo(ws, { type: 'subscribe', parameters: { subscriptions: [{ folder: 'self', include_children: false }] } })
  await settled(ws)
  return ws
}

for (const provider of providers) {
  describe(`sequence values on the JSON websocket on ${provider}`, () => {
    let server: TestServer
    let piKey: string
    let watcherKey: string
    let betaKey: string
    let temperatureId: number

    before(async () => {
      server = await startTestServer(provider)
      const f = await fixture(server.core, {
        orgs: ['acme', 'beta'],
        controllers: ['acme/lab/pi-1', 'acme/lab/watcher', 'beta/pi-b'],
      })
      piKey = f.controllers['acme/lab/pi-1'].key
      watcherKey = f.controllers['acme/lab/watcher'].key
      betaKey = f.controllers['beta/pi-b'].key
      const pi = (await findPath(server.core.db, '/acme/lab/pi-1'))!.at(-1)!
      temperatureId = (
        await createSequence(server.core.db, pi, 'temperature', {
          dataType: SequenceDataType.numeric,
          decimalPlaces: 1,
          units: 'C',
        })
      ).id
      await createSequence(server.core.db, pi, 'note', { dataType: SequenceDataType.text })
      await createSequence(server.core.db, pi, 'camera', { dataType: SequenceDataType.image })
      await createSequence(server.core.db, pi, 'slow', { dataType: SequenceDataType.numeric, minStorageInterval: 3600 })
    })
    after(async () => {
      closeSockets()
      endAll()
      await server.close()
    })

    const history = async (path: string) => {
      const sequence = (await findPath(server.core.db, path))!.at(-1)!
      return sequenceHistory(server.core.db, sequence.id, { count: 10_000 })
    }

    test("rhizo's handshake is accepted: subprotocol http-only, HTTP Basic version:key, frames ending in a line break, ping", async () => {
      const ws = await rhizoClient(server.url, piKey)
      assert.equal(ws.protocol, 'http-only', 'the subprotocol rhizo asks for is agreed')
      sendRhizo(ws, { type: 'ping', parameters: {} })
      await settled(ws)
      assert.deepEqual(ws.frames, [], 'no error for the subscription or the ping')
      const version = async () =>
        (await server.core.db.controllerStatus.findFirstOrThrow({ where: { controller: { name: 'pi-1' } } }))
          .clientVersion
      assert.ok(
        await eventually(async () => (await version()) === '0.0.4.unknown'),
        'the client version from the Basic user name is recorded',
      )
    })

    test('update_sequence is stored, and announced to MQTT subscribers of the folder and to websocket subscribers', async () => {
      const mqtt = await connect(server.mqttUrl, watcherKey)
      await granted(mqtt, 'acme/lab/pi-1')
      const received = inbox(mqtt)
      const watcher = await openSocket(server.url, watcherKey)
      sendRhizo(watcher, { type: 'subscribe', parameters: { subscriptions: [{ folder: '/acme/lab/pi-1' }] } })
      await settled(watcher)
      const pi = await rhizoClient(server.url, piKey)
      // rhizo/sequences.py update(): the name relative to the controller, the value as the script gave it
      sendRhizo(pi, { type: 'update_sequence', parameters: { sequence: 'temperature', value: 21.64 } })
      await settled(pi)
      assert.deepEqual((await history('/acme/lab/pi-1/temperature')).values, ['21.6'], 'rounded to decimal_places')
      assert.match(await received.match(/^d,temperature,/), /^d,temperature,\d{4}-\d\d-\d\dT[\d:.]+Z,21\.6$/)
      const update = await watcher.next(5000, 'sequence_update')
      assert.deepEqual(
        { ...update?.parameters, timestamp: undefined },
        { id: temperatureId, name: '/acme/lab/pi-1/temperature', timestamp: undefined, value: '21.6' },
      )
      assert.equal(update!.parameters.timestamp, update!.timestamp, "stamped with the value's time, as rhizo did")
      // the controller subscribed to its own folder sees its value too (rhizo sent sequence_update to every subscriber)
      assert.equal((await pi.next(5000, 'sequence_update'))?.parameters.name, '/acme/lab/pi-1/temperature')
    })

    test('a sequence created through REST takes a value on the websocket at once, though it was looked up missing just before', async () => {
      const pi = await rhizoClient(server.url, piKey)
      // rhizo/sequences.py create(): file_exists (a 404), POST the sequence, then update() on the socket
      const rest = rhizoHttp(server.url, piKey)
      assert.equal((await rest.send('GET', '/api/v1/resources/acme/lab/pi-1/humidity', { meta: 1 })).status, 404)
      const created = await rest.send('POST', '/api/v1/resources', {
        path: '/acme/lab/pi-1',
        name: 'humidity',
        type: 21,
        data_type: 1,
        min_storage_interval: 20,
      })
      assert.equal(created.status, 200)
      sendRhizo(pi, { type: 'update_sequence', parameters: { sequence: 'humidity', value: 48 } })
      await settled(pi)
      assert.equal(await pi.next(300, 'error'), null, 'no "sequence not found"')
      assert.deepEqual((await history('/acme/lab/pi-1/humidity')).values, ['48'])
    })

    test("the client's log lines (update_sequence of 'log') and absolute sequence paths are stored", async () => {
      const pi = await rhizoClient(server.url, piKey)
      sendRhizo(pi, {
        type: 'update_sequence',
        parameters: { sequence: 'log', value: '2026-12-03 17:00:00,123: INFO: started\nsecond line' },
      })
      sendRhizo(pi, { type: 'update_sequence', parameters: { sequence: '/acme/lab/pi-1/note', value: 'absolute' } })
      await settled(pi)
      assert.deepEqual((await history('/acme/lab/pi-1/log')).values, [
        '2026-12-03 17:00:00,123: INFO: started\nsecond line',
      ])
      assert.deepEqual((await history('/acme/lab/pi-1/note')).values.at(-1), 'absolute')
      assert.equal(await pi.next(300, 'error'), null)
    })

    test("an update with rhizo's '$t' timestamp to a folder given without its leading slash, or relative to the controller", async () => {
      const pi = await rhizoClient(server.url, piKey)
      // rhizo/sequences.py update_multiple(): one update per folder, the folder's leading slash dropped
      sendRhizo(pi, {
        type: 'update',
        folder: 'acme/lab/pi-1/status',
        parameters: { $t: '2026-12-03T17:00:00.123456 Z', processor_usage: '12.5' },
      })
      sendRhizo(pi, {
        type: 'update',
        folder: 'status',
        parameters: { $t: '2026-12-03T17:00:01.000000 Z', processor_usage: '13.5' },
      })
      await settled(pi)
      const stored = await history('/acme/lab/pi-1/status/processor_usage')
      assert.deepEqual(stored.values, ['12.5', '13.5'])
      assert.deepEqual(
        stored.timestamps.map((t) => t.toISOString()),
        ['2026-12-03T17:00:00.123Z', '2026-12-03T17:00:01.000Z'],
      )
      assert.equal(await pi.next(300, 'error'), null)
    })

    test('write_resource stores a value at a path (leading slash optional), and says why when it cannot', async () => {
      const pi = await rhizoClient(server.url, piKey)
      sendRhizo(pi, { type: 'write_resource', parameters: { path: 'acme/lab/pi-1/note', data: 'via write_resource' } })
      await settled(pi)
      assert.equal((await history('/acme/lab/pi-1/note')).values.at(-1), 'via write_resource')
      // outside its own folder a missing sequence is not created by its first value (inside it is:
      // defects-values.test.ts)
      sendRhizo(pi, { type: 'write_resource', parameters: { path: '/acme/lab/missing', data: 'x' } })
      assert.match(
        String((await pi.next(5000, 'error'))?.parameters.message),
        /sequence not found: \/acme\/lab\/missing/,
      )
      sendRhizo(pi, { type: 'write_resource', parameters: { data: 'x' } })
      assert.equal(
        (await pi.next(5000, 'error'))?.parameters.message,
        'expected data and path parameters for write_resource message',
      )
    })

    test('a value a numeric sequence cannot take is reported on the socket, and nothing is stored or announced', async () => {
      const mqtt = await connect(server.mqttUrl, watcherKey)
      await granted(mqtt, 'acme/lab/pi-1')
      const received = inbox(mqtt)
      const pi = await rhizoClient(server.url, piKey)
      const before = (await history('/acme/lab/pi-1/temperature')).values.length
      sendRhizo(pi, { type: 'update_sequence', parameters: { sequence: 'temperature', value: 'warm' } })
      const error = await pi.next(5000, 'error')
      assert.match(
        String(error?.parameters.message),
        /not stored: \/acme\/lab\/pi-1\/temperature: "warm" is not a number/,
      )
      await settled(pi)
      assert.equal((await history('/acme/lab/pi-1/temperature')).values.length, before)
      assert.equal(pi.readyState, pi.OPEN, 'the connection stays open')
      assert.ok(!received.payloads.some((p) => p.includes('warm')), 'nothing announced')
    })

    test("another organization's sequence is 'not found', like one that does not exist", async () => {
      const outsider = await rhizoClient(server.url, betaKey)
      sendRhizo(outsider, { type: 'update_sequence', parameters: { sequence: '/acme/lab/pi-1/temperature', value: 1 } })
      assert.match(
        String((await outsider.next(5000, 'error'))?.parameters.message),
        /sequence not found: \/acme\/lab\/pi-1\/temperature/,
      )
      sendRhizo(outsider, { type: 'write_resource', parameters: { path: '/acme/lab/pi-1/note', data: 'intrusion' } })
      assert.match(String((await outsider.next(5000, 'error'))?.parameters.message), /sequence not found/)
      assert.notEqual((await history('/acme/lab/pi-1/note')).values.at(-1), 'intrusion')
    })

    test('min_storage_interval thins values sent on the websocket as over MQTT', async () => {
      const pi = await rhizoClient(server.url, piKey)
      sendRhizo(pi, { type: 'update_sequence', parameters: { sequence: 'slow', value: 1 } })
      sendRhizo(pi, { type: 'update_sequence', parameters: { sequence: 'slow', value: 2 } })
      await settled(pi)
      assert.deepEqual((await history('/acme/lab/pi-1/slow')).values, ['1'])
    })

    test('an image value (base64, as rhizo sent it) is kept byte for byte and gets its 240 px thumbnail', async () => {
      const jpeg = await sharp({ create: { width: 480, height: 320, channels: 3, background: '#3a7' } })
        .jpeg()
        .toBuffer()
      const pi = await rhizoClient(server.url, piKey)
      sendRhizo(pi, { type: 'update_sequence', parameters: { sequence: 'camera', value: jpeg.toString('base64') } })
      await settled(pi)
      const camera = (await findPath(server.core.db, '/acme/lab/pi-1/camera'))!.at(-1)!
      const revision = await server.core.db.resourceRevision.findFirstOrThrow({ where: { resourceId: camera.id } })
      assert.ok((await readRevisionBytes(server.core.blobs, revision)).equals(jpeg))
      assert.ok(
        await eventually(
          async () =>
            !!(await server.core.db.resource.findFirst({
              where: { parentId: camera.id, name: THUMBNAIL_SEQUENCE_NAME },
            })),
          10_000,
        ),
        'the thumbnail sequence is made',
      )
    })

    test('a value stored over MQTT reaches websocket subscribers as sequence_update', async () => {
      const watcher = await openSocket(server.url, watcherKey)
      sendRhizo(watcher, {
        type: 'subscribe',
        parameters: { subscriptions: [{ folder: 'acme/lab/pi-1', message_type: 'sequence_update' }] },
      })
      await settled(watcher)
      const mqtt = await connect(server.mqttUrl, piKey)
      await new Promise<void>((resolve, reject) =>
        mqtt.publish('acme/lab/pi-1', 's,note,2026-12-03T18:00:00.5 Z,from mqtt', { qos: 1 }, (err) =>
          err ? reject(err) : resolve(),
        ),
      )
      const update = await watcher.next(5000)
      assert.equal(update?.type, 'sequence_update', 'the "s," line itself is not shown, only the stored value')
      assert.deepEqual(update?.parameters, {
        id: update?.parameters.id,
        name: '/acme/lab/pi-1/note',
        timestamp: '2026-12-03T18:00:00.500Z',
        value: 'from mqtt',
      })
      assert.equal(typeof update?.parameters.id, 'number')
      assert.equal(await watcher.next(300), null, 'once')
    })
  })
}
