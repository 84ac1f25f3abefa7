// Issue 24, items 6 and 8: one key must not exhaust the server or make it a mail relay. Each test
// performs the attack against a real server: a history read of many large text values, an oversized
// text value, retained messages on unique sub-topics, a flood on the JSON websocket, and a controller
// setting its own watchdog recipients.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createController } from '../../core/admin.ts'
import { recordWatchdog } from '../../core/resources/controller-status.ts'
import { historyPages } from '../../core/resources/sequence-history.ts'
import { storeSequenceValues } from '../../core/resources/sequence-store/store.ts'
import { createSequence, findPath } from '../../core/resources/tree.ts'
import { SequenceDataType } from '../../core/resources/types.ts'
import { notifyStaleWatchdogs } from '../../core/resources/watchdog.ts'
import { providers } from '../helpers/core.ts'
import { fixture } from '../helpers/fixtures.ts'
import { basicAuth } from '../helpers/http.ts'
import { closeSockets, openSocket, sendRhizo, settled, type JsonSocket } from '../helpers/json-websocket.ts'
import { collect, connect, endAll, granted } from '../helpers/mqtt.ts'
import { freshRedisDatabase } from '../helpers/redis.ts'
import { startSmtp, type TestSmtp } from '../helpers/outbox.ts'
import { failOnProcessFaults } from '../helpers/process-faults.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

failOnProcessFaults()

const TEXT_LIMIT = 4096
const HISTORY_LIMIT = 64 << 10
const INLINE_BYTES = 1500
const T0 = Date.UTC(2025, 0, 1)
const RETAINED_LIMIT = 5
// its burst (twice this) stays below the frames a JSON websocket reads ahead (100), so a flood is over the
// rate however slowly a busy machine handles each frame
const PUBLISH_RATE = 40
const DRAIN_TIMEOUT_MS = 500

/** The close code of the socket once it closes, or null if it is still open after ms. */
const closeCode = (ws: JsonSocket, ms: number) =>
  new Promise<number | null>((resolve) => {
    if (ws.readyState === ws.CLOSED) return resolve(-1)
    const timer = setTimeout(() => resolve(null), ms)
    ws.once('close', (code: number) => {
      clearTimeout(timer)
      resolve(code)
    })
  })

/** Publishes a retained message on each topic (QoS 1, so each is handled before the next). */
async function publishRetained(url: string, key: string, topics: string[], payload = 'on') {
  const client = await connect(url, key)
  for (const topic of topics) await client.publishAsync(topic, payload, { qos: 1, retain: true })
  client.end()
}

/** The retained messages a new subscriber to filter receives. */
async function retainedUnder(url: string, key: string, filter: string): Promise<string[]> {
  const client = await connect(url, key)
  const received = collect(client, 700)
  assert.equal(await granted(client, filter), 0)
  const topics = (await received).map((m) => m.topic).sort()
  client.end()
  return topics
}

for (const provider of providers) {
  describe(`security limits on ${provider}`, () => {
    let server: TestServer
    let smtp: TestSmtp
    let piKey: string
    let userKey: string
    let pi: { id: number; organizationId: number | null }
    let counter = 0

    before(async () => {
      smtp = await startSmtp()
      server = await startTestServer(provider, {
        config: {
          'mqtt-publish-rate': PUBLISH_RATE,
          'mqtt-drain-timeout': DRAIN_TIMEOUT_MS,
          'mqtt-retained-per-org': RETAINED_LIMIT,
          'text-value-limit': TEXT_LIMIT,
          'history-response-limit': HISTORY_LIMIT,
          'inline-bytes': INLINE_BYTES,
          'smtp-url': smtp.url,
        },
      })
      const f = await fixture(server.core, { org: 'acme', users: { ann: {} }, controllers: ['acme/pi-1'] })
      piKey = f.controllers['acme/pi-1'].key
      userKey = f.users.ann.key
      pi = (await findPath(server.core.db, '/acme/pi-1'))!.at(-1)!
    })
    after(async () => {
      endAll()
      closeSockets()
      await server?.close()
      await smtp?.close()
    })

    const url = (path: string, query = '') => `${server.url}/api/v1/resources${path}${query ? '?' + query : ''}`
    const send = (method: string, key: string, path: string, body: Record<string, unknown>) =>
      fetch(url(path), {
        method,
        headers: { authorization: basicAuth(key), 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
    const get = (key: string, path: string, query = '') =>
      fetch(url(path, query), { headers: { authorization: basicAuth(key) } })
    const textSequence = async () => {
      const name = `text-${++counter}`
      const { id } = await createSequence(server.core.db, pi, name, { dataType: SequenceDataType.text })
      return { id, path: `/acme/pi-1/${name}` }
    }
    /** n copies of one value (deduplicated in the blob store, so cheap to keep), a second apart */
    const fill = async (id: number, n: number, value: string) => {
      for (let i = 0; i < n; i += 500) {
        const batch = Array.from({ length: Math.min(500, n - i) }, (_, j) => ({
          sequenceId: id,
          value,
          timestamp: new Date(T0 + (i + j) * 1000),
        }))
        await storeSequenceValues(server.core, server.core.blobs, batch)
      }
    }

    // ---- 6a: history reads are held to --history-response-limit ----

    for (const [where, size] of [
      ['kept in the database', 1000],
      ['in the blob store', 2000],
    ] as const) {
      test(`a history read of many large text values (${where}) returns at most the byte limit, newest first, and says truncated`, async () => {
        const { id, path } = await textSequence()
        await fill(id, 300, 'x'.repeat(size))
        const res = await get(userKey, path, 'count=10000')
        assert.equal(res.status, 200)
        const text = await res.text()
        const body = JSON.parse(text) as { timestamps: string[]; values: string[]; truncated?: boolean }
        const fits = Math.floor(HISTORY_LIMIT / size)
        assert.equal(body.values.length, fits, `the newest values within ${HISTORY_LIMIT} bytes (${300 * size} stored)`)
        assert.ok(text.length < HISTORY_LIMIT + 20_000, `answer of ${text.length} bytes`)
        assert.equal(body.truncated, true)
        assert.equal(body.timestamps.at(-1), new Date(T0 + 299_000).toISOString(), 'the newest value is kept')
        assert.equal(
          body.timestamps[0],
          new Date(T0 + (300 - fits) * 1000).toISOString(),
          'oldest first, as rhizo sent them',
        )
        const small = (await (await get(userKey, path, 'count=5')).json()) as { values: string[]; truncated?: boolean }
        assert.equal(small.values.length, 5)
        assert.equal(small.truncated, undefined, 'an answer within the limit is as before')
      })
    }

    test('a CSV download streams every value in pages bounded by bytes', async () => {
      const { id, path } = await textSequence()
      await fill(id, 120, 'y'.repeat(2000))
      let pages = 0
      let values = 0
      for await (const page of historyPages(server.core.db, server.core.blobs, id, { pageBytes: 20_000 })) {
        pages++
        values += page.values.length
        assert.ok(page.values.length <= 10, `a page of ${page.values.length} values of 2000 bytes`)
      }
      assert.equal(values, 120)
      assert.equal(pages, 12)
      const csv = await (await get(userKey, path, 'download=1')).text()
      assert.equal(csv.trim().split('\n').length, 121, 'header and every value')
    })

    // ---- 6b: text values are held to --text-value-limit ----

    test('a text value over the limit is refused over REST with 413, and over MQTT with a log line', async () => {
      const { path } = await textSequence()
      const tooBig = 'z'.repeat(TEXT_LIMIT + 1)
      const res = await send('PUT', piKey, path, { value: tooBig })
      assert.equal(res.status, 413)
      assert.match(((await res.json()) as { message: string }).message, /at most 4096 bytes/)
      assert.equal(
        (await send('PUT', piKey, path, { value: 'z'.repeat(TEXT_LIMIT) })).status,
        200,
        'at the limit is fine',
      )
      const multi = await fetch(`${server.url}/api/v1/resources`, {
        method: 'PUT',
        headers: { authorization: basicAuth(piKey), 'content-type': 'application/json' },
        body: JSON.stringify({ values: { [path]: tooBig } }),
      })
      assert.equal(multi.status, 413, 'PUT /api/v1/resources too')
      const client = await connect(server.mqttUrl, piKey)
      await client.publishAsync(path.slice(1), tooBig, { qos: 1 })
      await client.publishAsync('acme/pi-1', `s,${path.split('/').at(-1)},,${tooBig}`, { qos: 1 })
      const latest = await (await get(piKey, path)).text()
      assert.equal(latest.length, TEXT_LIMIT, 'the values over the limit were not stored')
    })

    // ---- 6c: retained messages per organization ----

    test('retained messages on unique sub-topics stop being kept at the per-organization limit, and clearing one frees a place', async () => {
      const topics = Array.from({ length: 12 }, (_, i) => `acme/pi-1/retained/${i}`)
      await publishRetained(server.mqttUrl, piKey, topics)
      const kept = await retainedUnder(server.mqttUrl, userKey, 'acme/pi-1/retained/#')
      assert.equal(kept.length, RETAINED_LIMIT, `kept: ${kept.join(' ')}`)
      // clearing a retained message (an empty retained publish) frees its place
      await publishRetained(server.mqttUrl, piKey, [kept[0]!], '')
      await publishRetained(server.mqttUrl, piKey, ['acme/pi-1/retained/new'])
      const after = await retainedUnder(server.mqttUrl, userKey, 'acme/pi-1/retained/#')
      assert.equal(after.length, RETAINED_LIMIT)
      assert.ok(after.includes('acme/pi-1/retained/new') && !after.includes(kept[0]!))
      // a message beyond the limit is still relayed live
      const live = await connect(server.mqttUrl, userKey)
      await granted(live, 'acme/pi-1/retained/beyond')
      const received = collect(live, 500)
      await publishRetained(server.mqttUrl, piKey, ['acme/pi-1/retained/beyond'])
      assert.deepEqual(
        (await received).map((m) => m.topic),
        ['acme/pi-1/retained/beyond'],
      )
    })

    // ---- 6d: the JSON websocket has MQTT's publish rate and drain timeout ----

    test('a JSON websocket that sends frames faster than --mqtt-publish-rate is told so and closed', async () => {
      const ws = await openSocket(server.url, piKey)
      const closed = closeCode(ws, 5000)
      for (let i = 0; i < PUBLISH_RATE * 6; i++) sendRhizo(ws, { type: 'flood', parameters: { i } })
      assert.equal(await closed, 1008, 'policy violation')
      assert.ok(
        ws.frames.some((f) => f.type === 'error' && /rate exceeded/.test(String(f.parameters.message))),
        'an error frame says why',
      )
    })

    test('a JSON websocket subscriber that stops reading is closed after the drain timeout, not buffered without bound', async () => {
      const ws = await openSocket(server.url, userKey)
      sendRhizo(ws, { type: 'subscribe', parameters: { subscriptions: [{ folder: '/acme/pi-1' }] } })
      await settled(ws)
      ws.pause() // stops reading the socket
      const sender = await connect(server.mqttUrl, piKey)
      const big = JSON.stringify({ type: 'bulk', parameters: { data: 'b'.repeat(500_000) } })
      const sent = PUBLISH_RATE // 20 MB, within the publisher's burst
      for (let i = 0; i < sent; i++) await sender.publishAsync('acme/pi-1', big, { qos: 1 })
      await new Promise((resolve) => setTimeout(resolve, DRAIN_TIMEOUT_MS * 3))
      const closed = closeCode(ws, 5000)
      ws.resume()
      assert.notEqual(await closed, null, 'closed by the server')
      const received = ws.frames.filter((f) => f.type === 'bulk').length
      assert.ok(received < sent, `${received} of ${sent} frames were queued for it`)
    })

    // ---- 8: watchdog recipients are set by users only, checked, and notices are throttled ----

    test("a controller's key cannot set watchdog_* attributes on its own folder or a new one", async () => {
      const many = Array.from({ length: 2000 }, (_, i) => `victim${i}@example.com`).join(',')
      const own = await send('PUT', piKey, '/acme/pi-1', {
        system_attributes: { watchdog_recipients: many, watchdog_minutes: 0.01 },
      })
      assert.equal(own.status, 403)
      const child = await send('POST', piKey, '', {
        path: '/acme/pi-1',
        name: 'relay',
        type: 12,
        system_attributes: JSON.stringify({ watchdog_recipients: 'a@example.com', watchdog_minutes: 5 }),
      })
      assert.equal(child.status, 403)
      const stored = await server.core.db.resource.findUnique({ where: { id: pi.id } })
      assert.equal((stored!.systemAttributes as Record<string, unknown> | null)?.watchdog_recipients, undefined)
    })

    test('a user may set watchdog recipients only up to 10 valid addresses and at least 1 minute', async () => {
      const eleven = Array.from({ length: 11 }, (_, i) => `ops${i}@example.com`).join(',')
      assert.equal(
        (
          await send('PUT', userKey, '/acme/pi-1', {
            system_attributes: { watchdog_recipients: eleven, watchdog_minutes: 5 },
          })
        ).status,
        400,
      )
      assert.equal(
        (
          await send('PUT', userKey, '/acme/pi-1', {
            system_attributes: { watchdog_recipients: 'not an address', watchdog_minutes: 5 },
          })
        ).status,
        400,
      )
      assert.equal(
        (
          await send('PUT', userKey, '/acme/pi-1', {
            system_attributes: { watchdog_recipients: 'ops@example.com', watchdog_minutes: 0.05 },
          })
        ).status,
        400,
      )
      const ok = await send('PUT', userKey, '/acme/pi-1', {
        system_attributes: { watchdog_recipients: 'ops@example.com, +41 79 000 00 00', watchdog_minutes: 1 },
      })
      assert.equal(ok.status, 200, await ok.text())
    })

    test('a flapping controller gets at most 10 watchdog notices an hour, and stored recipients are capped', async () => {
      const { id } = await createController(server.core, 'acme/flappy')
      // set before the check existed
      const stored = Array.from({ length: 50 }, (_, i) => `old${i}@example.com`).join(',')
      await server.core.db.resource.update({
        where: { id },
        data: { systemAttributes: { watchdog_minutes: 1, watchdog_recipients: stored } },
      })
      const before = smtp.mails.length
      for (let outage = 0; outage < 15; outage++) {
        await recordWatchdog(server.core.db, id, new Date(Date.now() - 5 * 60_000 + outage))
        await notifyStaleWatchdogs(server.core)
      }
      const notices = smtp.mails.slice(before)
      assert.ok(notices.length <= 10 * 10, `${notices.length} mails`)
      assert.equal(new Set(notices.flatMap((m) => m.to)).size, 10, 'the first 10 recipients only')
      assert.equal(
        notices.filter((m) => m.to.includes('old0@example.com')).length,
        10,
        '10 notices to one recipient within the hour',
      )
    })
  })
}

describe('retained messages per organization on two instances sharing Redis', () => {
  let a: TestServer | undefined
  let b: TestServer | undefined
  let key: string

  before(async () => {
    const redis = await freshRedisDatabase()
    const config = { redis, 'mqtt-retained-per-org': RETAINED_LIMIT }
    a = await startTestServer('postgresql', { config: { ...config, 'broker-id': 'a' } })
    b = await startTestServer('postgresql', { config: { ...config, 'broker-id': 'b' }, databaseUrl: a.databaseUrl })
    const f = await fixture(a.core, { org: 'acme', controllers: ['acme/pi-1'] })
    key = f.controllers['acme/pi-1'].key
  })
  after(async () => {
    endAll()
    await b?.close()
    await a?.close()
  })

  test('the limit holds for both instances together', async () => {
    await publishRetained(
      a!.mqttUrl,
      key,
      Array.from({ length: 4 }, (_, i) => `acme/pi-1/a/${i}`),
    )
    await publishRetained(
      b!.mqttUrl,
      key,
      Array.from({ length: 4 }, (_, i) => `acme/pi-1/b/${i}`),
    )
    assert.equal((await retainedUnder(a!.mqttUrl, key, 'acme/pi-1/#')).length, RETAINED_LIMIT)
    assert.equal((await retainedUnder(b!.mqttUrl, key, 'acme/pi-1/#')).length, RETAINED_LIMIT)
  })
})
