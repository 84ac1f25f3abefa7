// Issue 16, items 1 and 7, through every door a value comes in by (REST, MQTT CSV and JSON from
// MQTT.js and mosquitto_pub, rhizo's JSON websocket, the SDK) on SQLite and PostgreSQL:
// - a rounded value is stored as the shortest text of the rounded number ("60.5", never "60.50");
// - a controller's value for a missing sequence in its own folder creates the sequence; elsewhere,
//   or with the setting off, the sender hears of the refusal and the controller's log records it.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { after, before, describe, test } from 'node:test'
import type { MqttClient } from 'mqtt'
import sharp from 'sharp'
import {
  connect as sdkConnect,
  NotFoundError,
  type TendrilClient,
  type TendrilSdkError,
} from '@tendril/controllers-sdk'
import { createController, createOrg } from '../../core/admin.ts'
import { sequenceHistory } from '../../core/resources/sequence-history.ts'
import { createSequence, findPath } from '../../core/resources/tree.ts'
import { SequenceDataType } from '../../core/resources/types.ts'
import { providers } from '../helpers/core.ts'
import { fixture } from '../helpers/fixtures.ts'
import { basicAuth, eventually } from '../helpers/http.ts'
import { closeSockets, openSocket, sendRhizo, settled } from '../helpers/json-websocket.ts'
import { connect, endAll } from '../helpers/mqtt.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

const PI = '/acme/lab/pi-1'
const T = '2026-12-01T10:00:00.000Z'

for (const provider of providers) {
  describe(`values through every door on ${provider} (issue 16)`, () => {
    let server: TestServer
    let piKey: string
    let quietKey: string
    let userKey: string
    let pi: MqttClient
    const sdks: TendrilClient[] = []
    const dir = mkdtempSync(join(tmpdir(), 'tendril-defects-'))

    before(async () => {
      server = await startTestServer(provider)
      const f = await fixture(server.core, {
        org: 'acme',
        users: { ann: {} },
        controllers: ['acme/lab/pi-1', 'acme/lab/quiet'],
      })
      userKey = f.users.ann.key
      piKey = f.controllers['acme/lab/pi-1'].key
      quietKey = f.controllers['acme/lab/quiet'].key
      const quiet = (await findPath(server.core.db, '/acme/lab/quiet'))!.at(-1)!
      await server.core.db.resource.update({
        where: { id: quiet.id },
        data: { systemAttributes: { auto_create_sequences: false } },
      })
      const folder = (await findPath(server.core.db, PI))!.at(-1)!
      for (const door of ['rest', 'csv', 'json', 'ws', 'sdk']) {
        await createSequence(server.core.db, folder, `two_${door}`, {
          dataType: SequenceDataType.numeric,
          decimalPlaces: 2,
        })
        await createSequence(server.core.db, folder, `none_${door}`, {
          dataType: SequenceDataType.numeric,
          decimalPlaces: 0,
        })
      }
      pi = await connect(server.mqttUrl, piKey)
    })
    after(async () => {
      for (const sdk of sdks) await sdk.close().catch(() => {})
      endAll()
      closeSockets()
      await server.close()
      rmSync(dir, { recursive: true, force: true })
    })

    const history = async (path: string) => {
      const sequence = (await findPath(server.core.db, path))?.at(-1)
      return sequence ? (await sequenceHistory(server.core.db, sequence.id, { count: 100 })).values : null
    }
    const dataType = async (path: string) =>
      ((await findPath(server.core.db, path))?.at(-1)?.systemAttributes as { data_type?: number } | undefined)
        ?.data_type
    const logOf = (controller: string) => history(`${controller}/log`)
    const sdk = async (key: string, controllerPath: string) => {
      const client = await sdkConnect({
        server: server.url,
        mqttUrl: server.mqttUrl,
        key,
        controllerPath,
        queueDir: join(dir, `q${sdks.length}`),
        reconnect: { minMs: 50, maxMs: 200 },
      })
      sdks.push(client)
      return client
    }

    // ---- item 1: the shortest text of the rounded number, whichever door ----

    const rounded = { two: ['60.5', '21.57'], none: ['60'] }
    const sent = { two: ['60.5', '21.567'], none: ['60'] }

    test('REST PUT stores 60.5 (not 60.50), 21.567 as 21.57 and 60 with 0 places as 60', async () => {
      for (const kind of ['two', 'none'] as const) {
        for (const value of sent[kind]) {
          const res = await fetch(`${server.url}/api/v1/resources${PI}/${kind}_rest`, {
            method: 'PUT',
            headers: { authorization: basicAuth(piKey), 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams({ value }),
          })
          assert.equal(res.status, 200)
        }
        assert.deepEqual(await history(`${PI}/${kind}_rest`), rounded[kind])
      }
    })

    test('MQTT CSV lines and a JSON update store the same text', async () => {
      for (const kind of ['two', 'none'] as const) {
        const lines = sent[kind].map((v, i) => `s,${kind}_csv,2026-12-01T10:00:0${i}.000Z,${v}`).join('\n')
        await pi.publishAsync('acme/lab/pi-1', lines, { qos: 1 })
        for (const [i, v] of sent[kind].entries()) {
          await pi.publishAsync(
            'acme/lab/pi-1',
            JSON.stringify({ update: { $t: `2026-12-01T10:00:0${i}.000Z`, [`${kind}_json`]: Number(v) } }),
            { qos: 1 },
          )
        }
        assert.deepEqual(await history(`${PI}/${kind}_csv`), rounded[kind])
        assert.deepEqual(await history(`${PI}/${kind}_json`), rounded[kind])
      }
    })

    test("rhizo's JSON websocket (update_sequence) and the SDK store the same text", async () => {
      const ws = await openSocket(server.url, piKey, { protocols: ['http-only'] })
      const client = await sdk(piKey, PI)
      for (const kind of ['two', 'none'] as const) {
        for (const [i, v] of sent[kind].entries()) {
          sendRhizo(ws, {
            type: 'update_sequence',
            parameters: { sequence: `${kind}_ws`, value: Number(v), timestamp: `2026-12-01T10:00:0${i}.000Z` },
          })
          await client.sequences.update(`${kind}_sdk`, Number(v), { timestamp: `2026-12-01T10:00:0${i}.000Z` })
        }
      }
      await settled(ws)
      await client.flush(10_000)
      for (const kind of ['two', 'none'] as const) {
        assert.deepEqual(await history(`${PI}/${kind}_ws`), rounded[kind])
        assert.deepEqual(await history(`${PI}/${kind}_sdk`), rounded[kind])
      }
    })

    // ---- item 7: a sequence is created by its first value in the controller's own folder ----

    test('a Pi publishing s,temperature and s,door to its own folder over MQTT creates a numeric and a text sequence', async () => {
      await pi.publishAsync('acme/lab/pi-1', `s,temperature,${T},21.5\ns,door,${T},open`, { qos: 1 })
      assert.deepEqual(await history(`${PI}/temperature`), ['21.5'])
      assert.equal(await dataType(`${PI}/temperature`), SequenceDataType.numeric)
      assert.deepEqual(await history(`${PI}/door`), ['open'])
      assert.equal(await dataType(`${PI}/door`), SequenceDataType.text)
      // and the next value is stored like any other
      await pi.publishAsync('acme/lab/pi-1', `s,temperature,2026-12-01T10:01:00.000Z,22`, { qos: 1 })
      assert.deepEqual(await history(`${PI}/temperature`), ['21.5', '22'])
    })

    test('mosquitto_pub at QoS 0 into a folder below the controller creates the sequence there', async () => {
      const { port } = new URL(server.mqttUrl)
      await promisify(execFile)(
        'mosquitto_pub',
        [
          '-h',
          '127.0.0.1',
          '-p',
          port,
          '-u',
          'key',
          '-P',
          piKey,
          '-t',
          'acme/lab/pi-1/status',
          '-m',
          `s,fan_speed,${T},1200`,
        ],
        { timeout: 10_000 },
      )
      assert.ok(
        await eventually(async () => (await history(`${PI}/status/fan_speed`))?.[0] === '1200', 5000),
        'status/fan_speed created with its first value',
      )
    })

    test('image bytes sent as such (update_sequence with encoded) create an image sequence', async () => {
      const jpeg = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#3a3' } })
        .jpeg()
        .toBuffer()
      const ws = await openSocket(server.url, piKey, { protocols: ['http-only'] })
      sendRhizo(ws, {
        type: 'update_sequence',
        parameters: { sequence: 'camera', value: jpeg.toString('base64'), encoded: true },
      })
      await settled(ws)
      assert.deepEqual(
        ws.frames.filter((f) => f.type === 'error'),
        [],
      )
      assert.equal(await dataType(`${PI}/camera`), SequenceDataType.image)
      const latest = await fetch(`${server.url}/api/v1/resources${PI}/camera`, {
        headers: { authorization: basicAuth(userKey) },
      })
      assert.equal(latest.headers.get('content-type'), 'image/jpeg')
      assert.deepEqual(Buffer.from(await latest.arrayBuffer()), jpeg)
    })

    test('outside its own folder nothing is created: the websocket sender gets an error frame and the controller log records it', async () => {
      const ws = await openSocket(server.url, piKey, { protocols: ['http-only'] })
      sendRhizo(ws, { type: 'update_sequence', parameters: { sequence: '/acme/lab/shared_reading', value: 3 } })
      const error = await ws.next(3000, 'error')
      assert.match(String(error?.parameters.message), /sequence not found: \/acme\/lab\/shared_reading.*own folder/)
      assert.equal(await history('/acme/lab/shared_reading'), null)
      assert.ok(
        (await logOf(PI))!.some((line) => line.includes('/acme/lab/shared_reading')),
        'pi-1/log names the refused value',
      )
      // a user's values create nothing either, and REST answers 404 for a missing sequence
      const res = await fetch(`${server.url}/api/v1/resources`, {
        method: 'PUT',
        headers: { authorization: basicAuth(userKey), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ values: JSON.stringify({ [`${PI}/by_user`]: '1' }) }),
      })
      assert.equal(res.status, 404)
      assert.equal(await history(`${PI}/by_user`), null)
    })

    test('with auto_create_sequences false on its folder an MQTT value is refused: the SDK raises NotFoundError, the log records it', async () => {
      const client = await sdk(quietKey, '/acme/lab/quiet')
      const errors: TendrilSdkError[] = []
      client.on('error', (err) => errors.push(err))
      await client.sequences.update('humidity', 40)
      await client.flush(10_000)
      assert.ok(await eventually(() => errors.length > 0, 5000), 'the SDK hears of the refusal')
      assert.ok(errors[0] instanceof NotFoundError)
      assert.match(errors[0]!.message, /sequence not found: \/acme\/lab\/quiet\/humidity.*turned off/)
      assert.equal(await history('/acme/lab/quiet/humidity'), null)
      assert.deepEqual(await logOf('/acme/lab/quiet'), [
        'value not stored: sequence not found: /acme/lab/quiet/humidity (creating sequences on their first value is turned off)',
      ])
    })
  })

  describe(`--auto-create-sequences false on ${provider}`, () => {
    let server: TestServer
    before(async () => {
      server = await startTestServer(provider, { config: { 'auto-create-sequences': false } })
      await createOrg(server.core, 'acme')
    })
    after(async () => {
      endAll()
      await server.close()
    })

    test("a controller's value for a missing sequence in its own folder is refused (MQTT.js hears an error message) and logged", async () => {
      const key = (await createController(server.core, 'acme/pi-9')).key
      const client = await connect(server.mqttUrl, key)
      const heard = new Promise<string>((resolve) => {
        client.on('message', (_t, payload) => resolve(payload.toString()))
        setTimeout(() => resolve('"nothing heard in 5 s"'), 5000).unref()
      })
      await client.publishAsync('acme/pi-9', `s,temperature,${T},21.5`, { qos: 1 })
      assert.deepEqual(JSON.parse(await heard), {
        error: {
          message: 'sequence not found: /acme/pi-9/temperature (creating sequences on their first value is turned off)',
          sequence: 'temperature',
        },
      })
      assert.equal(await findPath(server.core.db, '/acme/pi-9/temperature'), null)
      const log = (await findPath(server.core.db, '/acme/pi-9/log'))!.at(-1)!
      assert.equal((await sequenceHistory(server.core.db, log.id, { count: 10 })).values.length, 1)
    })
  })
}
