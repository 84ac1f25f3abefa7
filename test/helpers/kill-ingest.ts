// Fault scenario "kill -9 during ingestion" (issue 21), shared by bench/faults/kill-ingest.ts and its
// short test: real `tendril serve` processes SIGKILLed at random moments and restarted on the same
// data while controllers publish numbered QoS 1 values; then which acknowledged values are stored.
import { existsSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import mqtt, { type MqttClient } from 'mqtt'
import { createController, createOrg } from '../../core/admin.ts'
import { createSequence, findPath } from '../../core/resources/tree.ts'
import { SequenceDataType } from '../../core/resources/types.ts'
import { freePort } from '../harness/ports.ts'
import { startServer, type RunningServer } from './cli.ts'
import type { Core } from '../../core/index.ts'
import type { Resource } from '../../core/db/index.ts'
import { openTestCore, type Provider } from './core.ts'
import { basicAuth, eventually } from './http.ts'

export interface KillIngestOptions {
  provider: Provider
  controllers: number
  kills: number
  /** a kill comes at a random moment this many ms after the controllers are publishing again */
  minUpMs: number
  maxUpMs: number
  log?: (line: string) => void
}

export interface KillIngestResult {
  acknowledged: number
  stored: number
  /** acknowledged values absent from the history: must be none */
  lost: string[]
  /** acknowledged values stored more than once */
  doubled: string[]
  /** values in the history that were never published (must be none) */
  unknown: string[]
  /** SQLite's PRAGMA integrity_check after the last run (undefined on PostgreSQL) */
  integrity?: string
  /** bytes in the SQLite WAL right after each kill: what the restart had to replay */
  walAtKill: number[]
  restartMs: number[]
}

export interface Writer {
  client: MqttClient
  acked: number[]
  sent: number
}

export async function killDuringIngestion(options: KillIngestOptions): Promise<KillIngestResult> {
  const log = options.log ?? (() => {})
  const core = await openTestCore(options.provider)
  const dbUrl = core.config.database.url
  const dataDir = core.config.dataDir
  const keys = await provision(core, options.controllers)
  await core.close() // the server processes are the only writers, as in production
  const mqttPort = await freePort() // kept across restarts: the clients reconnect to the same address
  const args = ['--db', dbUrl, '--data-dir', dataDir, '--mqtt-port', String(mqttPort)]
  let server: RunningServer = await startServer(args)
  const writers: Writer[] = []
  let running = true
  const result: KillIngestResult = {
    acknowledged: 0,
    stored: 0,
    lost: [],
    doubled: [],
    unknown: [],
    walAtKill: [],
    restartMs: [],
  }
  try {
    for (let i = 0; i < keys.length; i++) writers.push({ client: connect(mqttPort, keys[i]!, i), acked: [], sent: 0 })
    const loops = writers.map((w, i) => publishLoop(w, `acme/c-${i}/level`, () => running))
    for (let kill = 1; kill <= options.kills; kill++) {
      await untilAllPublishing(writers)
      await sleep(options.minUpMs + Math.random() * (options.maxUpMs - options.minUpMs))
      const ackedAtKill = total(writers)
      await server.stop('SIGKILL')
      const wal = join(dataDir, 'tendril.db-wal')
      if (options.provider === 'sqlite') result.walAtKill.push(existsSync(wal) ? statSync(wal).size : 0)
      const started = Date.now()
      server = await startServer(args)
      result.restartMs.push(Date.now() - started)
      log(`kill ${kill}: SIGKILL after ${ackedAtKill} values acknowledged; restarted in ${result.restartMs.at(-1)} ms`)
    }
    await untilAllPublishing(writers)
    running = false
    await Promise.all(loops)
    await Promise.all(writers.map((w) => w.client.endAsync()))
    await check(server, keys, writers, result)
    await server.stop()
    if (options.provider === 'sqlite') result.integrity = integrityCheck(join(dataDir, 'tendril.db'))
    return result
  } finally {
    running = false
    for (const w of writers) w.client.end(true)
    await server.stop('SIGKILL')
    rmSync(dataDir, { recursive: true, force: true })
  }
}

/** Org acme; controllers acme/c-i, each with a numeric sequence `level` and what `more` adds to its folder. */
export async function provision(
  core: Core,
  controllers: number,
  more: (folder: Resource) => Promise<unknown> = async () => {},
): Promise<string[]> {
  await createOrg(core, 'acme')
  const keys: string[] = []
  for (let i = 0; i < controllers; i++) {
    const { key } = await createController(core, `acme/c-${i}`)
    const folder = (await findPath(core.db, `/acme/c-${i}`))!.at(-1)!
    await createSequence(core.db, folder, 'level', { dataType: SequenceDataType.numeric })
    await more(folder)
    keys.push(key)
  }
  return keys
}

/** MQTT.js reconnects by itself and sends its unacknowledged QoS 1 publishes again. */
export function connect(port: number, key: string, i: number): MqttClient {
  return mqtt.connect(`mqtt://127.0.0.1:${port}`, {
    username: 'key',
    password: key,
    clientId: `c-${i}`,
    reconnectPeriod: 100,
    connectTimeout: 5000,
  })
}

/** One value in flight per controller, numbered 1, 2, …; a value counts once publishAsync resolved (PUBACK). */
export async function publishLoop(w: Writer, topic: string, running: () => boolean): Promise<void> {
  for (let n = 1; running(); n++) {
    w.sent = n
    await w.client.publishAsync(topic, String(n), { qos: 1 })
    w.acked.push(n)
  }
}

const total = (writers: Writer[]) => writers.reduce((sum, w) => sum + w.acked.length, 0)

/** Every controller has had a value acknowledged since now (bounded). */
export async function untilAllPublishing(writers: Writer[]): Promise<void> {
  const before = writers.map((w) => w.acked.length)
  const ok = await eventually(() => writers.every((w, i) => w.acked.length > before[i]!), 30_000)
  if (!ok) throw new Error('controllers did not publish again within 30 s')
}

export async function check(
  server: RunningServer,
  keys: string[],
  writers: Writer[],
  result: KillIngestResult,
): Promise<void> {
  for (let i = 0; i < writers.length; i++)
    tally(await storedCounts(server, keys[i]!, `acme/c-${i}/level`), writers[i]!, `c-${i}`, result)
}

/** How many times each value is in a sequence's history, read over REST. */
export async function storedCounts(server: { url: string }, key: string, path: string): Promise<Map<number, number>> {
  const res = await fetch(`${server.url}/api/v1/resources/${path}?count=100000`, {
    headers: { authorization: basicAuth(key) },
  })
  const text = await res.text()
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${text}`)
  const counts = new Map<number, number>()
  for (const v of (JSON.parse(text) as { values: unknown[] }).values)
    counts.set(Number(v), (counts.get(Number(v)) ?? 0) + 1)
  return counts
}

/** Adds one writer's acknowledged values and what the history holds to the result's counts. */
export function tally(
  counts: Map<number, number>,
  w: Pick<Writer, 'acked' | 'sent'>,
  name: string,
  result: Pick<KillIngestResult, 'acknowledged' | 'stored' | 'lost' | 'doubled' | 'unknown'>,
): void {
  result.acknowledged += w.acked.length
  for (const [value, count] of counts) {
    result.stored += count
    if (!Number.isInteger(value) || value < 1 || value > w.sent) result.unknown.push(`${name}:${value}`)
  }
  for (const n of w.acked) {
    const count = counts.get(n) ?? 0
    if (count === 0) result.lost.push(`${name}:${n}`)
    if (count > 1) result.doubled.push(`${name}:${n}×${count}`)
  }
}

export function integrityCheck(file: string): string {
  const db = new Database(file)
  try {
    return (db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check).join('; ')
  } finally {
    db.close()
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
