// GET /api/v1/mqtt-info tells a browser where to open MQTT over WebSocket: the host and port it
// reached the server at, also for an IPv6 address and behind a TLS-terminating reverse proxy.
import assert from 'node:assert/strict'
import { request } from 'node:http'
import { after, before, describe, test } from 'node:test'
import mqtt from 'mqtt'
import { createTendril, type Tendril } from '../../server.ts'
import { openTestCore, type TestCore } from '../helpers/core.ts'
import { fixture } from '../helpers/fixtures.ts'
import { basicAuth } from '../helpers/http.ts'

interface MqttInfo {
  host: string
  port: number
  path: string
  protocol: string
  token: string
  clientId: string
}

describe('mqtt-info', () => {
  let core: TestCore
  let tendril: Tendril
  let port: number
  let key: string

  before(async () => {
    core = await openTestCore('sqlite')
    tendril = await createTendril(core)
    // IPv6 loopback, as a browser that typed http://[::1]:PORT/ reaches it
    port = (await tendril.listen({ port: 0, host: '::1', mqttPort: null })).port
    key = (await fixture(core, { org: 'acme', users: { ann: {} } })).users.ann.key
  })
  after(async () => {
    await tendril?.close()
    await core?.cleanup()
  })

  /** GET /api/v1/mqtt-info with these headers (Host among them, which fetch would not let us set) */
  const info = (headers: Record<string, string>) =>
    new Promise<{ status: number; body: MqttInfo & { message?: string } }>((resolve, reject) => {
      const req = request(
        { host: '::1', port, path: '/api/v1/mqtt-info', headers: { authorization: basicAuth(key), ...headers } },
        (res) => {
          let text = ''
          res.on('data', (c: Buffer) => (text += c))
          res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) as MqttInfo }))
        },
      )
      req.on('error', reject)
      req.end()
    })

  test('an IPv6 host keeps its address and port, and the answer opens MQTT over WebSocket', async () => {
    const { status, body } = await info({ host: `[::1]:${port}` })
    assert.equal(status, 200)
    assert.deepEqual([body.host, body.port, body.protocol, body.path], ['[::1]', port, 'ws', '/mqtt'])
    // the answer is MQTT.js's connect options as they are (its URL form drops an IPv6 address's brackets)
    const { protocol, host, port: answeredPort, path, token, clientId } = body
    const client = mqtt.connect({
      protocol: protocol as 'ws',
      host,
      port: answeredPort,
      path,
      username: 'token',
      password: token,
      clientId,
      reconnectPeriod: 0,
    })
    try {
      await new Promise((resolve, reject) => client.once('connect', resolve).once('error', reject))
      assert.equal(client.connected, true)
    } finally {
      client.end(true)
    }
  })

  test('host names with and without a port; no port means the scheme’s default', async () => {
    assert.deepEqual(pick((await info({ host: 'greenhouse.example.com:8080' })).body), [
      'greenhouse.example.com',
      8080,
      'ws',
    ])
    assert.deepEqual(pick((await info({ host: 'greenhouse.example.com' })).body), ['greenhouse.example.com', 80, 'ws'])
    assert.deepEqual(pick((await info({ host: '[2001:db8::7]' })).body), ['[2001:db8::7]', 80, 'ws'])
  })

  test('behind a local reverse proxy that terminates TLS, the forwarded host and scheme are used', async () => {
    const forwarded = { host: `[::1]:${port}`, 'x-forwarded-host': 'tendril.example.com', 'x-forwarded-proto': 'https' }
    assert.deepEqual(pick((await info(forwarded)).body), ['tendril.example.com', 443, 'wss'])
    assert.deepEqual(pick((await info({ ...forwarded, 'x-forwarded-host': '[2001:db8::7]:8443' })).body), [
      '[2001:db8::7]',
      8443,
      'wss',
    ])
  })

  test('a Host header that is no host is a 400, not a wrong answer', async () => {
    for (const host of ['a b', 'user@example.com', 'example.com:99999', 'example.com/path']) {
      const { status, body } = await info({ host })
      assert.equal(status, 400, host)
      assert.match(body.message!, /Host header/)
    }
  })
})

const pick = (b: MqttInfo) => [b.host, b.port, b.protocol]
