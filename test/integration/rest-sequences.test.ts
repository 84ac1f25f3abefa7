// Sequences over REST on SQLite and PostgreSQL: writing values (rhizo's base64 `data`, `value`,
// timestamps, rounding, min_storage_interval), reading the latest value, history, CSV and buckets,
// several sequences in one PUT with clock-drift correction, permissions, bad input and max_history.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { storeSequenceValues } from '../../core/resources/sequence-store/store.ts'
import { createSequence, findPath, type SequenceSettings } from '../../core/resources/tree.ts'
import { SequenceDataType } from '../../core/resources/types.ts'
import { providers } from '../helpers/core.ts'
import { fixture, grant } from '../helpers/fixtures.ts'
import { basicAuth, eventually } from '../helpers/http.ts'
import { connect, endAll, granted, nextMessage } from '../helpers/mqtt.ts'
import { failOnProcessFaults } from '../helpers/process-faults.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

const { numeric, text, image } = SequenceDataType
const b64 = (s: string) => Buffer.from(s).toString('base64')
const T0 = Date.UTC(2024, 4, 1, 12, 0, 0)
const iso = (s: number) => new Date(T0 + s * 1000).toISOString()
const RETENTION_INTERVAL_MS = 200

failOnProcessFaults()

for (const provider of providers) {
  describe(`REST sequences on ${provider}`, () => {
    let server: TestServer
    let piKey: string
    let userKey: string
    let betaKey: string
    let pi: { id: number; organizationId: number | null }
    let counter = 0

    before(async () => {
      server = await startTestServer(provider, { config: { 'retention-interval': RETENTION_INTERVAL_MS } })
      const f = await fixture(server.core, {
        orgs: ['acme', 'beta'],
        users: { ann: {} },
        controllers: ['acme/lab/pi-1', 'beta/pi-b', 'acme/readonly/pi-r'],
      })
      piKey = f.controllers['acme/lab/pi-1'].key
      betaKey = f.controllers['beta/pi-b'].key
      userKey = f.users.ann.key
      pi = (await findPath(server.core.db, '/acme/lab/pi-1'))!.at(-1)!
      // a folder acme's users may only read
      await grant(server.core, '/acme/readonly', [{ to: 'members', level: 'read' }])
    })
    after(async () => {
      endAll()
      await server.close()
    })

    /** a new sequence in the controller folder; returns its name and path */
    const sequence = async (settings: SequenceSettings, parent = pi, parentPath = '/acme/lab/pi-1') => {
      const name = `seq-${++counter}`
      const created = await createSequence(server.core.db, parent, name, settings)
      return { id: created.id, name, path: `${parentPath}/${name}` }
    }
    const url = (path: string, query = '') => `${server.url}/api/v1/resources${path}${query ? '?' + query : ''}`
    const send = (method: string, key: string, path: string, body: Record<string, string>, json = false) =>
      fetch(url(path), {
        method,
        headers: {
          authorization: basicAuth(key),
          'content-type': json ? 'application/json' : 'application/x-www-form-urlencoded',
        },
        body: json ? JSON.stringify(body) : new URLSearchParams(body),
      })
    const get = (key: string | null, path: string, query = '') =>
      fetch(url(path, query), { headers: key ? { authorization: basicAuth(key) } : {} })
    const putMany = (key: string, body: Record<string, unknown>, json = false) =>
      fetch(`${server.url}/api/v1/resources`, {
        method: 'PUT',
        headers: {
          authorization: basicAuth(key),
          'content-type': json ? 'application/json' : 'application/x-www-form-urlencoded',
        },
        body: json ? JSON.stringify(body) : new URLSearchParams(body as Record<string, string>),
      })
    const revisionCount = (id: number) => server.core.db.resourceRevision.count({ where: { resourceId: id } })
    const store = (id: number, values: [number, string][]) =>
      storeSequenceValues(
        server.core,
        server.core.blobs,
        values.map(([s, value]) => ({ sequenceId: id, value, timestamp: new Date(T0 + s * 1000) })),
      )
    type HistoryBody = { name: string; path: string; units: string | null; timestamps: string[]; values: string[] }

    test("a multipart body stores a value too: its fields as a form's (data base64, value text), or a file part as the value", async () => {
      const seq = await sequence({ dataType: numeric, decimalPlaces: 1 })
      const log = await sequence({ dataType: text })
      const multipart = (
        method: string,
        path: string,
        fields: Record<string, string>,
        file?: { part: string; bytes: Buffer },
      ) => {
        const form = new FormData()
        for (const [k, v] of Object.entries(fields)) form.append(k, v)
        if (file) form.append(file.part, new Blob([new Uint8Array(file.bytes)]), 'value.txt')
        return fetch(url(path), { method, headers: { authorization: basicAuth(piKey) }, body: form })
      }
      assert.equal((await multipart('PUT', seq.path, { value: '21.46', timestamp: iso(0) })).status, 200)
      assert.equal((await multipart('POST', seq.path, { data: b64('22.04'), timestamp: iso(60) })).status, 200)
      assert.equal(
        (
          await multipart(
            'PUT',
            log.path,
            { timestamp: iso(0) },
            { part: 'file', bytes: Buffer.from('pump started\n') },
          )
        ).status,
        200,
      )
      const history = (await (await get(piKey, seq.path, 'count=10')).json()) as {
        timestamps: string[]
        values: string[]
      }
      assert.deepEqual(history, {
        name: seq.name,
        path: seq.path,
        units: null,
        timestamps: [iso(0), iso(60)],
        values: ['21.5', '22'],
      })
      assert.equal(await (await get(piKey, log.path)).text(), 'pump started\n')
      const bad = await multipart('PUT', seq.path, {}, { part: 'file', bytes: Buffer.from('not a number') })
      assert.equal(bad.status, 400)
      assert.equal((await multipart('PUT', seq.path, { name: 'renamed' })).status, 400, 'no value, nothing stored')
      assert.equal(await revisionCount(seq.id), 2)
    })

    test("a value PUT as rhizo's client sends it (base64 data) is rounded, stored, read back as text and announced on MQTT", async () => {
      const seq = await sequence({ dataType: numeric, decimalPlaces: 1, units: 'degrees C' })
      const watcher = await connect(server.mqttUrl, userKey)
      await granted(watcher, 'acme/lab/pi-1')
      const announced = nextMessage(watcher)
      const res = await send('PUT', piKey, seq.path, { data: b64('21.46') })
      assert.equal(res.status, 200)
      assert.deepEqual(await res.json(), { status: 'ok', id: seq.id, stored: true })
      const latest = await get(piKey, seq.path)
      assert.equal(latest.status, 200)
      assert.match(latest.headers.get('content-type')!, /^text\/plain/)
      assert.equal(await latest.text(), '21.5')
      const message = (await announced)!
      assert.equal(message.topic, 'acme/lab/pi-1')
      assert.match(message.payload, new RegExp(`^d,${seq.name},\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z,21\\.5$`))
    })

    test("POST with a plain value and a timestamp stores it at that time; history returns rhizo's keys with ISO timestamps", async () => {
      const seq = await sequence({ dataType: numeric, units: 'percent' })
      for (const [s, v] of [
        [0, '10'],
        [60, '11.5'],
        [120, '-2'],
      ] as const) {
        assert.equal((await send('POST', userKey, seq.path, { value: v, timestamp: iso(s) }, true)).status, 200)
      }
      const res = await get(userKey, seq.path, 'count=2')
      assert.equal(res.status, 200)
      assert.deepEqual(await res.json(), {
        name: seq.name,
        path: seq.path,
        units: 'percent',
        timestamps: [iso(60), iso(120)],
        values: ['11.5', '-2'],
      })
      const ranged = (await (
        await get(userKey, seq.path, `start_timestamp=${iso(0)}&end_timestamp=${iso(60)}`)
      ).json()) as HistoryBody
      assert.deepEqual(ranged.values, ['10', '11.5'])
      // rhizo's own timestamp form ("… Z" with microseconds) works in queries too
      const rhizoForm = encodeURIComponent(new Date(T0 + 60_000).toISOString().replace('Z', '000 Z'))
      assert.deepEqual(
        ((await (await get(userKey, seq.path, `start_timestamp=${rhizoForm}`)).json()) as HistoryBody).values,
        ['11.5', '-2'],
      )
    })

    test('a text value is kept as is, and an empty sequence answers an empty 200', async () => {
      const seq = await sequence({ dataType: text })
      const empty = await get(piKey, seq.path)
      assert.deepEqual([empty.status, await empty.text()], [200, ''])
      assert.equal((await send('PUT', piKey, seq.path, { data: b64('door open, 3 °C') })).status, 200)
      assert.equal(await (await get(piKey, seq.path)).text(), 'door open, 3 °C')
    })

    test('rev= reads one stored value; a revision of another sequence is 404 and a malformed one 400', async () => {
      const seq = await sequence({ dataType: text })
      const other = await sequence({ dataType: text })
      const { stored } = await store(seq.id, [
        [0, 'first'],
        [1, 'second'],
      ])
      const [otherRev] = (await store(other.id, [[0, 'x']])).stored
      assert.equal(await (await get(piKey, seq.path, `rev=${stored[0]!.revisionId}`)).text(), 'first')
      assert.equal((await get(piKey, seq.path, `rev=${otherRev!.revisionId}`)).status, 404)
      assert.equal((await get(piKey, seq.path, 'rev=abc')).status, 400)
    })

    test('min_storage_interval: a value too soon after the last is answered ok but not stored', async () => {
      const seq = await sequence({ dataType: numeric, minStorageInterval: 60 })
      const first = (await (await send('PUT', piKey, seq.path, { value: '1', timestamp: iso(0) }, true)).json()) as {
        stored: boolean
      }
      const second = (await (await send('PUT', piKey, seq.path, { value: '2', timestamp: iso(30) }, true)).json()) as {
        stored: boolean
      }
      const third = (await (await send('PUT', piKey, seq.path, { value: '3', timestamp: iso(61) }, true)).json()) as {
        stored: boolean
      }
      assert.deepEqual([first.stored, second.stored, third.stored], [true, false, true])
      assert.equal(await revisionCount(seq.id), 2)
    })

    test('bad values and bad queries are 400 and store nothing', async () => {
      const seq = await sequence({ dataType: numeric })
      const bad: Record<string, string>[] = [
        { data: b64('warm') },
        { value: '12abc' },
        { value: 'Infinity' },
        { data: 'not base64!' },
        { value: '1', timestamp: 'yesterday' },
        { value: '1', timestamp: '2024-02-30T00:00:00Z' },
        {},
      ]
      for (const body of bad) {
        const res = await send('PUT', piKey, seq.path, body)
        assert.equal(res.status, 400, JSON.stringify(body))
        assert.equal(((await res.json()) as { status: string }).status, 'error')
      }
      assert.equal(await revisionCount(seq.id), 0)
      await store(seq.id, [
        [0, '1'],
        [1, '2'],
      ])
      for (const query of [
        'count=abc',
        'count=0',
        'count=1.5',
        'count=-3',
        'count=100001',
        'start_timestamp=nope',
        'end_timestamp=2024-13-01T00:00:00Z',
        'buckets=0',
        'buckets=x',
      ]) {
        assert.equal((await get(piKey, seq.path, query)).status, 400, query)
      }
    })

    test('download=1 streams CSV of any length in time order; count= limits it to the latest values', async () => {
      const seq = await sequence({ dataType: numeric })
      const n = 12_000 // more than two pages
      const values: [number, string][] = Array.from({ length: n }, (_, i) => [i, String(i)])
      for (let i = 0; i < n; i += 3000) await store(seq.id, values.slice(i, i + 3000))
      const res = await get(userKey, seq.path, 'download=1')
      assert.equal(res.status, 200)
      assert.match(res.headers.get('content-type')!, /^text\/csv/)
      assert.match(res.headers.get('content-disposition')!, new RegExp(`^attachment; filename="?${seq.name}\\.csv"?$`))
      const lines = (await res.text()).trimEnd().split('\n')
      assert.equal(lines.length, n + 1)
      assert.equal(lines[0], 'utc_timestamp,value')
      assert.equal(lines[1], `${iso(0)},0`)
      assert.equal(lines[n], `${iso(n - 1)},${n - 1}`)
      assert.ok(
        lines.slice(1).every((line, i) => line === `${iso(i)},${i}`),
        'every line, in order',
      )
      const last = (await (await get(userKey, seq.path, 'download=1&count=3')).text()).trimEnd().split('\n')
      assert.deepEqual(last, [
        'utc_timestamp,value',
        `${iso(n - 3)},${n - 3}`,
        `${iso(n - 2)},${n - 2}`,
        `${iso(n - 1)},${n - 1}`,
      ])
    })

    test('CSV quotes text values holding commas, quotes or line breaks', async () => {
      const seq = await sequence({ dataType: text })
      await store(seq.id, [
        [0, 'plain'],
        [1, 'a, b'],
        [2, 'say "hi"\nbye'],
      ])
      const csv = await (await get(userKey, seq.path, 'download=1')).text()
      assert.equal(csv, `utc_timestamp,value\n${iso(0)},plain\n${iso(1)},"a, b"\n${iso(2)},"say ""hi""\nbye"\n`)
    })

    test('buckets=N gives min, mean and max per time slice of a numeric sequence', async () => {
      const seq = await sequence({ dataType: numeric, units: 'C' })
      await store(
        seq.id,
        Array.from({ length: 100 }, (_, i) => [i, String(i)] as [number, string]),
      )
      const res = await get(userKey, seq.path, `buckets=4&start_timestamp=${iso(0)}&end_timestamp=${iso(100)}`)
      assert.equal(res.status, 200)
      const body = (await res.json()) as {
        units: string
        buckets: { start: string; count: number; min: number; mean: number; max: number }[]
      }
      assert.equal(body.units, 'C')
      assert.deepEqual(body.buckets, [
        { start: iso(0), count: 25, min: 0, mean: 12, max: 24 },
        { start: iso(25), count: 25, min: 25, mean: 37, max: 49 },
        { start: iso(50), count: 25, min: 50, mean: 62, max: 74 },
        { start: iso(75), count: 25, min: 75, mean: 87, max: 99 },
      ])
      // without bounds the buckets span the first to the last value
      const whole = (await (await get(userKey, seq.path, 'buckets=2')).json()) as { buckets: { count: number }[] }
      assert.deepEqual(
        whole.buckets.map((b) => b.count),
        [50, 50],
      )
      // a sequence with one value has one bucket; an empty one none
      const single = await sequence({ dataType: numeric })
      await store(single.id, [[5, '42']])
      assert.deepEqual(
        ((await (await get(userKey, single.path, 'buckets=10')).json()) as { buckets: unknown[] }).buckets,
        [{ start: iso(5), count: 1, min: 42, mean: 42, max: 42 }],
      )
      const empty = await sequence({ dataType: numeric })
      assert.deepEqual(
        ((await (await get(userKey, empty.path, 'buckets=10')).json()) as { buckets: unknown[] }).buckets,
        [],
      )
      assert.equal(
        (await get(userKey, single.path, `buckets=2&start_timestamp=${iso(9)}&end_timestamp=${iso(1)}`)).status,
        400,
      )
      const textSeq = await sequence({ dataType: text })
      await store(textSeq.id, [
        [0, 'a'],
        [1, 'b'],
      ])
      assert.equal((await get(userKey, textSeq.path, 'buckets=2')).status, 400)
    })

    test('PUT /api/v1/resources stores several sequences at once; a path is absolute with or without its leading slash (rhizo)', async () => {
      const a = await sequence({ dataType: numeric, decimalPlaces: 2 })
      const b = await sequence({ dataType: text })
      const res = await putMany(piKey, {
        values: JSON.stringify({ [a.path]: '3.14159', [b.path.slice(1)]: 'ok' }),
        timestamp: new Date().toISOString().replace('Z', ' Z'),
      })
      assert.equal(res.status, 200)
      assert.equal(((await res.json()) as { stored: number }).stored, 2)
      assert.equal(await (await get(piKey, a.path)).text(), '3.14')
      assert.equal(await (await get(piKey, b.path)).text(), 'ok')
      // JSON bodies with numbers work too
      assert.equal((await putMany(userKey, { values: { [a.path.slice(1)]: 2.5 } }, true)).status, 200)
      assert.equal(await (await get(piKey, a.path)).text(), '2.5')
      // a bare name is not taken relative to the controller (rhizo never did): it names nothing, and nothing is stored
      assert.equal((await putMany(piKey, { values: JSON.stringify({ [a.path]: '9', [b.name]: 'no' }) })).status, 404)
      assert.equal(await (await get(piKey, a.path)).text(), '2.5')
    })

    test('PUT /api/v1/resources is all or nothing: a bad value, unknown path or refused path stores nothing', async () => {
      const a = await sequence({ dataType: numeric })
      const b = await sequence({ dataType: numeric })
      const readOnly = await createSequence(
        server.core.db,
        (await findPath(server.core.db, '/acme/readonly/pi-r'))!.at(-1)!,
        'ro',
        { dataType: numeric },
      )
      const cases: [Record<string, unknown>, number, string][] = [
        [{ [a.path]: '1', [b.path]: 'warm' }, 400, 'a non-numeric value'],
        [{ [a.path]: '1', '/acme/lab/pi-1/no-such-sequence': '2' }, 404, 'an unknown path'],
        [{ [a.path]: '1', '/beta/pi-b/log': 'x' }, 404, "another organization's sequence"],
        [{ [a.path]: '1', '/acme/readonly/pi-r/ro': '2' }, 403, 'a read-only sequence'],
        [{ [a.path]: { nested: 1 } }, 400, 'a value that is an object'],
      ]
      for (const [values, status, what] of cases)
        assert.equal((await putMany(userKey, { values }, true)).status, status, what)
      assert.equal((await putMany(userKey, { values: '{not json' })).status, 400)
      assert.equal(
        (await putMany(userKey, { values: JSON.stringify({ [a.path]: '1' }), timestamp: 'soon' })).status,
        400,
      )
      assert.equal((await putMany(userKey, {})).status, 400)
      assert.deepEqual(
        [await revisionCount(a.id), await revisionCount(b.id), await revisionCount(readOnly.id)],
        [0, 0, 0],
      )
    })

    test("a controller whose clock is off has its timestamps corrected; a user key's timestamp is kept", async () => {
      const seq = await sequence({ dataType: numeric })
      const twoHoursAgo = new Date(Date.now() - 2 * 3600_000)
      const res = await putMany(piKey, {
        values: JSON.stringify({ [seq.path]: '1' }),
        timestamp: twoHoursAgo.toISOString(),
      })
      assert.equal(res.status, 200)
      const landed = new Date(((await res.json()) as { timestamp: string }).timestamp)
      assert.ok(
        Math.abs(landed.getTime() - Date.now()) < 10_000,
        `corrected to the server clock, got ${landed.toISOString()}`,
      )
      // the correction is remembered: the same skew next time lands near the server clock as well
      const status = await server.core.db.controllerStatus.findUnique({ where: { controllerId: pi.id } })
      assert.ok(Math.abs((status!.attributes as { timestamp_correction: number }).timestamp_correction - 7200) < 10)
      const backfill = await putMany(userKey, { values: JSON.stringify({ [seq.path]: '2' }), timestamp: iso(0) })
      assert.equal(((await backfill.json()) as { timestamp: string }).timestamp, iso(0))
      const history = (await (await get(userKey, seq.path, 'count=10')).json()) as HistoryBody
      assert.deepEqual(history.values, ['2', '1'])
      assert.equal(history.timestamps[0], iso(0))
    })

    test('read-only access may read but not write (403); another organization and anonymous callers get 404', async () => {
      const folder = (await findPath(server.core.db, '/acme/readonly/pi-r'))!.at(-1)!
      const seq = await sequence({ dataType: numeric }, folder, '/acme/readonly/pi-r')
      await store(seq.id, [[0, '5']])
      assert.equal(await (await get(userKey, seq.path)).text(), '5')
      assert.equal((await send('PUT', userKey, seq.path, { value: '6' }, true)).status, 403)
      assert.equal((await send('POST', userKey, seq.path, { value: '6' }, true)).status, 403)
      const mine = await sequence({ dataType: numeric })
      await store(mine.id, [[0, '7']])
      assert.equal((await get(betaKey, mine.path)).status, 404)
      assert.equal((await send('PUT', betaKey, mine.path, { value: '8' }, true)).status, 404)
      assert.equal((await get(null, mine.path)).status, 404)
      assert.equal((await get(userKey, '/acme/lab/pi-1/no-such-sequence')).status, 404)
      assert.deepEqual([await revisionCount(seq.id), await revisionCount(mine.id)], [1, 1])
    })

    test('max_history: the running server trims a sequence to its newest values', async () => {
      const seq = await sequence({ dataType: numeric, maxHistory: 3 })
      for (let s = 0; s < 6; s++)
        assert.equal((await send('PUT', piKey, seq.path, { value: String(s), timestamp: iso(s) }, true)).status, 200)
      // the server's own retention job, every RETENTION_INTERVAL_MS here (a minute by default)
      assert.ok(
        await eventually(async () => (await revisionCount(seq.id)) === 3, 10_000),
        `${await revisionCount(seq.id)} values kept`,
      )
      const history = (await (await get(piKey, seq.path, 'count=100')).json()) as HistoryBody
      assert.deepEqual(history.values, ['3', '4', '5'])
      assert.equal(await (await get(piKey, seq.path)).text(), '5')
    })

    test('an image sequence has no value history (400)', async () => {
      const seq = await sequence({ dataType: image })
      assert.equal((await get(piKey, seq.path, 'count=5')).status, 400)
      assert.equal((await get(piKey, seq.path, 'download=1')).status, 400)
    })
  })
}
