// Every MQTT connection the broker closes for what its client sent, or failed to send, leaves an info
// log line that says why (issue 21: "every offending connection is closed with a log line").
import assert from 'node:assert/strict'
import { connect as tcpConnect, type Socket } from 'node:net'
import { after, before, describe, test } from 'node:test'
import mqttPacket from 'mqtt-packet'
import WebSocket from 'ws'
import { createLogger } from '../../core/log.ts'
import { providers } from '../helpers/core.ts'
import { fixture } from '../helpers/fixtures.ts'
import { eventually } from '../helpers/http.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

interface Line {
  level: number
  msg: string
  reason?: string
  topic?: string
  /** the line as written */
  raw: string
}

for (const provider of providers) {
  describe(`MQTT connections closed for their client's doing, with a log line, on ${provider}`, () => {
    let server: TestServer
    let key: string
    const lines: Line[] = []
    const logger = createLogger(
      { logLevel: 'info', logFormat: 'json' },
      { write: (s: string) => void lines.push({ ...(JSON.parse(s) as Line), raw: s }) },
    )
    const port = () => Number(new URL(server.mqttUrl).port)
    const connectPacket = () =>
      mqttPacket.generate({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clean: true,
        clientId: 'c',
        keepalive: 0,
        username: 'key',
        password: Buffer.from(key),
      })

    before(async () => {
      server = await startTestServer(provider, { logger, config: { 'mqtt-connect-timeout': 300 } })
      key = (await fixture(server.core, { org: 'acme', controllers: ['acme/pi'] })).controllers['acme/pi'].key
    })
    after(() => server.close())

    /**
     * Opens a TCP connection, sends `packets` (the first, if a CONNECT, waits for its CONNACK), and resolves once the
     * server closes it.
     */
    async function closedAfter(packets: Buffer[]): Promise<void> {
      const socket: Socket = tcpConnect(port(), '127.0.0.1')
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
      socket.on('error', () => {})
      await new Promise((resolve) => socket.once('connect', resolve))
      for (const p of packets) {
        socket.write(p)
        if (p[0] === 0x10) await new Promise((resolve) => socket.once('data', resolve))
      }
      assert.ok(
        await Promise.race([closed.then(() => true), new Promise((r) => setTimeout(() => r(false), 3000))]),
        'closed by the server',
      )
    }

    const loggedWith = (reason: string) =>
      eventually(() =>
        lines.some((l) => l.level === 30 && l.msg === 'mqtt connection closed' && l.reason?.includes(reason)),
      )

    test('a connected client that sends a packet only a server sends (SUBACK)', async () => {
      await closedAfter([connectPacket(), mqttPacket.generate({ cmd: 'suback', messageId: 1, granted: [0] })])
      assert.ok(await loggedWith('a suback packet from a client'))
    })

    test('a malformed packet after CONNECT (reserved header flags)', async () => {
      await closedAfter([connectPacket(), Buffer.from([0xc1, 0x00])])
      assert.ok(await loggedWith('Invalid header flag bits'))
    })

    test('a packet before CONNECT [MQTT-3.1.0-1]', async () => {
      await closedAfter([Buffer.from([0xc0, 0x00])])
      assert.ok(await loggedWith('Invalid protocol'))
    })

    test('no CONNECT within the connect timeout', async () => {
      await closedAfter([])
      assert.ok(await loggedWith('connect did not arrive in time'))
    })

    test('a PUBLISH to a wildcard topic over WebSocket', async () => {
      const ws = new WebSocket(server.wsUrl, 'mqtt')
      const closed = new Promise((resolve) => ws.once('close', resolve))
      await new Promise((resolve) => ws.once('open', resolve))
      ws.send(connectPacket())
      await new Promise((resolve) => ws.once('message', resolve))
      ws.send(
        mqttPacket.generate({
          cmd: 'publish',
          topic: 'acme/#',
          payload: Buffer.from('1'),
          qos: 0,
          retain: false,
          dup: false,
        }),
      )
      await closed
      assert.ok(await loggedWith('# is not allowed in PUBLISH'))
    })

    test('a PUBLISH refused for its 64 KB topic logs a line of a bounded length', async () => {
      const topic = 'elsewhere/' + 'x'.repeat(64_000)
      const publish = mqttPacket.generate({
        cmd: 'publish',
        topic,
        payload: Buffer.from('1'),
        qos: 0,
        retain: false,
        dup: false,
      })
      await closedAfter([connectPacket(), publish])
      const isRefusal = (l: Line) => l.msg === 'mqtt publish refused: no write access'
      assert.ok(await eventually(() => lines.some(isRefusal)))
      const refused = lines.find(isRefusal)!
      assert.ok(refused.raw.length < 1000, `a line of ${refused.raw.length} characters`)
      assert.equal(refused.topic, 'elsewhere/' + 'x'.repeat(190) + '…(64010 bytes)')
    })
  })
}
