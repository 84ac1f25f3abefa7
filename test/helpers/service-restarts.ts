// Fault scenario "Redis restarts and PostgreSQL restarts under load" (issue 21), shared by
// bench/faults/service-restarts.ts and its short test: real `tendril serve` processes on a private
// PostgreSQL (and Redis) that is stopped for a few seconds and started again, several times, while
// controllers publish numbered QoS 1 values, a REST client reads and writes and a sub-topic is relayed.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqtt, { type MqttClient } from 'mqtt'
import { connect as connectSdk, type TendrilClient } from '@tendril/controllers-sdk'
import { loadConfig } from '../../core/config.ts'
import { openCore } from '../../core/index.ts'
import { createLogger } from '../../core/log.ts'
import { startPostgres, type PostgresServer } from '../harness/postgres.ts'
import { startRedis, type RedisServer } from '../harness/redis.ts'
import { startServerWithMqtt, type RunningServer } from './cli.ts'
import { basicAuth, eventually } from './http.ts'
import { provision, publishLoop, storedCounts, tally, type Writer } from './kill-ingest.ts'

export type Service = 'redis' | 'postgresql'

export interface ServiceRestartOptions {
  service: Service
  controllers: number
  outages: number
  downMs: number
  /** how long the load runs between outages, once every controller publishes again */
  upMs: number
  /** tendril instances (on one PostgreSQL; with more than one, or `redis`, on one Redis too) */
  instances: number
  /** run the instances with --redis (always when several) */
  redis: boolean
  log?: (line: string) => void
}

/** What REST requests got while the service was down. */
export interface RestTally {
  /** status (or "timeout", "error") → count */
  statuses: Record<string, number>
  /** slowest answer, ms */
  maxMs: number
  /** non-2xx answers without a JSON {error: {code, message}}, e.g. "500 internal" or "502 text" */
  badBodies: string[]
  /** error codes seen, e.g. "unavailable" → count */
  codes: Record<string, number>
}

export interface OutageReport {
  /** how long the service was down (ms) and how long its restart took */
  downMs: number
  /** from the service being back to every controller's next PUBACK and a REST write answered 2xx */
  recoveryMs: number
  /** PUBACKs received while the service was down, and of them for c-0 (whose topic a persistent session holds) */
  pubacksWhileDown: number
  keptPubacksWhileDown: number
  /** c-0's last acknowledged value when the service stopped and when it was started again */
  keptAt: [number, number]
  /** MQTT connections the server closed, CONNACK refusals by code, while down or recovering */
  closes: number
  refusals: Record<string, number>
  /** sub-topic messages relayed while down: to a subscriber on the publisher's instance, on another */
  relayedHere: number
  relayedThere: number
  relaySent: number
  reads: RestTally
  writes: RestTally
  /** sub-topic messages sent while down that reached the other instance's subscriber after the service was back */
  relayedLate: number
  /** new MQTT connections made while down, one per instance and kind: what each got, e.g. "connack 3 ms" */
  probes: ProbeResult[]
}

/** A new connection while the service is down: each step's time in ms, or what it got instead. */
export interface ProbeResult {
  instance: number
  /** a new connection with a clean or a persistent session, or one connected before the outage */
  kind: 'clean' | 'persistent' | 'connected'
  connack: number | string
  puback?: number | string
  suback?: number | string
}

export interface ServiceRestartResult {
  outages: OutageReport[]
  acknowledged: number
  stored: number
  lost: string[]
  doubled: string[]
  unknown: string[]
  /** REST writes answered 2xx */
  restAcknowledged: number
  /** values of the controllers SDK whose flush() resolved, and the errors it reported (e.g. the key refused) */
  sdkAcknowledged: number
  sdkErrors: string[]
  /** values of c-0 acknowledged that its persistent QoS 1 subscriber never got */
  keeperMissing: number[]
  /** the instances' log lines at warn or above: by message → count, and the first line of each */
  warnings: { counts: Record<string, number>; first: Record<string, string> }
  /** whether every tendril process ran from start to end (no crash, no restart) */
  survived: boolean
}

/** How long the server keeps a resolved path (core/resources/resolver.ts). */
const PATH_CACHE_MS = 5000
/** A REST answer slower than this counts as a hang. */
const REQUEST_TIMEOUT_MS = 10_000
const REST_PAUSE_MS = 50
const RELAY_EVERY_MS = 50

type Phase = 'up' | 'down' | 'recovering'

interface Probe {
  phase: Phase
  downSince: number
  /** when the service was started again */
  upSince: number
  report?: OutageReport
}

export async function restartsUnderLoad(options: ServiceRestartOptions): Promise<ServiceRestartResult> {
  const log = options.log ?? (() => {})
  const pg = await startPostgres()
  let redis: RedisServer | undefined
  const servers: RunningServer[] = []
  const dirs: string[] = []
  const clients: MqttClient[] = []
  let running = true
  let sdkClient: TendrilClient | undefined
  try {
    const useRedis = options.redis || options.instances > 1 || options.service === 'redis'
    if (useRedis) redis = await startRedis()
    const dbUrl = await pg.createDatabase()
    const keys = await provisionOn(dbUrl, options.controllers + 3, dirs)
    const sdkKey = keys.pop()!
    const sdkPath = `acme/c-${options.controllers + 2}/level`
    const probeKey = keys.pop()!
    const probePath = `acme/c-${options.controllers + 1}/level`
    const restKey = keys.pop()!
    const restPath = `acme/c-${options.controllers}/level`
    const prober: Prober = { key: probeKey, topic: probePath, acked: [], sent: 0 }
    for (let i = 0; i < options.instances; i++) servers.push(await startInstance(dbUrl, redis, i, dirs))
    const pids = servers.map((s) => s.child.pid)
    const probe: Probe = { phase: 'up', downSince: 0, upSince: 0 }

    const writers: Writer[] = keys.map((key, i) => {
      const client = connect(servers[i % servers.length]!, key, `c-${i}`, probe)
      clients.push(client)
      return { client, acked: [], sent: 0 }
    })
    writers.forEach((w, i) => trackAcks(w, probe, i === 0))
    const keeper = await keepSession(servers.at(-1)!, keys[1] ?? keys[0]!, clients)
    const loops = writers.map((w, i) => publishLoop(w, `acme/c-${i}/level`, () => running))
    const watchers = servers.map((server, i) => {
      const client = connect(server, keys[0]!, `watcher-${i}`, { phase: 'up', downSince: 0, upSince: 0 })
      clients.push(client)
      return client
    })
    const relay = await startRelay(servers, keys, probe, clients, () => running)
    const rest = { acked: [] as number[], sent: 0, lastOk: 0 }
    const sdk = await sdkWriter(servers[0]!, sdkKey, `/acme/c-${options.controllers + 2}`, () => running)
    sdkClient = sdk.client
    const restLoops = [
      sdk.loop,
      restWriter(servers[0]!, restKey, restPath, rest, probe, () => running),
      restReader(servers.at(-1)!, keys[0]!, probe, () => running),
    ]
    const service: PostgresServer | RedisServer = options.service === 'redis' ? redis! : pg

    const outages: OutageReport[] = []
    for (let n = 1; n <= options.outages; n++) {
      await untilAllPublishing(writers, rest, sdk, relay)
      // the connected clients publish to the probe topic now and again while the service is down: then their
      // write access is still known, but the topic's path is not (core/resources/resolver.ts keeps it 5 s)
      const primed = Date.now()
      await Promise.all(watchers.map((w) => timed(publishProbe(w, prober))))
      await sleep(Math.max(options.upMs, PATH_CACHE_MS + 1000 - (Date.now() - primed)))
      const report = emptyReport()
      probe.report = report
      probe.upSince = Infinity
      relay.sent = 0
      report.keptAt[0] = writers[0]!.acked.at(-1) ?? 0
      await service.halt()
      probe.downSince = Date.now()
      probe.phase = 'down'
      const probing = probeConnections(servers, watchers, prober, n, options.downMs)
      await sleep(options.downMs)
      report.probes = await probing
      report.relaySent = relay.sent
      probe.phase = 'recovering'
      probe.upSince = Date.now()
      report.keptAt[1] = writers[0]!.acked.at(-1) ?? 0
      await service.resume()
      const backAt = Date.now()
      report.downMs = backAt - probe.downSince
      await untilAllPublishing(writers, rest, sdk, relay)
      report.recoveryMs = Date.now() - backAt
      probe.phase = 'up'
      outages.push(report)
      log(describeOutage(n, options.service, report))
    }
    await untilAllPublishing(writers, rest, sdk, relay)
    running = false
    await Promise.all([...loops, ...restLoops])
    await eventually(() => writers[0]!.acked.every((n) => keeper.heard.has(n)), 10_000)
    await Promise.all(clients.map((c) => c.endAsync()))
    const survived = servers.every((s, i) => s.child.pid === pids[i] && s.child.exitCode === null)
    const result: ServiceRestartResult = {
      outages,
      acknowledged: 0,
      stored: 0,
      lost: [],
      doubled: [],
      unknown: [],
      restAcknowledged: rest.acked.length,
      sdkAcknowledged: sdk.acked.length,
      sdkErrors: sdk.errors,
      keeperMissing: writers[0]!.acked.filter((n) => !keeper.heard.has(n)),
      warnings: warnings(servers),
      survived,
    }
    for (let i = 0; i < writers.length; i++)
      tally(await storedCounts(servers[0]!, keys[i]!, `acme/c-${i}/level`), writers[i]!, `c-${i}`, result)
    tally(await storedCounts(servers[0]!, restKey, restPath), rest, 'rest', result)
    tally(await storedCounts(servers[0]!, probeKey, probePath), prober, 'probe', result)
    tally(await storedCounts(servers[0]!, sdkKey, sdkPath), sdk, 'sdk', result)
    return result
  } finally {
    running = false
    for (const c of clients) c.end(true)
    await sdkClient?.close(1000).catch(() => {})
    await Promise.all(servers.map((s) => s.stop()))
    await redis?.stop()
    await pg.stop()
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
  }
}

async function provisionOn(dbUrl: string, controllers: number, dirs: string[]): Promise<string[]> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tendril-restarts-'))
  dirs.push(dataDir)
  const config = loadConfig({ flags: { db: dbUrl, 'data-dir': dataDir, 'bcrypt-cost': 4 }, env: {} })
  const core = await openCore(config, createLogger({ logLevel: 'silent', logFormat: 'json' }))
  try {
    return await provision(core, controllers)
  } finally {
    await core.close() // the server processes are the only writers, as in production
  }
}

async function startInstance(
  dbUrl: string,
  redis: RedisServer | undefined,
  i: number,
  dirs: string[],
): Promise<RunningServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tendril-restarts-'))
  dirs.push(dataDir)
  const args = ['--db', dbUrl, '--data-dir', dataDir]
  if (redis) args.push('--redis', redis.url, '--broker-id', `instance-${i}`)
  const server = await startServerWithMqtt(args)
  process.once('exit', () => server.child.kill('SIGKILL')) // also when the scenario itself crashes
  return server
}

/** MQTT.js reconnecting by itself, also after a refused CONNECT (as rhizo's paho client does). */
function connect(server: RunningServer, key: string, clientId: string, probe: Probe, clean = true): MqttClient {
  const client = mqtt.connect(`mqtt://127.0.0.1:${server.mqttPort}`, {
    username: 'key',
    password: key,
    clientId,
    clean,
    reconnectPeriod: 100,
    connectTimeout: 5000,
    reconnectOnConnackError: true,
  })
  client.on('error', (err) => {
    const code = (err as { code?: unknown }).code
    if (probe.phase !== 'up' && probe.report && typeof code === 'number')
      probe.report.refusals[code] = (probe.report.refusals[code] ?? 0) + 1
  })
  client.on('close', () => {
    if (probe.phase !== 'up' && probe.report) probe.report.closes++
  })
  return client
}

/** Counts the PUBACKs that arrive while the service is down. */
function trackAcks(w: Writer, probe: Probe, kept: boolean): void {
  const push = w.acked.push.bind(w.acked)
  w.acked.push = (...values: number[]) => {
    if (probe.phase === 'down' && probe.report) probe.report.pubacksWhileDown += values.length
    if (probe.phase === 'down' && probe.report && kept) probe.report.keptPubacksWhileDown += values.length
    return push(...values)
  }
}

/** A persistent session with a QoS 1 subscription to c-0's values, on the last instance; what it heard. */
async function keepSession(server: RunningServer, key: string, clients: MqttClient[]) {
  const client = connect(server, key, 'keeper', { phase: 'up', downSince: 0, upSince: 0 }, false)
  clients.push(client)
  const heard = new Set<number>()
  client.on('message', (_topic, payload) => heard.add(Number(payload.toString())))
  await client.subscribeAsync('acme/c-0/level', { qos: 1 })
  return { heard }
}

interface Relay {
  /** messages sent while the service was down */
  sent: number
  /** when the subscriber on the last instance last heard one */
  heardThereAt: number
}

/**
 * QoS 0 messages on a sub-topic (only relayed, never stored) published on the first instance, heard by a subscriber
 * there and one on the last instance.
 */
async function startRelay(
  servers: RunningServer[],
  keys: string[],
  probe: Probe,
  clients: MqttClient[],
  running: () => boolean,
): Promise<Relay> {
  const topic = 'acme/c-0/chat'
  const relay: Relay = { sent: 0, heardThereAt: 0 }
  const listen = async (server: RunningServer, clientId: string, count: (r: OutageReport) => void) => {
    const client = connect(server, keys[1] ?? keys[0]!, clientId, { phase: 'up', downSince: 0, upSince: 0 })
    clients.push(client)
    await client.subscribeAsync(topic, { qos: 0 })
    client.on('message', (_topic, payload) => {
      if (clientId === 'relay-there') relay.heardThereAt = Date.now()
      if (!probe.report) return
      if (probe.phase === 'down') return count(probe.report)
      // sent while down, heard once the service was back
      const sentAt = Number(payload.toString())
      if (clientId === 'relay-there' && sentAt >= probe.downSince && sentAt < probe.upSince) probe.report.relayedLate++
    })
  }
  await listen(servers[0]!, 'relay-here', (r) => r.relayedHere++)
  await listen(servers.at(-1)!, 'relay-there', (r) => r.relayedThere++)
  const publisher = connect(servers[0]!, keys[0]!, 'relay-publisher', { phase: 'up', downSince: 0, upSince: 0 })
  clients.push(publisher)
  const timer = setInterval(() => {
    if (!running()) return clearInterval(timer)
    if (!publisher.connected) return
    if (probe.phase === 'down') relay.sent++
    publisher.publish(topic, String(Date.now()), { qos: 0 })
  }, RELAY_EVERY_MS)
  return relay
}

/** Writes numbered values one at a time; a value counts once answered 2xx. */
async function restWriter(
  server: RunningServer,
  key: string,
  path: string,
  rest: { acked: number[]; sent: number; lastOk: number },
  probe: Probe,
  running: () => boolean,
): Promise<void> {
  for (let n = 1; running(); n++) {
    rest.sent = n
    const body = new URLSearchParams({ data: Buffer.from(String(n)).toString('base64') })
    const ok = await request(server, `/api/v1/resources/${path}`, key, probe, 'writes', { method: 'PUT', body })
    if (ok) {
      rest.acked.push(n)
      rest.lastOk = Date.now()
    }
    await sleep(REST_PAUSE_MS)
  }
}

/** Reads a sequence's latest value and its folder's listing, in turn. */
async function restReader(server: RunningServer, key: string, probe: Probe, running: () => boolean): Promise<void> {
  for (let n = 0; running(); n++) {
    const path = n % 2 ? '/api/v1/resources/acme/c-0/level' : '/api/v1/resources/acme/c-0'
    await request(server, path, key, probe, 'reads', {})
    await sleep(REST_PAUSE_MS)
  }
}

/** One request, bounded; while the service is down its answer is tallied. True when answered 2xx. */
async function request(
  server: RunningServer,
  path: string,
  key: string,
  probe: Probe,
  kind: 'reads' | 'writes',
  init: RequestInit,
): Promise<boolean> {
  const during = probe.phase === 'down' ? probe.report : undefined
  const started = Date.now()
  let status: string
  let ok = false
  try {
    const res = await fetch(`${server.url}${path}`, {
      ...init,
      headers: { authorization: basicAuth(key) },
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    })
    const text = await res.text()
    status = String(res.status)
    ok = res.ok
    if (during && !res.ok) checkErrorBody(during[kind], res.status, text)
  } catch (err) {
    status = (err as Error).name === 'TimeoutError' ? 'timeout' : 'error'
  }
  if (!during) return ok
  const tallied = during[kind]
  tallied.statuses[status] = (tallied.statuses[status] ?? 0) + 1
  tallied.maxMs = Math.max(tallied.maxMs, Date.now() - started)
  return ok
}

function checkErrorBody(tallied: RestTally, status: number, text: string): void {
  let code: unknown
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } }
    if (typeof body.error?.message === 'string') code = body.error.code
  } catch {
    // not JSON: a bad body
  }
  if (typeof code !== 'string') return void tallied.badBodies.push(`${status} ${text.slice(0, 80)}`)
  tallied.codes[code] = (tallied.codes[code] ?? 0) + 1
  if (status >= 500 && status !== 503) tallied.badBodies.push(`${status} ${code}`)
}

interface Prober {
  key: string
  topic: string
  acked: number[]
  sent: number
}

/** How long a probe waits for each answer (CONNACK, PUBACK, SUBACK). */
const PROBE_WAIT_MS = 4000

/**
 * New connections while the service is down, half a second into the outage: on each instance, a clean session that
 * publishes a QoS 1 value and subscribes, and a persistent one.
 */
async function probeConnections(
  servers: RunningServer[],
  watchers: MqttClient[],
  prober: Prober,
  n: number,
  downMs: number,
) {
  await sleep(Math.min(500, downMs / 4))
  const probes = servers.flatMap((server, i) => [
    ...[true, false].map((clean) => probeOne(server, i, clean, prober, `probe-${n}-${i}-${clean ? 'clean' : 'kept'}`)),
    probeConnected(watchers[i]!, i, n, prober),
  ])
  return Promise.all(probes)
}

/**
 * A client connected before the outage publishes a QoS 1 value to a topic it has not used (no cached lookup: stored or
 * refused, never acknowledged unstored), then subscribes.
 */
async function probeConnected(client: MqttClient, instance: number, n: number, prober: Prober): Promise<ProbeResult> {
  if (!client.connected) return { instance, kind: 'connected', connack: 'not connected' }
  const result: ProbeResult = { instance, kind: 'connected', connack: 0 }
  result.puback = await timed(publishProbe(client, prober))
  result.suback = await timed(client.subscribeAsync(`acme/c-0/watch-${n}`))
  return result
}

/** The next numbered value to the probe sequence; acknowledged whenever its PUBACK comes, also after a reconnection. */
function publishProbe(client: MqttClient, prober: Prober): Promise<unknown> {
  const value = ++prober.sent
  const publishing = client.publishAsync(prober.topic, String(value), { qos: 1 })
  publishing.then(
    () => prober.acked.push(value),
    () => {},
  )
  return publishing
}

async function probeOne(server: RunningServer, instance: number, clean: boolean, prober: Prober, clientId: string) {
  const result: ProbeResult = { instance, kind: clean ? 'clean' : 'persistent', connack: 'timeout' }
  const client = mqtt.connect(`mqtt://127.0.0.1:${server.mqttPort}`, {
    username: 'key',
    password: prober.key,
    clientId,
    clean,
    reconnectPeriod: 0,
    connectTimeout: PROBE_WAIT_MS,
  })
  client.on('error', () => {})
  try {
    result.connack = await timed(
      new Promise<void>((resolve, reject) => {
        client.once('connect', () => resolve())
        client.once('error', (err) => reject(new Error(`refused ${(err as { code?: number }).code ?? err.message}`)))
        client.once('close', () => reject(new Error('closed')))
      }),
    )
    if (typeof result.connack === 'string' || !clean) return result
    result.puback = await timed(publishProbe(client, prober))
    result.suback = await timed(client.subscribeAsync('acme/c-0/chat', { qos: 0 }))
    return result
  } finally {
    client.end(true)
  }
}

/** ms until the promise settles, or what stopped it ("timeout" after PROBE_WAIT_MS). */
async function timed(promise: Promise<unknown>): Promise<number | string> {
  const started = Date.now()
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('timeout'), PROBE_WAIT_MS)))
  try {
    const outcome = await Promise.race([promise.then(() => Date.now() - started), timeout])
    return outcome
  } catch (err) {
    return (err as Error).message
  } finally {
    clearTimeout(timer)
  }
}

interface SdkWriter {
  client: TendrilClient
  loop: Promise<void>
  acked: number[]
  sent: number
  errors: string[]
}

/** A controller on the controllers SDK (memory queue), updating numbered values; acknowledged once flush() resolved. */
async function sdkWriter(server: RunningServer, key: string, controllerPath: string, running: () => boolean) {
  const client = await connectSdk({
    server: server.url,
    mqttUrl: `mqtt://127.0.0.1:${server.mqttPort}`,
    key,
    controllerPath,
    queueDir: false,
    watchdogSeconds: 0,
    reconnect: { minMs: 100, maxMs: 1000 },
  })
  const writer: SdkWriter = { client, loop: Promise.resolve(), acked: [], sent: 0, errors: [] }
  client.on('error', (err) => writer.errors.push(`${err.name}: ${err.message}`))
  writer.loop = (async () => {
    while (running()) {
      const from = writer.sent + 1
      for (let i = 0; i < SDK_FLUSH_EVERY; i++) await client.sequences.update('level', ++writer.sent)
      await client.flush(60_000)
      for (let n = from; n <= writer.sent; n++) writer.acked.push(n)
      await sleep(REST_PAUSE_MS)
    }
  })().catch((err: Error) => void writer.errors.push(`${err.name}: ${err.message}`)) // seen by untilAllPublishing
  return writer
}

const SDK_FLUSH_EVERY = 5

/** Since now: every controller had a PUBACK, the REST writer a 2xx, the SDK a flush, the relay a message (bounded). */
async function untilAllPublishing(
  writers: Writer[],
  rest: { lastOk: number },
  sdk: SdkWriter,
  relay: Relay,
): Promise<void> {
  const since = Date.now()
  const before = writers.map((w) => w.acked.length)
  const sdkBefore = sdk.acked.length
  const ok = await eventually(
    () =>
      rest.lastOk > since &&
      relay.heardThereAt > since &&
      sdk.acked.length > sdkBefore &&
      writers.every((w, i) => w.acked.length > before[i]!),
    60_000,
  )
  if (!ok) {
    const stuck = [
      ...writers.flatMap((w, i) => (w.acked.length === before[i] ? [`mqtt c-${i}`] : [])),
      ...(rest.lastOk > since ? [] : ['REST']),
      ...(relay.heardThereAt > since ? [] : ['relay to the last instance']),
      ...(sdk.acked.length > sdkBefore ? [] : [`SDK (errors: ${sdk.errors.slice(-3).join('; ') || 'none'})`]),
    ]
    throw new Error(`not writing again within 60 s: ${stuck.join(', ')}`)
  }
}

function emptyReport(): OutageReport {
  const tally = (): RestTally => ({ statuses: {}, maxMs: 0, badBodies: [], codes: {} })
  return {
    downMs: 0,
    recoveryMs: 0,
    pubacksWhileDown: 0,
    keptPubacksWhileDown: 0,
    keptAt: [0, 0],
    closes: 0,
    refusals: {},
    relayedHere: 0,
    relayedThere: 0,
    relaySent: 0,
    relayedLate: 0,
    probes: [],
    reads: tally(),
    writes: tally(),
  }
}

/** Log lines at warn (40) or above, by message, and the first of each (cut short). */
function warnings(servers: RunningServer[]): { counts: Record<string, number>; first: Record<string, string> } {
  const counts: Record<string, number> = {}
  const first: Record<string, string> = {}
  for (const server of servers)
    for (const line of server.output().split('\n')) {
      if (!line.startsWith('{')) continue
      try {
        const entry = JSON.parse(line) as { level?: number; msg?: string; err?: { type?: string; message?: string } }
        if ((entry.level ?? 0) < 40) continue
        const msg = entry.msg ?? '?'
        counts[msg] = (counts[msg] ?? 0) + 1
        const { err, level: _level, msg: _msg, ...rest } = entry
        const error = err ? `${err.type}: ${err.message?.replace(/\s+/g, ' ').slice(-300)} ` : ''
        first[msg] ??= `${msg}: ${error}${JSON.stringify(rest).slice(0, 300)}`
      } catch {
        // not a log line
      }
    }
  return { counts, first }
}

export function describeOutage(n: number, service: Service, r: OutageReport): string {
  const rest = (t: RestTally) =>
    `${JSON.stringify(t.statuses)} max ${t.maxMs} ms${t.badBodies.length ? ` BAD ${t.badBodies.slice(0, 3).join(' | ')}` : ''}`
  return (
    `outage ${n}: ${service} down ${r.downMs} ms, back to full service ${r.recoveryMs} ms later; while down: ` +
    `PUBACKs ${r.pubacksWhileDown} (${r.keptPubacksWhileDown} on the kept topic, c-0 at ${r.keptAt.join('→')}), mqtt closes ${r.closes}, CONNACK refusals ${JSON.stringify(r.refusals)}, ` +
    `relayed ${r.relayedHere}/${r.relaySent} here, ${r.relayedThere}/${r.relaySent} on another instance; ` +
    `REST reads ${rest(r.reads)}, writes ${rest(r.writes)}; relayed late ${r.relayedLate}; ` +
    'CONNACK/PUBACK/SUBACK ms or what instead: ' +
    r.probes
      .map(
        (p) => `#${p.instance} ${p.kind} ${[p.connack, p.puback, p.suback].filter((x) => x !== undefined).join('/')}`,
      )
      .join(', ')
  )
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
