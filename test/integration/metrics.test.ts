// What an operator watches: Prometheus metrics at /metrics (on the HTTP port or its own, behind a
// bearer token) that move with real MQTT and HTTP traffic, and Mosquitto's $SYS topics, which only
// a system admin's browser session may read.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { after, before, describe, test } from 'node:test'
import { createAdmin, createKeyForUser } from '../../core/admin.ts'
import { providers } from '../helpers/core.ts'
import { fixture, PASSWORD } from '../helpers/fixtures.ts'
import { basicAuth } from '../helpers/http.ts'
import { closed, collect, connect, endAll, granted, nextMessage } from '../helpers/mqtt.ts'
import { freshRedisDatabase } from '../helpers/redis.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

const TOKEN = 'scrape-token-0123456789'

/** A scrape's series, `name{labels}` → value, and the sum of those of one name whose labels include the given ones. */
function parse(text: string) {
  const series = text.split('\n').filter((line) => line && !line.startsWith('#'))
  const sum = (name: string, labels: Record<string, string> = {}) =>
    series
      .filter((line) => line.startsWith(name + '{') || line.startsWith(name + ' '))
      .filter((line) => Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)))
      .reduce((n, line) => n + Number(line.slice(line.lastIndexOf(' ') + 1)), 0)
  return { series, sum }
}

async function scrape(url: string, token = TOKEN) {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } })
  assert.equal(res.status, 200)
  const text = await res.text()
  return { ...parse(text), text }
}

async function signIn(url: string, email: string) {
  const res = await fetch(`${url}/sign-in`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email_address: email, password: PASSWORD }),
  })
  assert.equal(res.status, 200, `sign-in of ${email}`)
  return res.headers.get('set-cookie')!.split(';')[0]!
}

/** The MQTT token and client id a signed-in browser gets. */
async function mqttInfo(url: string, cookie: string) {
  const res = await fetch(`${url}/api/v1/mqtt-info`, { headers: { cookie } })
  assert.equal(res.status, 200)
  return (await res.json()) as { token: string; clientId: string }
}

for (const provider of providers) {
  describe(`metrics and $SYS topics (${provider})`, () => {
    let server: TestServer
    let piKey: string
    let outsiderKey: string

    before(async () => {
      server = await startTestServer(provider, { config: { metrics: true, 'metrics-token': TOKEN, 'sys-interval': 1 } })
      const f = await fixture(server.core, {
        orgs: ['acme', 'beta'],
        users: { root: { systemAdmin: true, key: false }, 'acme-admin': { admin: true, key: false } },
        controllers: ['acme/greenhouse/pi-1', 'beta/pi-9'],
      })
      piKey = f.controllers['acme/greenhouse/pi-1'].key
      outsiderKey = f.controllers['beta/pi-9'].key
    })
    after(async () => {
      endAll()
      await server?.close()
    })

    test('/metrics asks for the token: 401 without it or with another', async () => {
      assert.equal((await fetch(`${server.url}/metrics`)).status, 401)
      const wrong = await fetch(`${server.url}/metrics`, { headers: { authorization: 'Bearer not-the-token-at-all' } })
      assert.equal(wrong.status, 401)
      assert.match(((await wrong.json()) as { message: string }).message, /metrics-token/)
      // an API key is no scrape token
      assert.equal((await fetch(`${server.url}/metrics`, { headers: { authorization: basicAuth(piKey) } })).status, 401)
      assert.equal(
        (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).status,
        200,
      )
    })

    test('MQTT and HTTP traffic move the counters, by transport, reason and route pattern', async () => {
      const before = await scrape(`${server.url}/metrics`)
      const subscriber = await connect(server.wsUrl, piKey, { clientId: 'watcher' })
      assert.equal(await granted(subscriber, 'acme/greenhouse/pi-1'), 0)
      const pi = await connect(server.mqttUrl, piKey, { clientId: 'pi' })
      const relayed = nextMessage(subscriber)
      // QoS 1: acknowledged once stored, its history row and value included
      await pi.publishAsync('acme/greenhouse/pi-1', JSON.stringify({ update: { temperature: 21.5 } }), { qos: 1 })
      await pi.publishAsync('acme/greenhouse/pi-1', JSON.stringify({ hello: { from: 'pi' } }), { qos: 1 })
      assert.ok(await relayed, 'the subscriber got the message')
      const outsider = await connect(server.mqttUrl, outsiderKey)
      outsider.publish('acme/greenhouse/pi-1', 'intrusion')
      assert.equal(await closed(outsider), true)
      const meta = await fetch(`${server.url}/api/v1/resources/acme/greenhouse/pi-1?meta=1`, {
        headers: { authorization: basicAuth(piKey) },
      })
      assert.equal(meta.status, 200)
      assert.equal(
        (
          await fetch(`${server.url}/api/v1/resources/acme/greenhouse/nothing-here`, {
            headers: { authorization: basicAuth(piKey) },
          })
        ).status,
        404,
      )

      const now = await scrape(`${server.url}/metrics`)
      const moved = (name: string, labels?: Record<string, string>) => now.sum(name, labels) - before.sum(name, labels)
      assert.ok(moved('tendril_mqtt_messages_received_total') >= 3, 'PUBLISHes received')
      assert.ok(moved('tendril_mqtt_message_bytes_received_total') > 40)
      assert.ok(moved('tendril_mqtt_messages_sent_total') >= 2, 'PUBLISHes forwarded')
      assert.ok(moved('tendril_mqtt_publishes_refused_total', { reason: 'access' }) >= 1, 'the outsider was refused')
      assert.equal(moved('tendril_mqtt_publishes_refused_total', { reason: 'rate' }), 0)
      assert.ok(moved('tendril_values_total', { outcome: 'stored' }) >= 1, 'the value was stored')
      assert.ok(moved('tendril_history_rows_written_total') >= 1, 'history rows')
      assert.equal(now.sum('tendril_connections', { transport: 'ws' }), 1, 'the subscriber over WebSocket')
      assert.equal(now.sum('tendril_connections', { transport: 'tcp' }), 1, 'the pi over TCP (the outsider has gone)')
      assert.ok(moved('tendril_connection_bytes_received_total', { transport: 'tcp' }) > 0)
      assert.ok(moved('tendril_connection_bytes_sent_total', { transport: 'ws' }) > 0)
      assert.equal(now.sum('tendril_mqtt_clients', { state: 'connected' }), 2)
      const route = { route: '/api/v1/resources/*path', method: 'GET' }
      assert.ok(moved('tendril_http_request_duration_seconds_count', { ...route, status: '200' }) >= 1)
      assert.ok(moved('tendril_http_request_duration_seconds_count', { ...route, status: '404' }) >= 1)
      assert.ok(
        !now.series.some((line) => /route="[^"]*(pi-1|nothing-here)/.test(line)),
        'routes are patterns, never raw paths',
      )
      assert.ok(moved('tendril_db_query_duration_seconds_count') > 0, 'database latency')
      assert.ok(now.sum('tendril_nodejs_eventloop_lag_p99_seconds') > 0, 'event-loop delay')
      for (const queue of ['ingest', 'history', 'thumbnails'])
        assert.ok(
          now.series.some((line) => line.startsWith('tendril_queue_length{') && line.includes(`queue="${queue}"`)),
          queue,
        )
      assert.ok(
        now.series.every((line) => line.includes('broker_id="')),
        'every series names its instance',
      )
    })

    test('every metric the Grafana dashboard in docs/ queries is served', async () => {
      const dashboard = readFileSync(new URL('../../docs/grafana-dashboard.json', import.meta.url), 'utf8')
      const queried = new Set(
        [...dashboard.matchAll(/\b(tendril_[a-z0-9_]+)/g)].map((m) => m[1]!.replace(/_(bucket|count|sum)$/, '')),
      )
      const { text } = await scrape(`${server.url}/metrics`)
      const served = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]))
      assert.ok(queried.size >= 15)
      for (const name of queried) assert.ok(served.has(name), `${name} is served`)
    })

    test("a system admin's browser session receives $SYS/broker/clients/connected over MQTT", async () => {
      const info = await mqttInfo(server.url, await signIn(server.url, 'root@example.com'))
      const admin = await connect(server.wsUrl, info.token, { username: 'token', clientId: info.clientId })
      const figures = collect(admin, 2500)
      assert.equal(await granted(admin, '$SYS/broker/#'), 0)
      const seen = await figures
      const connected = seen.filter((m) => m.topic === '$SYS/broker/clients/connected')
      assert.ok(connected.length > 0, 'the retained figure at once, then its updates')
      // the retained figure may predate the admin's own connection; the next update counts it
      assert.ok(
        connected.some((m) => Number(m.payload) >= 1),
        `the admin itself is connected: ${connected.map((m) => m.payload).join(', ')}`,
      )
      const topics = new Set(seen.map((m) => m.topic))
      for (const t of ['version', 'uptime', 'messages/received', 'messages/sent'])
        assert.ok(topics.has(`$SYS/broker/${t}`), t)
      assert.match(seen.find((m) => m.topic === '$SYS/broker/uptime')!.payload, /^\d+ seconds$/)
    })

    test("an organization admin's session, a system admin's key and that key's token get no $SYS topic", async () => {
      const info = await mqttInfo(server.url, await signIn(server.url, 'acme-admin@example.com'))
      const orgAdmin = await connect(server.wsUrl, info.token, { username: 'token', clientId: info.clientId })
      const rootKey = (await createKeyForUser(server.core, 'root@example.com', 'acme')).key
      const key = await connect(server.mqttUrl, rootKey)
      // the token a key gets keeps the key's scope
      const keyInfo = (await (
        await fetch(`${server.url}/api/v1/mqtt-info`, { headers: { authorization: basicAuth(rootKey) } })
      ).json()) as { token: string; clientId: string }
      const keyToken = await connect(server.wsUrl, keyInfo.token, { username: 'token', clientId: keyInfo.clientId })
      for (const client of [orgAdmin, key, keyToken]) {
        for (const filter of ['$SYS/broker/clients/connected', '$SYS/#', '$SYS/broker/+'])
          assert.equal(await granted(client, filter), 128, filter)
        assert.equal(await granted(client, '#'), 128, 'nor everything')
      }
      const heard = await collect(orgAdmin, 1500)
      assert.deepEqual(
        heard.filter((m) => m.topic.startsWith('$')),
        [],
      )
    })
  })
}

describe('metrics on a port of their own', () => {
  let server: TestServer
  before(async () => {
    server = await startTestServer('sqlite', { config: { 'metrics-port': 0 } })
  })
  after(async () => server?.close())

  test('--metrics-port serves /metrics there, without a token when none is set, and not on the HTTP port', async () => {
    assert.ok(server.metricsUrl)
    const scraped = await scrape(server.metricsUrl!)
    assert.ok(scraped.sum('tendril_mqtt_clients', { state: 'connected' }) === 0)
    assert.ok(scraped.series.some((line) => line.startsWith('tendril_process_cpu_seconds_total')))
    assert.notEqual((await fetch(`${server.url}/metrics`)).status, 200)
    assert.equal((await fetch(server.metricsUrl!.replace('/metrics', '/health'))).status, 404)
  })
})

describe('metrics off (the default)', () => {
  let server: TestServer
  before(async () => {
    server = await startTestServer('sqlite')
  })
  after(async () => server?.close())

  test('/metrics is not served', async () => {
    const res = await fetch(`${server.url}/metrics`)
    assert.notEqual(res.status, 200)
    assert.doesNotMatch(await res.text(), /tendril_/)
  })
})

describe('$SYS topics of several instances (--redis)', () => {
  let a: TestServer
  let b: TestServer
  before(async () => {
    const redis = await freshRedisDatabase()
    a = await startTestServer('postgresql', { config: { redis, 'broker-id': 'a', 'sys-interval': 1 } })
    b = await startTestServer('postgresql', {
      config: { redis, 'broker-id': 'b', 'sys-interval': 1 },
      databaseUrl: a.databaseUrl,
    })
    await createAdmin(a.core, 'root@example.com', PASSWORD)
  })
  after(async () => {
    endAll()
    await b?.close()
    await a?.close()
  })

  test('each instance publishes its own figures under $SYS/brokers/<broker-id>/, seen from either', async () => {
    const info = await mqttInfo(a.url, await signIn(a.url, 'root@example.com'))
    const admin = await connect(b.wsUrl, info.token, { username: 'token', clientId: info.clientId })
    const figures = collect(admin, 2500)
    assert.equal(await granted(admin, '$SYS/#'), 0)
    const connected = new Map(
      (await figures).filter((m) => m.topic.endsWith('/clients/connected')).map((m) => [m.topic, Number(m.payload)]),
    )
    assert.deepEqual([...connected.keys()].sort(), [
      '$SYS/brokers/a/clients/connected',
      '$SYS/brokers/b/clients/connected',
    ])
    assert.equal(connected.get('$SYS/brokers/b/clients/connected'), 1, 'the admin, on b')
    assert.equal(connected.get('$SYS/brokers/a/clients/connected'), 0)
  })
})
