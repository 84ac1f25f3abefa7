// What the hostile-client fault scenarios (issue 21) watch while they attack a real `tendril serve`:
// a bystander's round-trip latency, the server's resident memory, and its log lines by message.
import { readFileSync } from 'node:fs'
import { createOrg, createController } from '../../core/admin.ts'
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { startServerWithMqtt, type RunningServer } from './cli.ts'
import { openTestCore, type Provider } from './core.ts'

export interface Provisioned {
  server: RunningServer
  /** keys of controllers acme/c-0 … acme/c-<n-1> */
  keys: string[]
  bystanderKey: string
  dataDir: string
}

/** A fresh database with org "acme", `controllers` controllers and one bystander, served by a real `tendril serve`. */
export async function serveProvisioned(
  provider: Provider,
  controllers: number,
  args: string[] = [],
): Promise<Provisioned> {
  const core = await openTestCore(provider)
  const dataDir = core.config.dataDir
  await createOrg(core, 'acme')
  const keys: string[] = []
  for (let i = 0; i < controllers; i++) keys.push((await createController(core, `acme/c-${i}`)).key)
  const bystanderKey = (await createController(core, 'acme/bystander')).key
  const dbUrl = core.config.database.url
  await core.close() // the server process is the only writer
  const server = await startServerWithMqtt(['--db', dbUrl, '--data-dir', dataDir, ...args])
  process.once('exit', () => server.child.kill('SIGKILL')) // also when the scenario itself crashes
  return { server, keys, bystanderKey, dataDir }
}

/** The server's resident set size in MB (Linux /proc). */
export function rssMb(server: RunningServer): number {
  const status = readFileSync(`/proc/${server.child.pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN) / 1024
}

/** Counts the server's log lines of level info and above by message (and reason of a closing), from now on. */
export function countLogLines(server: RunningServer): { counts: Map<string, number>; stop(): void } {
  const counts = new Map<string, number>()
  let partial = ''
  const onData = (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n')
    partial = lines.pop()!
    for (const line of lines) {
      if (!line.startsWith('{')) continue
      const entry = JSON.parse(line) as { level: number; msg: string; reason?: string }
      const key = entry.msg === 'mqtt connection closed' ? `${entry.msg}: ${entry.reason?.slice(0, 60)}` : entry.msg
      if (entry.level >= 30) counts.set(key, (counts.get(key) ?? 0) + 1)
    }
  }
  server.child.stdout!.on('data', onData)
  return { counts, stop: () => server.child.stdout!.off('data', onData) }
}

export interface Latency {
  samples: number
  p50: number
  p99: number
  max: number
}

export function percentiles(ms: number[]): Latency {
  const sorted = [...ms].sort((a, b) => a - b)
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN
  return { samples: sorted.length, p50: at(0.5), p99: at(0.99), max: sorted.at(-1) ?? NaN }
}

export interface Bystander {
  /** round trips (ms) measured since the last call (and starts a new window) */
  take(): number[]
  /** problems seen: a disconnect, or a gap of more than `stallMs` without a message while sending */
  problems: string[]
  stop(): Promise<void>
}

/**
 * An authenticated subscriber and publisher pair (MQTT.js, bystander-worker.ts) in a process of its
 * own, so the attack's load in this one does not delay its timers: the publisher sends a numbered
 * message every `everyMs`, the subscriber times each round trip.
 */
export async function startBystander(url: string, key: string, everyMs = 20, stallMs = 5000): Promise<Bystander> {
  const worker = fork(
    fileURLToPath(new URL('./bystander-worker.ts', import.meta.url)),
    [JSON.stringify({ url, key, everyMs, stallMs })],
    {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  )
  let samples: number[] = []
  const problems: string[] = []
  let collected: () => void = () => {}
  worker.on('message', (m: { samples?: number[]; problem?: string; ready?: boolean; stopped?: boolean }) => {
    if (m.samples) samples.push(...m.samples)
    if (m.problem) problems.push(m.problem)
    if (m.stopped) collected()
  })
  await new Promise<void>((resolve, reject) => {
    worker.on('message', (m: { ready?: boolean }) => m.ready && resolve())
    worker.once('error', reject)
    worker.once('exit', (code) => reject(new Error(`bystander exited (${code}) before it was ready`)))
  })
  return {
    take() {
      const taken = samples
      samples = []
      return taken
    },
    problems,
    async stop() {
      const stopped = new Promise<void>((resolve) => (collected = resolve))
      worker.send('stop')
      await Promise.race([stopped, new Promise((r) => setTimeout(r, 5000))])
      worker.kill('SIGKILL')
    },
  }
}

export const fmtLatency = (l: Latency) =>
  `p50 ${l.p50.toFixed(1)} ms, p99 ${l.p99.toFixed(1)} ms, max ${l.max.toFixed(0)} ms (${l.samples} round trips)`

/** Log lines that say a connection was closed or refused, and why. */
export function closingLines(counts: Record<string, number>): number {
  return Object.entries(counts)
    .filter(([msg]) => msg.startsWith('mqtt connection closed') || msg.startsWith('mqtt connection refused'))
    .reduce((sum, [, n]) => sum + n, 0)
}
