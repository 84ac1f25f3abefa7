// TLS with --tls-cert/--tls-key, through the real `tendril serve`: HTTPS, MQTT over TLS (MQTT.js and
// Mosquitto's clients, as the ESP32 and MicroPython examples connect) and over wss://, a renewed
// certificate taken on SIGHUP, and settings that cannot work refused at start.
import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import https from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import tls from 'node:tls'
import { after, before, describe, test } from 'node:test'
import mqtt, { type MqttClient } from 'mqtt'
import { runCli, runJson, startServerWithMqtt, type RunningServer } from '../helpers/cli.ts'

/** A self-signed certificate for localhost and 127.0.0.1, made with Debian's openssl. */
function makeCertificate(dir: string, name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`)
  const key = join(dir, `${name}.key`)
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  )
  return { cert, key }
}

/** The SHA-256 fingerprint of the certificate a new TLS connection to port is given. */
function servedFingerprint(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => {
      resolve(socket.getPeerCertificate().fingerprint256)
      socket.end()
    })
    socket.on('error', reject)
  })
}

describe('TLS on both listeners', () => {
  let dir: string
  let first: { cert: string; key: string }
  let server: RunningServer
  let ca: string
  let key: string
  const opened: MqttClient[] = []

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tendril-tls-'))
    first = makeCertificate(dir, 'first')
    // the files the server is pointed at; the test writes a renewed certificate over them
    copyFileSync(first.cert, join(dir, 'served.crt'))
    copyFileSync(first.key, join(dir, 'served.key'))
    ca = readFileSync(first.cert, 'utf8')
    const db = ['--data-dir', join(dir, 'data'), '--bcrypt-cost', '4']
    await runJson(['create-org', 'acme', ...db])
    key = (await runJson<{ key: string }>(['create-controller', 'acme/greenhouse/pi-1', ...db])).key
    await runJson(['create-user', 'ann@example.com:long enough pw', '--org', 'acme', ...db])
    server = await startServerWithMqtt([
      ...db,
      '--tls-cert',
      join(dir, 'served.crt'),
      '--tls-key',
      join(dir, 'served.key'),
    ])
  })
  after(async () => {
    for (const client of opened) client.end(true)
    await server?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  const connect = (url: string, options: mqtt.IClientOptions = {}) =>
    new Promise<MqttClient>((resolve, reject) => {
      const client = mqtt.connect(url, {
        username: 'key',
        password: key,
        ca,
        servername: 'localhost',
        reconnectPeriod: 0,
        connectTimeout: 5000,
        ...options,
      })
      opened.push(client)
      client.once('connect', () => resolve(client))
      client.once('error', reject)
      client.once('close', () => reject(new Error('closed before CONNACK')))
    })

  test('REST answers over HTTPS', async () => {
    const body = await new Promise<string>((resolve, reject) => {
      https
        .get(`https://127.0.0.1:${server.port}/health`, { ca, servername: 'localhost' }, (res) => {
          let text = ''
          res.on('data', (chunk) => (text += chunk))
          res.on('end', () => resolve(text))
        })
        .on('error', reject)
    })
    assert.equal(JSON.parse(body).status, 'ok')
  })

  test('over HTTPS the session cookie is Secure, HttpOnly and SameSite, and the session works', async () => {
    const post = (path: string, body: string, headers: Record<string, string> = {}) =>
      new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>(
        (resolve, reject) => {
          const req = https.request(
            `https://127.0.0.1:${server.port}${path}`,
            {
              method: 'POST',
              ca,
              servername: 'localhost',
              headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
            },
            (res) => {
              let text = ''
              res.on('data', (chunk) => (text += chunk))
              res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }))
            },
          )
          req.on('error', reject)
          req.end(body)
        },
      )
    const signIn = await post(
      '/sign-in',
      new URLSearchParams({ email_address: 'ann@example.com', password: 'long enough pw' }).toString(),
    )
    assert.equal(signIn.status, 200, signIn.body)
    const cookie = signIn.headers['set-cookie']![0]!
    assert.match(cookie, /^tendril_session=[^;]+;/)
    assert.match(cookie, /; Secure/)
    assert.match(cookie, /; HttpOnly/)
    assert.match(cookie, /; SameSite=Lax/)
    const { csrf_token: csrf } = JSON.parse(signIn.body) as { csrf_token: string }
    const signOut = await post('/sign-out', '', { cookie: cookie.split(';')[0]!, 'x-csrf-token': csrf })
    assert.equal(signOut.status, 200, 'the cookie is the session over HTTPS')
  })

  test('MQTT over TLS and over wss:// carry messages both ways; plain MQTT on the TLS port is refused', async () => {
    const subscriber = await connect(`mqtts://127.0.0.1:${server.mqttPort}`)
    await subscriber.subscribeAsync('acme/greenhouse/pi-1/commands', { qos: 1 })
    const received = new Promise<string>((resolve) =>
      subscriber.once('message', (_topic, payload) => resolve(payload.toString())),
    )
    const publisher = await connect(`wss://127.0.0.1:${server.port}/mqtt`)
    await publisher.publishAsync('acme/greenhouse/pi-1/commands', 'fan on', { qos: 1 })
    assert.equal(await received, 'fan on')

    await assert.rejects(connect(`mqtt://127.0.0.1:${server.mqttPort}`, { connectTimeout: 2000 }))
  })

  test("Mosquitto's clients publish and subscribe over TLS with the CA file", async () => {
    const common = [
      '-h',
      'localhost',
      '-p',
      String(server.mqttPort),
      '--cafile',
      first.cert,
      '-u',
      'key',
      '-P',
      key,
      '-t',
      'acme/greenhouse/pi-1/readings',
    ]
    const sub = spawn('mosquitto_sub', [...common, '-C', '1', '-W', '10'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    sub.stdout.on('data', (d) => (out += d))
    const exited = new Promise<number | null>((resolve) => sub.on('exit', resolve))
    await new Promise((resolve) => setTimeout(resolve, 700)) // subscribed
    execFileSync('mosquitto_pub', [...common, '-m', 's,temperature,2026-11-23T10:00:00Z,21.5'])
    assert.equal(await exited, 0)
    assert.equal(out.trim(), 's,temperature,2026-11-23T10:00:00Z,21.5')
  })

  test('a renewed certificate is served to new connections after SIGHUP; open sessions stay', async () => {
    const open = await connect(`mqtts://127.0.0.1:${server.mqttPort}`)
    const renewed = makeCertificate(dir, 'renewed')
    copyFileSync(renewed.cert, join(dir, 'served.crt'))
    copyFileSync(renewed.key, join(dir, 'served.key'))
    const renewedCa = readFileSync(renewed.cert, 'utf8')
    const expected = new X509Certificate(renewedCa).fingerprint256
    assert.notEqual(await servedFingerprint(server.mqttPort!, ca), expected, 'before the signal: the first certificate')

    server.child.kill('SIGHUP')
    for (let i = 0; i < 50 && !server.output().includes('tls certificate reloaded'); i++)
      await new Promise((resolve) => setTimeout(resolve, 50))
    assert.equal(await servedFingerprint(server.mqttPort!, renewedCa), expected, 'MQTT over TLS')
    assert.equal(await servedFingerprint(server.port, renewedCa), expected, 'HTTPS')
    assert.equal(open.connected, true)
  })

  test('a certificate file that cannot be used is refused at reload, and the previous one stays', async () => {
    writeFileSync(join(dir, 'served.key'), 'not a key')
    server.child.kill('SIGHUP')
    for (let i = 0; i < 50 && !server.output().includes('tls certificate not reloaded'); i++)
      await new Promise((resolve) => setTimeout(resolve, 50))
    assert.match(server.output(), /tls certificate not reloaded/)
    assert.equal(server.child.exitCode, null)
  })
})

describe('TLS settings that cannot work', () => {
  let dir: string
  before(() => (dir = mkdtempSync(join(tmpdir(), 'tendril-tls-bad-'))))
  after(() => rmSync(dir, { recursive: true, force: true }))

  test('a certificate without its key, a missing file, or a key of another certificate stop the start with status 2', async () => {
    const a = makeCertificate(dir, 'a')
    const b = makeCertificate(dir, 'b')
    const cases: [string[], RegExp][] = [
      [['--tls-cert', a.cert], /--tls-cert needs --tls-key as well/],
      [['--tls-cert', a.cert, '--tls-key', join(dir, 'missing.key')], /cannot read the TLS key .*missing\.key: ENOENT/],
      [['--tls-cert', a.cert, '--tls-key', b.key], /cannot be used together/],
    ]
    for (const [args, message] of cases) {
      const result = await runCli([
        'serve',
        '--data-dir',
        join(dir, 'data'),
        '--port',
        '0',
        '--mqtt-port',
        '0',
        ...args,
      ])
      assert.equal(result.code, 2, result.stderr)
      assert.match(result.stderr, message)
    }
  })
})
