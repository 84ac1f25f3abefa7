// Fault scenario "MQTT fuzzing" (issue 21), shared by bench/faults/mqtt-fuzz.ts and its short test:
// connections over TCP and WebSocket send mqtt-packet-built packets, mutated (bits, flags, remaining
// lengths, string lengths, truncations), random bytes, invalid UTF-8, wildcards in PUBLISH topics,
// oversized MQTT 5 properties and floods, before and after a valid CONNECT, to a real `tendril serve`.
// Each connection ends with a packet the server must refuse, so every one of them must be closed.
import { rmSync } from 'node:fs'
import { connect as tcpConnect, type Socket } from 'node:net'
import mqttPacket, { type Packet } from 'mqtt-packet'
import WebSocket from 'ws'
import type { Provider } from './core.ts'
import {
  countLogLines,
  fmtLatency,
  percentiles,
  rssMb,
  serveProvisioned,
  startBystander,
  type Latency,
} from './fault-watch.ts'

export interface FuzzOptions {
  provider: Provider
  packets: number
  seed: number
  /** connections fuzzing at once */
  concurrency: number
  /** the share of connections that flood 5,000 PUBLISH packets (default 0.005) */
  floods?: number
  log?: (line: string) => void
}

export interface FuzzResult {
  packetsSent: number
  connections: number
  /** connections the server closed (all of them should be) */
  closedByServer: number
  /** connections still open `closeWithinMs` after their last packet: must be none */
  leftOpen: string[]
  /** post-auth connections whose valid CONNECT was refused or never answered */
  connectRefused: number
  /** the server's log lines (info and above) by message while fuzzing */
  logLines: Record<string, number>
  serverExited: boolean
  bystander: { before: Latency; during: Latency; problems: string[] }
  rssMb: { before: number; after: number }
}

/** Mulberry32: a small seeded PRNG, so a seed reruns the same packets. */
export function prng(seed: number) {
  let a = seed >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (n: number) => Math.floor(next() * n)
  return { next, int, pick: <T>(xs: readonly T[]): T => xs[int(xs.length)]!, chance: (p: number) => next() < p }
}
type Rng = ReturnType<typeof prng>

/**
 * Bytes that are not UTF-8: a lone continuation, an overlong encoding, a surrogate, a NUL (forbidden in MQTT strings).
 */
const BAD_UTF8 = [[0x80], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xff], [0x00], [0xf8, 0x88, 0x80, 0x80, 0x80]]
const MARK = '\u0007\u0007' // replaced by invalid bytes after generation

function topic(rng: Rng, own: string): string {
  return rng.pick([
    own,
    `${own}/x/${rng.int(100)}`,
    'acme/bystander/echo', // another controller's: refused
    'acme/bystander',
    '#',
    `${own}/#`,
    `+/${own}`,
    'acme/+/level',
    '$SYS/x',
    '',
    '/',
    `${own}/${MARK}`,
    MARK,
    'a/'.repeat(rng.int(300)),
    'x'.repeat(rng.int(70_000)),
    `${own}/\u0000`,
    `${own}/🌱/é`,
  ])
}

function properties(rng: Rng): Record<string, unknown> | undefined {
  if (!rng.chance(0.5)) return undefined
  const size = rng.pick([10, 1000, 60_000])
  const count = rng.pick([1, 10, 200])
  const userProperties: Record<string, string> = {}
  for (let i = 0; i < count; i++) userProperties[`k${i}`] = 'v'.repeat(size)
  return rng.pick([
    { userProperties },
    { topicAlias: rng.int(70_000) },
    { contentType: MARK },
    { subscriptionIdentifier: rng.int(1 << 28) },
    { messageExpiryInterval: rng.int(2 ** 32) },
  ])
}

function packet(rng: Rng, own: string, version: 4 | 5): Packet {
  const qos = rng.pick([0, 1, 2] as const)
  const messageId = 1 + rng.int(65535)
  const props = version === 5 ? properties(rng) : undefined
  const kind = rng.pick([
    'publish',
    'publish',
    'publish',
    'subscribe',
    'subscribe',
    'unsubscribe',
    'connect',
    'puback',
    'pubrec',
    'pubrel',
    'pubcomp',
    'pingreq',
    'connack',
    'suback',
    'unsuback',
    'pingresp',
    'auth',
  ] as const)
  switch (kind) {
    case 'publish':
      return {
        cmd: 'publish',
        topic: topic(rng, own),
        payload: Buffer.alloc(rng.pick([0, 5, 100, 5000]), rng.int(256)),
        qos,
        retain: rng.chance(0.2),
        dup: rng.chance(0.1),
        messageId,
        ...(props ? { properties: props } : {}),
      } as Packet
    case 'subscribe':
      return {
        cmd: 'subscribe',
        messageId,
        subscriptions: Array.from({ length: 1 + rng.int(3) }, () => ({ topic: topic(rng, own), qos })),
        ...(props ? { properties: props } : {}),
      } as Packet
    case 'unsubscribe':
      return { cmd: 'unsubscribe', messageId, unsubscriptions: [topic(rng, own)] } as Packet
    case 'connect':
      return connectPacket(rng, 'key', 'not a key', version)
    case 'connack':
      return { cmd: 'connack', returnCode: 0, sessionPresent: false } as Packet
    case 'suback':
      return { cmd: 'suback', messageId, granted: [0] } as Packet
    case 'unsuback':
      return { cmd: 'unsuback', messageId } as Packet
    case 'auth':
      return { cmd: 'auth', reasonCode: 0 } as Packet
    default:
      return { cmd: kind, messageId } as Packet
  }
}

function connectPacket(rng: Rng, username: string, password: string, version: 4 | 5, keepalive = rng.int(100)): Packet {
  const will = rng.chance(0.3)
    ? {
        topic: rng.pick(['acme/c-0/will', '#', MARK]),
        payload: Buffer.from('bye'),
        qos: rng.pick([0, 1] as const),
        retain: false,
      }
    : undefined
  return {
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: version,
    clean: rng.chance(0.8),
    clientId: rng.pick(['', 'fuzz', MARK, 'x'.repeat(300), `fuzz-${rng.int(1e6)}`]),
    keepalive,
    username,
    password: Buffer.from(password),
    ...(will ? { will } : {}),
  } as Packet
}

/** Generates, then puts invalid UTF-8 where the mark is. */
function bytesOf(rng: Rng, p: Packet, version: 4 | 5): Buffer {
  let buf: Buffer
  try {
    buf = mqttPacket.generate(p, { protocolVersion: version })
  } catch {
    return randomBytes(rng) // mqtt-packet refuses to build it (e.g. a too long string): send noise instead
  }
  for (let at = buf.indexOf(MARK); at >= 0; at = buf.indexOf(MARK, at + 2)) {
    const bad = rng.pick(BAD_UTF8)
    buf[at] = bad[0]!
    buf[at + 1] = bad[1] ?? 0x80
  }
  return buf
}

function randomBytes(rng: Rng): Buffer {
  return Buffer.from(Array.from({ length: 1 + rng.int(200) }, () => rng.int(256)))
}

/** One mutation of a built packet: what a broken or hostile client sends. */
function mutate(rng: Rng, buf: Buffer): Buffer {
  const out = Buffer.from(buf)
  switch (rng.int(8)) {
    case 0: // flip bits
      for (let i = 0; i < 1 + rng.int(3); i++) out[rng.int(out.length)]! ^= 1 << rng.int(8)
      return out
    case 1: // header flags
      out[0] = (out[0]! & 0xf0) | rng.int(16)
      return out
    case 2: // packet type
      out[0] = (rng.int(16) << 4) | (out[0]! & 0x0f)
      return out
    case 3: // remaining length: another value, or a malformed five-byte varint
      return Buffer.concat([
        out.subarray(0, 1),
        rng.chance(0.3)
          ? Buffer.from([0xff, 0xff, 0xff, 0xff, 0x7f])
          : varint(rng.int(rng.pick([10, 300, 70_000, 1 << 28]))),
        out.subarray(1 + varintLength(out)),
      ])
    case 4: // a string length field (the first one after the fixed header)
      if (out.length >= 3 + varintLength(out)) out.writeUInt16BE(rng.int(65536), 1 + varintLength(out))
      return out
    case 5: // truncated
      return out.subarray(0, rng.int(out.length))
    case 6: // garbage appended
      return Buffer.concat([out, randomBytes(rng)])
    default: // one byte replaced
      out[rng.int(out.length)] = rng.int(256)
      return out
  }
}

function varint(n: number): Buffer {
  const bytes: number[] = []
  do {
    let b = n % 128
    n = Math.floor(n / 128)
    if (n > 0) b |= 0x80
    bytes.push(b)
  } while (n > 0 && bytes.length < 4)
  return Buffer.from(bytes)
}

function varintLength(buf: Buffer): number {
  let i = 1
  while (i < 5 && i < buf.length && buf[i]! & 0x80) i++
  return i
}

/** A raw connection over TCP or WebSocket: send bytes, see what comes back, learn when the server closes it. */
interface Raw {
  send(buf: Buffer): void
  received: Buffer[]
  closed: Promise<void>
  isClosed(): boolean
  destroy(): void
}

function rawTcp(port: number): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const socket: Socket = tcpConnect(port, '127.0.0.1')
    const received: Buffer[] = []
    let isClosed = false
    const closed = new Promise<void>((r) => socket.once('close', () => ((isClosed = true), r())))
    socket.on('data', (d) => received.push(d))
    socket.on('error', () => {})
    socket.once('connect', () =>
      resolve({
        send: (b) => socket.destroyed || socket.write(b),
        received,
        closed,
        isClosed: () => isClosed,
        destroy: () => socket.destroy(),
      }),
    )
    socket.once('error', reject)
  })
}

function rawWs(url: string): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/mqtt`, 'mqtt')
    const received: Buffer[] = []
    let isClosed = false
    const closed = new Promise<void>((r) => ws.once('close', () => ((isClosed = true), r())))
    ws.on('message', (d: Buffer) => received.push(d))
    ws.on('error', () => {})
    ws.once('open', () =>
      resolve({
        send: (b) => ws.readyState === WebSocket.OPEN && ws.send(b),
        received,
        closed,
        isClosed: () => isClosed,
        destroy: () => ws.terminate(),
      }),
    )
    ws.once('error', reject)
  })
}

const CONNACK_ACCEPTED_V4 = Buffer.from([0x20, 0x02, 0x00, 0x00])

async function waitFor(check: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms
  while (!check()) {
    if (Date.now() > until) return false
    await new Promise((r) => setTimeout(r, 5))
  }
  return true
}

interface Counters {
  packets: number
  connections: number
  closedByServer: number
  connectRefused: number
  leftOpen: string[]
}

/** One fuzzing connection; `closeWithinMs`: how long the server may take to close it after the last packet. */
async function fuzzConnection(
  rng: Rng,
  open: () => Promise<Raw>,
  key: string,
  own: string,
  counters: Counters,
  closeWithinMs: number,
  label: string,
  floods: number,
): Promise<void> {
  const raw = await open()
  counters.connections++
  const authenticated = rng.chance(0.6)
  // Aedes speaks MQTT 3.1.1 and refuses a version 5 CONNECT (code 1): MQTT 5 only before CONNECT
  const version = !authenticated && rng.chance(0.3) ? 5 : 4
  const sent = (b: Buffer) => {
    raw.send(b)
    counters.packets++
  }
  if (authenticated) {
    sent(bytesOf(rng, connectPacket(rng, 'key', key, version, 2), version))
    const answered = await waitFor(() => raw.received.length > 0 || raw.isClosed(), 5000)
    const first = Buffer.concat(raw.received)
    if (
      !answered ||
      raw.isClosed() ||
      (version === 4 && !first.subarray(0, 4).equals(CONNACK_ACCEPTED_V4)) ||
      first[0] !== 0x20
    )
      counters.connectRefused++
  }
  const flood = rng.chance(floods)
  const count = flood ? 5000 : 1 + rng.int(12)
  for (let i = 0; i < count && !raw.isClosed(); i++) {
    if (flood)
      sent(
        bytesOf(
          rng,
          {
            cmd: 'publish',
            topic: `${own}/flood`,
            payload: Buffer.from('1'),
            qos: 0,
            retain: false,
            dup: false,
          } as Packet,
          version,
        ),
      )
    else if (rng.chance(0.1)) sent(randomBytes(rng))
    else {
      const built = bytesOf(rng, packet(rng, own, version), version)
      sent(rng.chance(0.6) ? mutate(rng, built) : built)
    }
    if (i % 4 === 3) await new Promise((r) => setImmediate(r))
  }
  // certainly refused: a PUBLISH to '#' after a CONNECT, a PINGREQ before one [MQTT-3.1.0-1]
  if (!raw.isClosed())
    sent(
      authenticated
        ? bytesOf(
            rng,
            { cmd: 'publish', topic: '#', payload: Buffer.alloc(0), qos: 0, retain: false, dup: false } as Packet,
            version,
          )
        : Buffer.from([0xc0, 0x00]),
    )
  await Promise.race([raw.closed, new Promise((r) => setTimeout(r, closeWithinMs))])
  if (raw.isClosed()) counters.closedByServer++
  else {
    counters.leftOpen.push(`${label} v${version} ${authenticated ? 'after CONNECT' : 'before CONNECT'}`)
    raw.destroy()
  }
}

export async function fuzzMqtt(options: FuzzOptions): Promise<FuzzResult> {
  const log = options.log ?? (() => {})
  const connectTimeoutMs = 2000
  const { server, keys, bystanderKey, dataDir } = await serveProvisioned(options.provider, 4, [
    '--mqtt-connect-timeout',
    String(connectTimeoutMs),
    '--mqtt-connections-per-key',
    '200',
  ])
  const counters: Counters = { packets: 0, connections: 0, closedByServer: 0, connectRefused: 0, leftOpen: [] }
  let serverExited = false
  server.child.once('exit', () => (serverExited = true))
  const rss = { before: rssMb(server), after: NaN }
  const bystander = await startBystander(`mqtt://127.0.0.1:${server.mqttPort}`, bystanderKey)
  try {
    bystander.take()
    await new Promise((r) => setTimeout(r, 3000))
    const before = percentiles(bystander.take())
    log(`bystander before: ${fmtLatency(before)}`)
    const lines = countLogLines(server)
    const rng = prng(options.seed)
    // keepalive 2 s after a CONNECT: a connection stuck in a partial packet is closed after 3 s
    const closeWithinMs = Math.max(connectTimeoutMs, 3000) + 2000
    let n = 0
    const worker = async () => {
      while (counters.packets < options.packets && !serverExited) {
        const i = n++
        const c = i % keys.length
        const ws = rng.chance(0.3)
        const open = ws ? () => rawWs(server.url) : () => rawTcp(server.mqttPort!)
        await fuzzConnection(
          rng,
          open,
          keys[c]!,
          `acme/c-${c}`,
          counters,
          closeWithinMs,
          `#${i} ${ws ? 'ws' : 'tcp'}`,
          options.floods ?? 0.005,
        )
        if (i % 1000 === 999)
          log(
            `${counters.packets} packets, ${counters.connections} connections, rss ${rssMb(server).toFixed(0)} MB, bystander ${fmtLatency(percentiles(during.slice(-500)))}`,
          )
      }
    }
    const started = Date.now()
    const during: number[] = []
    const sampler = setInterval(() => during.push(...bystander.take()), 200)
    await Promise.all(Array.from({ length: options.concurrency }, worker))
    clearInterval(sampler)
    during.push(...bystander.take())
    lines.stop()
    log(
      `fuzzed ${counters.packets} packets on ${counters.connections} connections in ${((Date.now() - started) / 1000).toFixed(0)} s`,
    )
    rss.after = serverExited ? NaN : rssMb(server)
    return {
      packetsSent: counters.packets,
      connections: counters.connections,
      closedByServer: counters.closedByServer,
      leftOpen: counters.leftOpen,
      connectRefused: counters.connectRefused,
      logLines: Object.fromEntries(lines.counts),
      serverExited,
      bystander: { before, during: percentiles(during), problems: bystander.problems },
      rssMb: rss,
    }
  } finally {
    await bystander.stop().catch(() => {})
    await server.stop('SIGKILL')
    rmSync(dataDir, { recursive: true, force: true })
  }
}
