// Fault scenario "slow and stuck clients" (issue 21), shared by bench/faults/stuck-clients.ts and its
// short test: against a real `tendril serve`, at once: slowloris HTTP (headers trickled), MQTT over TCP
// and over WebSocket that never send CONNECT, a subscriber that stops reading while a publisher floods
// its topic, and many idle authenticated MQTT connections; meanwhile a bystander times its round trips.
import { connect as tcpConnect, type Socket } from 'node:net'
import { rmSync } from 'node:fs'
import mqtt from 'mqtt'
import mqttPacket from 'mqtt-packet'
import WebSocket from 'ws'
import type { Provider } from './core.ts'
import { percentiles, rssMb, serveProvisioned, startBystander, type Latency } from './fault-watch.ts'

export interface StuckOptions {
  provider: Provider
  slowloris: number
  silentTcp: number
  silentWs: number
  idle: number
  /** --mqtt-connect-timeout and --mqtt-drain-timeout of the server */
  timeoutMs: number
  /** how long after closing everything the RSS "after" is read (default 3 s) */
  afterMs?: number
  log?: (line: string) => void
}

/** How many of a kind were closed by the server, and how long after they started (ms). */
export interface Closings {
  opened: number
  closed: number
  maxMs: number
}

export interface StuckResult {
  slowloris: Closings
  silentTcp: Closings
  silentWs: Closings
  stuckSubscriber: Closings & { publishedBytes: number }
  idle: { connected: number; closedByServer: number }
  rssMb: { before: number; during: number; peak: number; after: number }
  bystander: { before: Latency; during: Latency; problems: string[] }
  serverExited: boolean
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

interface Tracked {
  closedAt?: number
  socket: { destroy(): void }
}

function track(socket: Socket, list: Tracked[]): Tracked {
  const t: Tracked = { socket }
  const started = Date.now()
  socket.on('error', () => {})
  socket.once('close', () => (t.closedAt = Date.now() - started))
  list.push(t)
  return t
}

function closings(list: Tracked[]): Closings {
  const closed = list.filter((t) => t.closedAt !== undefined)
  return { opened: list.length, closed: closed.length, maxMs: Math.max(0, ...closed.map((t) => t.closedAt!)) }
}

function connectTcp(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = tcpConnect(port, '127.0.0.1', () => resolve(s))
    s.once('error', reject)
  })
}

/** Sends the request line and one header, then one more header line a second, never the blank line. */
async function slowloris(port: number, list: Tracked[]): Promise<void> {
  const s = await connectTcp(port)
  const t = track(s, list)
  s.write('GET /api/v1/resources HTTP/1.1\r\nHost: x\r\n')
  const timer = setInterval(
    () => (t.closedAt === undefined ? s.write(`X-Slow-${Date.now()}: 1\r\n`) : clearInterval(timer)),
    1000,
  )
  s.once('close', () => clearInterval(timer))
}

function silentWs(url: string, list: Tracked[]): Promise<void> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/mqtt`, 'mqtt')
    const t: Tracked = { socket: { destroy: () => ws.terminate() } }
    const started = Date.now()
    list.push(t)
    ws.on('error', () => {})
    ws.once('close', () => ((t.closedAt ??= Date.now() - started), resolve()))
    ws.once('open', () => resolve())
  })
}

/** An authenticated MQTT connection over raw TCP (a few KB, unlike an MQTT.js client): CONNECT, wait for CONNACK. */
async function rawSession(
  port: number,
  key: string,
  clientId: string,
  list: Tracked[],
  keepalive = 0,
): Promise<Socket> {
  const s = await connectTcp(port)
  track(s, list)
  s.write(
    mqttPacket.generate({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clean: true,
      clientId,
      keepalive,
      username: 'key',
      password: Buffer.from(key),
    }),
  )
  const ack = await new Promise<Buffer | undefined>((resolve) => {
    s.once('data', resolve)
    s.once('close', () => resolve(undefined))
  })
  if (!ack || ack[0] !== 0x20 || ack[3] !== 0)
    throw new Error(`CONNECT of ${clientId} refused: ${ack?.toString('hex')}`)
  return s
}

export async function stuckClients(options: StuckOptions): Promise<StuckResult> {
  const log = options.log ?? (() => {})
  const timeout = String(options.timeoutMs)
  const { server, keys, bystanderKey, dataDir } = await serveProvisioned(options.provider, 3, [
    '--mqtt-connect-timeout',
    timeout,
    '--mqtt-drain-timeout',
    timeout,
    '--mqtt-connections-per-key',
    String(options.idle + 10),
  ])
  const port = server.mqttPort!
  let serverExited = false
  server.child.once('exit', () => (serverExited = true))
  const bystander = await startBystander(`mqtt://127.0.0.1:${port}`, bystanderKey)
  const lists = {
    slowloris: [] as Tracked[],
    silentTcp: [] as Tracked[],
    silentWs: [] as Tracked[],
    stuck: [] as Tracked[],
    idle: [] as Tracked[],
  }
  let flooding = true
  const rss = { before: 0, during: 0, peak: 0, after: 0 }
  const sampleRss = setInterval(() => serverExited || (rss.peak = Math.max(rss.peak, rssMb(server))), 250)
  try {
    bystander.take()
    await sleep(3000)
    const before = percentiles(bystander.take())
    rss.before = rssMb(server)
    log(`before: rss ${rss.before.toFixed(0)} MB`)
    // the idle connections first, in bursts of 200: they stay for the whole run
    const idle: Socket[] = []
    for (let i = 0; i < options.idle; i += 200) {
      const burst = Array.from({ length: Math.min(200, options.idle - i) }, (_, j) =>
        rawSession(port, keys[0]!, `idle-${i + j}`, lists.idle),
      )
      idle.push(...(await Promise.all(burst)))
    }
    log(`${idle.length} idle MQTT connections open: rss ${rssMb(server).toFixed(0)} MB`)
    bystander.take()
    const started = Date.now()
    // the stuck subscriber: subscribes, then never reads again, while a publisher floods its topic
    const stuck = await rawSession(port, keys[1]!, 'stuck', lists.stuck, 0)
    stuck.write(
      mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'acme/c-1/stuck', qos: 0 }] }),
    )
    await new Promise((r) => stuck.once('data', r))
    stuck.pause()
    // paused, it would not see the server close it: a PINGREQ now and then fails once it has
    const probe = setInterval(
      () => (stuck.destroyed ? clearInterval(probe) : stuck.write(Buffer.from([0xc0, 0x00]))),
      250,
    )
    const publisher = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
      username: 'key',
      password: keys[2]!,
      clientId: 'flooder',
      reconnectPeriod: 0,
    })
    let publishedBytes = 0
    const payload = Buffer.alloc(1000, 'x')
    const flood = setInterval(() => {
      for (let i = 0; i < 150 && flooding; i++) {
        publisher.publish('acme/c-1/stuck', payload, { qos: 0 })
        publishedBytes += payload.length
      }
    }, 100) // 1,500 a second: inside the publisher's rate limit
    const silent: Promise<unknown>[] = []
    for (let i = 0; i < options.slowloris; i++) silent.push(slowloris(server.port, lists.slowloris))
    for (let i = 0; i < options.silentTcp; i++) silent.push(connectTcp(port).then((s) => track(s, lists.silentTcp)))
    for (let i = 0; i < options.silentWs; i++) silent.push(silentWs(server.url, lists.silentWs))
    await Promise.all(silent)
    log(
      `stuck subscriber, ${options.slowloris} slowloris, ${options.silentTcp} silent TCP, ${options.silentWs} silent WebSocket connections open`,
    )
    // until every stuck connection is closed, or long enough that the ones left are not going to be
    const stuckOnes = [...lists.slowloris, ...lists.silentTcp, ...lists.silentWs, ...lists.stuck]
    const deadline = started + Math.max(options.timeoutMs * 3, 15_000) + 30_000
    while (stuckOnes.some((t) => t.closedAt === undefined) && Date.now() < deadline && !serverExited) {
      await sleep(500)
      if (!rss.during) rss.during = rssMb(server)
    }
    rss.during = Math.max(rss.during, rssMb(server))
    const during = percentiles(bystander.take())
    log(`stuck connections handled in ${((Date.now() - started) / 1000).toFixed(1)} s`)
    flooding = false
    clearInterval(flood)
    await publisher.endAsync()
    // what the server closed, before this side closes the rest
    const result = {
      slowloris: closings(lists.slowloris),
      silentTcp: closings(lists.silentTcp),
      silentWs: closings(lists.silentWs),
      stuckSubscriber: { ...closings(lists.stuck), publishedBytes },
      idle: { connected: idle.length, closedByServer: lists.idle.filter((t) => t.closedAt !== undefined).length },
    }
    for (const t of [...stuckOnes, ...lists.idle]) t.socket.destroy()
    await sleep(options.afterMs ?? 3000)
    rss.after = serverExited ? NaN : rssMb(server)
    return {
      ...result,
      rssMb: rss,
      bystander: { before, during, problems: bystander.problems },
      serverExited,
    }
  } finally {
    flooding = false
    clearInterval(sampleRss)
    for (const list of Object.values(lists)) for (const t of list) t.socket.destroy()
    await bystander.stop().catch(() => {})
    await server.stop('SIGKILL')
    rmSync(dataDir, { recursive: true, force: true })
  }
}
