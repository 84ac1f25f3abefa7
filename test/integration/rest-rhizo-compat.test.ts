// What the REST API accepts from rhizo's clients and scripts, rule by rule, as rhizo-server did
// (main/api/resources.py, pins.py, messages.py), on SQLite and PostgreSQL: credentials on the PIN
// endpoints, parameters in a GET's form body on every route, merged controller status and
// attributes, listing fields, the messages API's aliases, one reading of yes/no options and rhizo's
// ' Z' timestamps on every timestamp input.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { findPath } from '../../core/resources/tree.ts'
import { providers } from '../helpers/core.ts'
import { fixture } from '../helpers/fixtures.ts'
import { basicAuth } from '../helpers/http.ts'
import { rhizoClient, rhizoTimestamp, type RhizoClient } from '../helpers/rhizo.ts'
import { b64, resourceClient, type ResourceClient } from '../helpers/resources.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

type Meta = Record<string, unknown>
const T = new Date(Date.UTC(2026, 11, 3, 17, 0, 0, 123))

for (const provider of providers) {
  describe(`REST compatibility with rhizo's clients on ${provider}`, () => {
    let server: TestServer
    let annKey: string
    let ann: ResourceClient
    let pi: ResourceClient
    let piRhizo: RhizoClient
    let annRhizo: RhizoClient
    let piId: number

    before(async () => {
      server = await startTestServer(provider)
      const f = await fixture(server.core, { org: 'acme', users: { ann: {} }, controllers: ['acme/lab/pi-1'] })
      const created = f.controllers['acme/lab/pi-1']
      piId = created.id
      annKey = f.users.ann.key
      ann = resourceClient(server.url, annKey)
      pi = resourceClient(server.url, created.key)
      piRhizo = rhizoClient(server.url, created.key)
      annRhizo = rhizoClient(server.url, annKey)
    })
    after(async () => {
      await server.close()
    })

    const status = async () =>
      (await server.core.db.controllerStatus.findUnique({ where: { controllerId: piId } }))!.attributes as Record<
        string,
        unknown
      >

    test('the PIN endpoints that take no credentials ignore the ones sent ("x", unknown, malformed); entering a PIN still needs a user (401)', async () => {
      const malformed = async (method: string, path: string, body?: string) =>
        fetch(server.url + path, {
          method,
          headers: { authorization: 'Basic !!!', 'content-type': 'application/x-www-form-urlencoded' },
          body,
        })
      const asked = await rhizoClient(server.url, 'tdl_' + 'Q'.repeat(50)).send('POST', '/api/v1/pins')
      assert.equal(asked.status, 200)
      const { pin, pin_code } = asked.json<{ pin: number; pin_code: string }>()
      assert.equal((await malformed('POST', '/api/v1/pins')).status, 200)
      assert.equal((await malformed('GET', `/api/v1/pins/${pin}?pin_code=${encodeURIComponent(pin_code)}`)).status, 200)
      assert.deepEqual((await rhizoClient(server.url).send('GET', `/api/v1/pins/${pin}`, { pin_code })).json(), {
        status: 'ok',
      })
      assert.equal(
        (await rhizoClient(server.url).send('GET', `/api/v1/pins/${pin}`, { pin_code: 'wrong' })).status,
        404,
      )
      assert.equal(
        (await rhizoClient(server.url).send('PUT', `/api/v1/pins/${pin}`, { controller: '/acme/lab/pi-1' })).status,
        401,
      )
    })

    test("a GET's form body counts like its query string for sequences: count, start_timestamp, end_timestamp, download and rev", async () => {
      const path = '/acme/lab/pi-1/status/messages_sent'
      for (const [s, value] of [
        [0, '1'],
        [10, '2'],
        [20, '3'],
        [30, '4'],
      ] as const) {
        assert.equal(
          (
            await annRhizo.send('PUT', '/api/v1/resources' + path, {
              value,
              timestamp: new Date(T.getTime() + s * 1000).toISOString(),
            })
          ).status,
          200,
        )
      }
      const history = (params: Record<string, string | number>) =>
        annRhizo.send('GET', '/api/v1/resources' + path, params)
      assert.deepEqual((await history({ count: 2 })).json<{ values: string[] }>().values, ['3', '4'])
      const ranged = await history({
        start_timestamp: rhizoTimestamp(new Date(T.getTime() + 5_000)),
        end_timestamp: rhizoTimestamp(new Date(T.getTime() + 25_000)),
      })
      assert.deepEqual(ranged.json<{ values: string[] }>().values, ['2', '3'])
      const csv = await history({ download: 1, count: 1 })
      assert.match(csv.text, /^utc_timestamp,value\n.*,4\n$/)
      const revisions = await server.core.db.resourceRevision.findMany({
        where: {
          resource: {
            name: 'messages_sent',
            parentId: (await findPath(server.core.db, '/acme/lab/pi-1/status'))!.at(-1)!.id,
          },
        },
        orderBy: { timestamp: 'asc' },
      })
      assert.equal((await history({ rev: revisions[0]!.id })).text, '1')
      assert.equal(
        (await history({ count: 'many' })).status,
        400,
        'a bad value in the body is refused like one in the query',
      )
    })

    test("a GET's form body counts for keys and messages too", async () => {
      const keys = await annRhizo.send('GET', '/api/v1/keys', { controller_path: '/acme/lab/pi-1' })
      assert.equal(keys.status, 200, keys.text)
      assert.equal(Object.keys(keys.json()).length, 1, "only the controller's key")
      for (const type of ['ping_a', 'ping_b'])
        assert.equal(
          (await annRhizo.send('POST', '/api/v1/messages', { folder_path: '/acme/lab', type, parameters: '{}' }))
            .status,
          200,
        )
      const messages = await annRhizo.send('GET', '/api/v1/messages', {
        folder_path: '/acme/lab',
        type: 'ping_b',
        count: 5,
      })
      assert.equal(messages.status, 200, messages.text)
      assert.deepEqual(
        messages.json<{ type: string }[]>().map((m) => m.type),
        ['ping_b'],
      )
    })

    test("POST /api/v1/messages takes rhizo's folderPath, and fields in the query string", async () => {
      const byAlias = await piRhizo.send('POST', '/api/v1/messages', {
        folderPath: '/acme/lab/pi-1',
        type: 'alias',
        parameters: '{"a":1}',
      })
      assert.equal(byAlias.status, 200, byAlias.text)
      const query = new URLSearchParams({ folder_path: '/acme/lab/pi-1', type: 'in_query', parameters: '{"q":2}' })
      const byQuery = await fetch(`${server.url}/api/v1/messages?${query}`, {
        method: 'POST',
        headers: { authorization: basicAuth(annKey) },
      })
      assert.equal(byQuery.status, 200, await byQuery.text())
      const history = (
        await annRhizo.send('GET', '/api/v1/messages', { folderPath: '/acme/lab/pi-1', count: 10 })
      ).json<{ type: string; parameters: unknown }[]>()
      assert.deepEqual(
        history.map((m) => [m.type, m.parameters]),
        [
          ['alias', { a: 1 }],
          ['in_query', { q: 2 }],
        ],
      )
    })

    test("PUT status merges into the controller's status, keeping the clock-drift correction stored beside it", async () => {
      // a controller two hours behind: its correction is remembered in the status attributes
      const seq = '/acme/lab/pi-1/status/serial_errors'
      const behind = await piRhizo.send('PUT', '/api/v1/resources', {
        values: JSON.stringify({ [seq]: '0' }),
        timestamp: rhizoTimestamp(new Date(Date.now() - 7200_000)),
      })
      assert.equal(behind.status, 200, behind.text)
      assert.equal(
        (await pi.send('PUT', '/acme/lab/pi-1', { status: JSON.stringify({ wifi: 'ok', uptime: 5 }) })).status,
        200,
      )
      assert.equal((await pi.send('PUT', '/acme/lab/pi-1', { status: { uptime: 6 } }, 'json')).status, 200)
      const merged = await status()
      assert.equal(merged.wifi, 'ok')
      assert.equal(merged.uptime, 6)
      assert.ok(Math.abs(Number(merged.timestamp_correction) - 7200) < 60, 'the correction survived the status updates')
      // and the next skewed value still lands near the server clock, without a new correction
      const again = await piRhizo.send('PUT', '/api/v1/resources', {
        values: JSON.stringify({ [seq]: '1' }),
        timestamp: rhizoTimestamp(new Date(Date.now() - 7200_000)),
      })
      assert.ok(Math.abs(new Date(again.json<{ timestamp: string }>().timestamp).getTime() - Date.now()) < 60_000)
      assert.deepEqual((await ann.json<Meta>('/acme/lab/pi-1', { meta: 1 })).status, await status())
    })

    test("a controller's system_attributes merge: watchdog settings join what is there, null removes a key", async () => {
      const meta = async () =>
        (await ann.json<Meta>('/acme/lab/pi-1', { meta: 1 })).system_attributes as Record<string, unknown>
      assert.equal(
        (
          await ann.send('PUT', '/acme/lab/pi-1', {
            system_attributes: JSON.stringify({ watchdog_minutes: 15, note: 'roof' }),
          })
        ).status,
        200,
      )
      assert.equal(
        (
          await ann.send('PUT', '/acme/lab/pi-1', {
            system_attributes: JSON.stringify({ watchdog_recipients: 'ops@example.com' }),
          })
        ).status,
        200,
      )
      assert.deepEqual(await meta(), { watchdog_minutes: 15, note: 'roof', watchdog_recipients: 'ops@example.com' })
      assert.equal((await ann.send('PUT', '/acme/lab/pi-1', { system_attributes: { note: null } }, 'json')).status, 200)
      assert.deepEqual(await meta(), { watchdog_minutes: 15, watchdog_recipients: 'ops@example.com' })
      // a basic folder's attributes are still replaced whole, as rhizo did
      await ann.send('POST', '', { path: '/acme', name: 'plain', type: 10 })
      await ann.send('PUT', '/acme/plain', { system_attributes: JSON.stringify({ a: 1 }) })
      await ann.send('PUT', '/acme/plain', { system_attributes: JSON.stringify({ b: 2 }) })
      assert.deepEqual((await ann.json<Meta>('/acme/plain', { meta: 1 })).system_attributes, { b: 2 })
    })

    test("listings carry rhizo's fields: path beside fullPath when recursive, and as_dict(extended) with extended=1", async () => {
      await ann.send('POST', '', { path: '/acme/listing/sub', name: 'f.txt', type: 20, data: b64('12345') })
      const recursive = await ann.json<Meta[]>('/acme/listing', { recursive: 1 })
      assert.deepEqual(
        recursive.map((i) => [i.path, i.fullPath]),
        [
          ['/acme/listing/sub', '/acme/listing/sub'],
          ['/acme/listing/sub/f.txt', '/acme/listing/sub/f.txt'],
        ],
      )
      const [file] = await ann.json<Meta[]>('/acme/listing/sub', { extended: 1 })
      const rhizoKeys = [
        'id',
        'name',
        'type',
        'parent_id',
        'creationTimestamp',
        'creation_timestamp',
        'modificationTimestamp',
        'modification_timestamp',
        'permissions',
        'settings',
        'system_attributes',
        'user_attributes',
        'lastRevisionId',
        'last_revision_id',
        'size',
      ]
      for (const key of rhizoKeys) assert.ok(key in file!, `extended listing has ${key}`)
      assert.equal(file!.size, 5)
      const meta = await ann.json<Meta>('/acme/listing/sub/f.txt', { meta: 1 })
      for (const key of rhizoKeys) assert.deepEqual(file![key], meta[key], `listing and meta=1 agree on ${key}`)
      const [controller] = await ann.json<Meta[]>('/acme/lab', { extended: 1, filter: 'pi-1' })
      for (const key of [
        'client_version',
        'web_socket_connected',
        'last_connect_timestamp',
        'last_watchdog_timestamp',
        'status',
      ])
        assert.ok(key in controller!, `a controller entry has ${key}`)
    })

    test('yes/no options read one way everywhere: download=no and download=off are off, download=yes is on', async () => {
      const path = '/acme/lab/pi-1/status/messages_received'
      await annRhizo.send('PUT', '/api/v1/resources' + path, { value: '7' })
      for (const off of ['no', 'off', 'false', '0']) {
        const res = await ann.get(path, { download: off })
        assert.equal(res.headers.get('content-type'), 'text/plain; charset=utf-8', `download=${off}`)
        assert.equal(await res.text(), '7')
      }
      assert.match(await (await ann.get(path, { download: 'yes' })).text(), /^utc_timestamp,value\n/)
      assert.match(await (await ann.get(path, { download: 'True' })).text(), /^utc_timestamp,value\n/)
    })

    test('every timestamp input takes rhizo\'s "2026-12-03T17:00:00.123456 Z"', async () => {
      const at = rhizoTimestamp(T)
      const expected = T.toISOString()
      // POST /api/v1/resources: creation_timestamp and creationTimestamp
      for (const [name, field] of [
        ['c1.txt', 'creation_timestamp'],
        ['c2.txt', 'creationTimestamp'],
      ] as const) {
        assert.equal(
          (
            await annRhizo.send('POST', '/api/v1/resources', {
              path: '/acme/times',
              name,
              type: 20,
              data: b64('x'),
              [field]: at,
            })
          ).status,
          200,
        )
        assert.equal((await ann.json<Meta>(`/acme/times/${name}`, { meta: 1 })).creation_timestamp, expected, field)
      }
      const revisionTimes = async (path: string) =>
        (await ann.json<{ timestamp: string }[]>(path, { revisions: 1 })).map((r) => r.timestamp)
      // PUT /api/v1/resources/<file>: modification_timestamp and modificationTimestamp
      for (const field of ['modification_timestamp', 'modificationTimestamp']) {
        assert.equal(
          (await annRhizo.send('PUT', '/api/v1/resources/acme/times/c1.txt', { data: b64(field), [field]: at })).status,
          200,
        )
      }
      assert.deepEqual((await revisionTimes('/acme/times/c1.txt')).slice(1), [expected, expected])
      // POST /api/v1/resources/<path>: rhizo's legacy write
      assert.equal(
        (
          await annRhizo.send('POST', '/api/v1/resources/acme/times/legacy.txt', {
            data: b64('l'),
            modification_timestamp: at,
          })
        ).status,
        200,
      )
      assert.deepEqual(await revisionTimes('/acme/times/legacy.txt'), [expected])
      // a sequence value's timestamp, by PUT and POST
      const seq = '/acme/lab/pi-1/status/free_disk_space'
      assert.equal(
        (await annRhizo.send('PUT', '/api/v1/resources' + seq, { data: b64('100'), timestamp: at })).status,
        200,
      )
      assert.equal(
        (
          await annRhizo.send('POST', '/api/v1/resources' + seq, {
            value: '200',
            timestamp: rhizoTimestamp(new Date(T.getTime() + 1000)),
          })
        ).status,
        200,
      )
      // several sequences at once, and the range of a history read
      assert.equal(
        (
          await annRhizo.send('PUT', '/api/v1/resources', {
            values: JSON.stringify({ [seq]: '300' }),
            timestamp: rhizoTimestamp(new Date(T.getTime() + 2000)),
          })
        ).status,
        200,
      )
      const history = await annRhizo.send('GET', '/api/v1/resources' + seq, {
        start_timestamp: at,
        end_timestamp: rhizoTimestamp(new Date(T.getTime() + 2000)),
      })
      assert.deepEqual(history.json<{ timestamps: string[]; values: string[] }>(), {
        ...history.json(),
        timestamps: [0, 1000, 2000].map((ms) => new Date(T.getTime() + ms).toISOString()),
        values: ['100', '200', '300'],
      })
    })
  })
}
