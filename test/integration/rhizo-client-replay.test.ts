// The REST requests of an unmodified rhizo Python client (rhizo-client rhizo/controller.py,
// resources.py, sequences.py), replayed in its order and byte for byte as it sends them (form
// bodies on every method, Basic "0.0.6.unknown:x" before it has a key, ' Z' timestamps) against a
// real Tendril on SQLite and PostgreSQL: provisioning by PIN, finding its folder, creating a
// sequence, writing values the way FileClient.write does, the system monitor's update_multiple,
// reading history, writing a file, listing and sending a message.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { providers } from '../helpers/core.ts'
import { fixture } from '../helpers/fixtures.ts'
import { rhizoClient, rhizoTimestamp, rhizoUpdateOverRest, type RhizoClient } from '../helpers/rhizo.ts'
import { resourceClient, type ResourceClient } from '../helpers/resources.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

const b64 = (text: string) => Buffer.from(text).toString('base64')

for (const provider of providers) {
  describe(`an unmodified rhizo client over REST on ${provider}`, () => {
    let server: TestServer
    let ann: ResourceClient
    let annKey: string
    let controller: RhizoClient
    let pathOnServer: string

    before(async () => {
      server = await startTestServer(provider)
      const f = await fixture(server.core, { org: 'acme', users: { ann: {} } })
      annKey = f.users.ann.key
      ann = resourceClient(server.url, annKey)
      controller = rhizoClient(server.url) // no secret_key in its config yet: it sends "x"
    })
    after(async () => {
      await server.close()
    })

    test('request_key: asks for a PIN and polls it with Basic "x", the PIN code in a GET form body, and receives its key', async () => {
      // the person creates the controller folder, as in rhizo's web UI
      assert.equal((await ann.send('POST', '', { path: '/acme/lab', name: 'pi-1', type: 12 })).status, 200)
      const asked = await controller.send('POST', '/api/v1/pins')
      assert.equal(asked.status, 200, asked.text)
      const { pin, pin_code } = asked.json<{ pin: number; pin_code: string }>()
      const waiting = await controller.send('GET', `/api/v1/pins/${pin}`, { pin_code })
      assert.equal(waiting.status, 200, waiting.text)
      assert.deepEqual(waiting.json(), { status: 'ok' })
      const entered = await fetch(`${server.url}/api/v1/pins/${pin}`, {
        method: 'PUT',
        headers: {
          authorization: 'Basic ' + Buffer.from(`web:${annKey}`).toString('base64'),
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ controller: '/acme/lab/pi-1' }),
      })
      assert.equal(entered.status, 200)
      const granted = (await controller.send('GET', `/api/v1/pins/${pin}`, { pin_code })).json<{
        controller_path: string
        secret_key: string
      }>()
      assert.equal(granted.controller_path, '/acme/lab/pi-1')
      controller.secretKey = granted.secret_key // FileClient._secret_key = secret_key
    })

    test('path_on_server: GET /self with meta and include_path in the form body', async () => {
      const info = await controller.send('GET', '/api/v1/resources/self', { meta: 1, include_path: 1 })
      assert.equal(info.status, 200, info.text)
      pathOnServer = info.json<{ path: string }>().path
      assert.equal(pathOnServer, '/acme/lab/pi-1')
    })

    test('sequences.create: a 404 from file_exists, then POST with data_type, min_storage_interval, decimal_places and units', async () => {
      const full = `${pathOnServer}/temperature`
      assert.equal((await controller.send('GET', '/api/v1/resources' + full, { meta: 1 })).status, 404)
      const created = await controller.send('POST', '/api/v1/resources', {
        path: pathOnServer,
        name: 'temperature',
        type: 21,
        data_type: 1,
        min_storage_interval: 20,
        decimal_places: 1,
        units: 'degrees C',
      })
      assert.equal(created.status, 200, created.text)
      const meta = (await controller.send('GET', '/api/v1/resources' + full, { meta: 1 })).json<{
        system_attributes: Record<string, unknown>
      }>()
      assert.deepEqual(meta.system_attributes, {
        max_history: 10000,
        data_type: 1,
        min_storage_interval: 20,
        decimal_places: 1,
        units: 'degrees C',
      })
    })

    test('sequences.update without the websocket: FileClient.write does GET then PUT with base64 data, then reads the value back', async () => {
      const full = `${pathOnServer}/temperature`
      const value = '21.5'
      // write(): the GET carries the same form body as the PUT; a 404 here would make it POST a file over the sequence
      const probe = await controller.send('GET', '/api/v1/resources' + full, { data: b64(value) })
      assert.equal(probe.status, 200, 'an empty sequence answers 200, so the client goes on to PUT')
      const put = await controller.send('PUT', '/api/v1/resources' + full, { data: b64(value) })
      assert.equal(put.status, 200, put.text)
      const read = await controller.send('GET', '/api/v1/resources' + full)
      assert.equal(read.text, value, "read_file(...).decode() == value ends the client's retry loop")
    })

    test('sequences.update without the websocket ends after one write on sequences with decimal_places (it looped on "60.50")', async () => {
      // str(value) of what a Python program passes: 60.5, 21.25, 60.0 (a float), 60 and 7 (ints)
      const cases = [
        ['60.5', 2],
        ['21.25', 2],
        ['60.0', 2],
        ['60', 0],
        ['7', 1],
      ] as const
      for (const [i, [value, places]] of cases.entries()) {
        // one sequence each: the client's min_storage_interval of 20 s would skip a second value
        const name = `reading_${i}`
        const created = await controller.send('POST', '/api/v1/resources', {
          path: pathOnServer,
          name,
          type: 21,
          data_type: 1,
          min_storage_interval: 20,
          decimal_places: places,
        })
        assert.equal(created.status, 200, created.text)
        const outcome = await rhizoUpdateOverRest(controller, `${pathOnServer}/${name}`, value)
        assert.deepEqual(outcome, { writes: 1, read: [value] }, `${value} with ${places} decimal places`)
      }
    })

    test('the system monitor: update_multiple over REST with absolute paths and a microsecond " Z" timestamp', async () => {
      const at = new Date(Date.now() - 1000)
      const statusFolder = `${pathOnServer}/status`
      const values = { [`${statusFolder}/processor_usage`]: '12.5', [`${statusFolder}/disk_usage`]: '40.2' }
      const res = await controller.send('PUT', '/api/v1/resources', {
        values: JSON.stringify(values),
        timestamp: rhizoTimestamp(at),
      })
      assert.equal(res.status, 200, res.text)
      assert.equal(res.json<{ stored: number }>().stored, 2)
      for (const [path, value] of Object.entries(values)) {
        const history = (await controller.send('GET', '/api/v1/resources' + path, { count: 10 })).json<{
          values: string[]
          timestamps: string[]
        }>()
        assert.deepEqual(history.values, [value])
        assert.equal(history.timestamps[0], at.toISOString(), 'the timestamp as sent, to the millisecond')
      }
    })

    test('a script reads history with count and start_timestamp in the GET form body', async () => {
      const path = `${pathOnServer}/status/messages_sent`
      const t0 = Date.now() - 20_000 // within the 30 s a controller's clock may be off without correction
      for (const [i, value] of ['1', '2', '3'].entries()) {
        const res = await controller.send('PUT', '/api/v1/resources', {
          values: JSON.stringify({ [path]: value }),
          timestamp: rhizoTimestamp(new Date(t0 + i * 5_000)),
        })
        assert.equal(res.status, 200, res.text)
      }
      const ranged = await controller.send('GET', '/api/v1/resources' + path, {
        count: 10,
        start_timestamp: rhizoTimestamp(new Date(t0 + 2_500)),
      })
      assert.equal(ranged.status, 200, ranged.text)
      assert.deepEqual(ranged.json<{ values: string[] }>().values, ['2', '3'])
      const csv = await controller.send('GET', '/api/v1/resources' + path, { count: 2, download: 1 })
      assert.deepEqual(
        csv.text
          .trim()
          .split('\n')
          .slice(1)
          .map((line) => line.split(',')[1]),
        ['2', '3'],
      )
    })

    test('files.write of a new file: GET 404, then POST type 20 with creationTimestamp; a second write is a PUT', async () => {
      const path = `${pathOnServer}/config.txt`
      const created = new Date(Date.UTC(2026, 11, 3, 17, 0, 0, 123))
      const first = {
        data: b64('interval: 30'),
        creationTimestamp: rhizoTimestamp(created),
        modificationTimestamp: rhizoTimestamp(created),
      }
      assert.equal((await controller.send('GET', '/api/v1/resources' + path, first)).status, 404)
      const posted = await controller.send('POST', '/api/v1/resources', {
        ...first,
        path: pathOnServer,
        name: 'config.txt',
        type: 20,
      })
      assert.equal(posted.status, 200, posted.text)
      const again = {
        data: b64('interval: 60'),
        modificationTimestamp: rhizoTimestamp(new Date(created.getTime() + 60_000)),
      }
      assert.equal((await controller.send('GET', '/api/v1/resources' + path, again)).status, 200)
      assert.equal((await controller.send('PUT', '/api/v1/resources' + path, again)).status, 200)
      assert.equal((await controller.send('GET', '/api/v1/resources' + path)).text, 'interval: 60')
      const meta = (await controller.send('GET', '/api/v1/resources' + path, { meta: 1 })).json<{
        creation_timestamp: string
      }>()
      assert.equal(meta.creation_timestamp, created.toISOString())
    })

    test("files.list recursive with extended=0 in the form body names each entry's path (and fullPath)", async () => {
      const listed = await controller.send('GET', '/api/v1/resources' + pathOnServer, { extended: 0, recursive: true })
      assert.equal(listed.status, 200, listed.text)
      const items = listed.json<{ name: string; path: string; fullPath: string }[]>()
      const temperature = items.find((i) => i.name === 'temperature')!
      assert.equal(temperature.path, `${pathOnServer}/temperature`)
      assert.equal(temperature.fullPath, temperature.path)
      assert.ok(items.some((i) => i.path === `${pathOnServer}/status/serial_errors`))
    })

    test("list_files(folder, type='controller_folder') sends extended=0 and reads each controller's last_watchdog_timestamp and status", async () => {
      // FileClient.list: params = {'extended': int(extended)}, then type; rhizo-server took any extended as on
      const listed = await controller.send('GET', '/api/v1/resources/acme/lab', {
        extended: 0,
        type: 'controller_folder',
      })
      assert.equal(listed.status, 200, listed.text)
      const controllers = listed.json<Record<string, unknown>[]>()
      assert.deepEqual(
        controllers.map((c) => c.name),
        ['pi-1'],
      )
      for (const key of ['last_watchdog_timestamp', 'status'])
        assert.ok(key in controllers[0]!, `a controller entry has ${key} (a KeyError in the client otherwise)`)
    })

    test('send_message: POST /api/v1/messages with folder_path, type and JSON parameters', async () => {
      const sent = await controller.send('POST', '/api/v1/messages', {
        folder_path: pathOnServer,
        type: 'hello',
        parameters: JSON.stringify({ n: 1 }),
      })
      assert.equal(sent.status, 200, sent.text)
      const history = await controller.send('GET', '/api/v1/messages', { folder_path: pathOnServer, type: 'hello' })
      assert.deepEqual(
        history.json<{ parameters: unknown }[]>().map((m) => m.parameters),
        [{ n: 1 }],
      )
    })

    test('a key the server does not know is still refused (401) wherever credentials are needed', async () => {
      const stranger = rhizoClient(server.url) // "x"
      assert.equal((await stranger.send('GET', '/api/v1/resources/self', { meta: 1, include_path: 1 })).status, 401)
      assert.equal(
        (
          await stranger.send('PUT', '/api/v1/resources', {
            values: JSON.stringify({ [`${pathOnServer}/temperature`]: '1' }),
          })
        ).status,
        401,
      )
      assert.equal(
        (await stranger.send('POST', '/api/v1/messages', { folder_path: pathOnServer, type: 'x', parameters: '{}' }))
          .status,
        401,
      )
    })
  })
}
