// The brokers under test, each on free loopback ports: Tendril (createTendril over a migrated test
// core), bare Aedes (in memory, no auth, TCP + WebSocket at /mqtt) and Mosquitto (TCP, when installed).
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer as createHttpServer } from 'node:http'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Aedes } from 'aedes'
import { WebSocketServer, createWebSocketStream } from 'ws'
import { createTendril } from '../../server.ts'
import { freePort } from '../../test/harness/ports.ts'
import { openTestCore, type Provider, type TestCore } from '../../test/helpers/core.ts'
import { countQueries, type QueryCounter } from './query-counter.ts'
import { sleep } from './stats.ts'

export interface RunningBroker {
  name: string
  tcpUrl: string
  /** ws://…/mqtt, when the broker speaks MQTT over WebSocket */
  wsUrl?: string
  stop(): Promise<void>
}

export interface BareAedes extends RunningBroker {
  aedes: Aedes
}

export interface RunningTendril extends RunningBroker {
  core: TestCore
  wsUrl: string
  /** set when started with countQueries: the database calls the running instance made */
  queries?: QueryCounter
}

const host = '127.0.0.1'

function listen(server: net.Server | ReturnType<typeof createHttpServer>): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, host, () => resolve((server.address() as net.AddressInfo).port))
  })
}

export async function startBareAedes(): Promise<BareAedes> {
  const aedes = await Aedes.createBroker()
  const tcp = net.createServer((socket) => aedes.handle(socket))
  const http = createHttpServer()
  const wss = new WebSocketServer({ noServer: true })
  http.on('upgrade', (req, socket, head) => {
    if (req.url !== '/mqtt') return void socket.destroy()
    wss.handleUpgrade(req, socket, head, (ws) => {
      const stream = createWebSocketStream(ws)
      stream.on('error', () => ws.terminate())
      aedes.handle(stream)
    })
  })
  const tcpPort = await listen(tcp)
  const wsPort = await listen(http)
  return {
    name: 'bare Aedes',
    aedes,
    tcpUrl: `mqtt://${host}:${tcpPort}`,
    wsUrl: `ws://${host}:${wsPort}/mqtt`,
    async stop() {
      tcp.close()
      http.close()
      for (const ws of wss.clients) ws.terminate()
      await new Promise<void>((resolve) => aedes.close(() => resolve()))
    },
  }
}

/**
 * Tendril over a fresh database; overrides are config flags (e.g. 'mqtt-publish-rate': 0).
 * With countQueries, the instance gets a database client that counts its calls (diagnostics only).
 */
export async function startTendril(
  provider: Provider,
  overrides: Record<string, unknown> = {},
  options: { countQueries?: boolean; callers?: boolean } = {},
): Promise<RunningTendril> {
  const core = await openTestCore(provider, overrides)
  const queries = options.countQueries ? countQueries(core.db, { callers: options.callers }) : undefined
  const tendril = await createTendril(queries ? { ...core, db: queries.db } : core)
  const { port, mqttPort } = await tendril.listen({ port: 0, host, mqttPort: 0 })
  return {
    name: `Tendril (${provider})`,
    core,
    queries,
    tcpUrl: `mqtt://${host}:${mqttPort}`,
    wsUrl: `ws://${host}:${port}/mqtt`,
    async stop() {
      await tendril.close()
      await core.cleanup()
    },
  }
}

const MOSQUITTO_PATHS = ['/usr/sbin/mosquitto', '/usr/local/sbin/mosquitto', '/usr/bin/mosquitto']

/** Debian's mosquitto on a free port with a generated config (never the system service); null when not installed. */
export async function startMosquitto(): Promise<RunningBroker | null> {
  const bin = MOSQUITTO_PATHS.find((p) => existsSync(p))
  if (!bin) return null
  const dir = mkdtempSync(join(tmpdir(), 'tendril-bench-mosquitto-'))
  const port = await freePort()
  const config = join(dir, 'mosquitto.conf')
  // max_queued_messages 0: no cap, so QoS 0 bursts are queued like Aedes does rather than dropped
  writeFileSync(
    config,
    [
      `listener ${port} ${host}`,
      'allow_anonymous true',
      'persistence false',
      'log_dest none',
      'max_queued_messages 0',
      '',
    ].join('\n'),
  )
  const child = spawn(bin, ['-c', config], { stdio: 'ignore' })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  // if this process dies (say, a broker under test crashes), mosquitto must not outlive it
  const killNow = () => void (child.exitCode === null && child.signalCode === null && child.kill('SIGKILL'))
  process.once('exit', killNow)
  const stop = async () => {
    process.off('exit', killNow)
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(timer)
    }
    rmSync(dir, { recursive: true, force: true })
  }
  for (let i = 0; ; i++) {
    if (await canConnect(port)) break
    if (i > 100 || child.exitCode !== null) {
      await stop()
      throw new Error('mosquitto did not start')
    }
    await sleep(50)
  }
  return { name: `Mosquitto (pid ${child.pid})`, tcpUrl: `mqtt://${host}:${port}`, stop }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, host)
    socket.once('connect', () => (socket.destroy(), resolve(true)))
    socket.once('error', () => resolve(false))
  })
}
