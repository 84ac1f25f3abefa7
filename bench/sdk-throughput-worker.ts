// Child process of bench/sdk-throughput.ts: one controller on the controllers SDK (on-disk queue)
// sending sequence values, the same values through raw MQTT.js as a reference, and the memory of a
// process holding 100,000 queued updates.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import v8 from 'node:v8'
import vm from 'node:vm'
import mqtt from 'mqtt'
import { connect } from '@tendril/controllers-sdk'
import { serveJobs } from './lib/worker.ts'

export type SdkBenchJob =
  | {
      kind: 'sdk'
      url: string
      mqttUrl: string
      key: string
      controllerPath: string
      sequences: string[]
      values: number
      queue: 'disk' | 'memory'
    }
  | {
      kind: 'raw'
      mqttUrl: string
      key: string
      topic: string
      sequences: string[]
      values: number
      perMessage: number
      window: number
    }
  | { kind: 'queued'; values: number; queue: 'disk' | 'memory' }

export interface SdkBenchResult {
  sent: number
  ms: number
  /** CPU time this (client) process used, ms */
  cpuMs?: number
  /** resident set size of this process, MB: before and after queueing (kind 'queued') */
  rssBeforeMb?: number
  rssAfterMb?: number
  heapBeforeMb?: number
  heapAfterMb?: number
}

// a full collection before each memory reading, so garbage does not count as what the queue holds
v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc') as () => void

const base = Date.UTC(2021, 0, 1)
const stamp = (n: number) => new Date(base + n * 1000)
const mb = (bytes: number) => bytes / 2 ** 20

async function sdk(job: Extract<SdkBenchJob, { kind: 'sdk' }>): Promise<SdkBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'tendril-sdk-bench-'))
  const client = await connect({
    server: job.url,
    mqttUrl: job.mqttUrl,
    key: job.key,
    controllerPath: job.controllerPath,
    queueDir: job.queue === 'disk' ? join(dir, 'q') : false,
    watchdogSeconds: 0,
  })
  try {
    const started = performance.now()
    const cpu = process.cpuUsage()
    // the way a program producing fast would call it: without awaiting each update
    const CHUNK = 1000
    for (let from = 0; from < job.values; from += CHUNK) {
      const writes: Promise<void>[] = []
      for (let n = from; n < Math.min(job.values, from + CHUNK); n++)
        writes.push(
          client.sequences.update(job.sequences[n % job.sequences.length]!, (n % 1000) / 10, { timestamp: stamp(n) }),
        )
      await Promise.all(writes)
    }
    await client.flush(600_000)
    const used = process.cpuUsage(cpu)
    return { sent: job.values, ms: performance.now() - started, cpuMs: (used.user + used.system) / 1000 }
  } finally {
    await client.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

async function raw(job: Extract<SdkBenchJob, { kind: 'raw' }>): Promise<SdkBenchResult> {
  const client = await mqtt.connectAsync(job.mqttUrl, { username: 'key', password: job.key, reconnectPeriod: 0 })
  const messages = Math.ceil(job.values / job.perMessage)
  let next = 0
  const started = performance.now()
  const cpu = process.cpuUsage()
  const lane = async () => {
    while (next < messages) {
      const m = next++
      const lines: string[] = []
      for (let n = m * job.perMessage; n < Math.min(job.values, (m + 1) * job.perMessage); n++) {
        lines.push(`s,${job.sequences[n % job.sequences.length]},${stamp(n).toISOString()},${(n % 1000) / 10}`)
      }
      await client.publishAsync(job.topic, lines.join('\n'), { qos: 1 })
    }
  }
  await Promise.all(Array.from({ length: job.window }, lane))
  const ms = performance.now() - started
  const used = process.cpuUsage(cpu)
  await client.endAsync()
  return { sent: job.values, ms, cpuMs: (used.user + used.system) / 1000 }
}

// Offline from the start (nothing listens on port 9 of loopback): everything stays queued.
async function queued(job: Extract<SdkBenchJob, { kind: 'queued' }>): Promise<SdkBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'tendril-sdk-bench-'))
  gc()
  const { rss: rssBefore, heapUsed: heapBefore } = process.memoryUsage()
  const client = await connect({
    server: 'http://127.0.0.1:9',
    mqttUrl: 'mqtt://127.0.0.1:9',
    key: 'tdl_offline',
    controllerPath: '/bench/pi',
    queueDir: job.queue === 'disk' ? join(dir, 'q') : false,
    connectTimeoutMs: 1000,
    reconnect: { minMs: 60_000 },
  })
  try {
    const started = performance.now()
    // as a program reading sensors would: a chunk at a time, not 100,000 calls in flight at once
    for (let from = 0; from < job.values; from += 1000) {
      const writes: Promise<void>[] = []
      for (let n = from; n < Math.min(job.values, from + 1000); n++)
        writes.push(client.sequences.update(`sensor-${n % 10}`, (n % 1000) / 10, { timestamp: stamp(n) }))
      await Promise.all(writes)
    }
    const ms = performance.now() - started
    gc()
    const usage = process.memoryUsage()
    if (client.queue.size !== job.values) throw new Error(`expected ${job.values} queued, found ${client.queue.size}`)
    return {
      sent: job.values,
      ms,
      rssBeforeMb: mb(rssBefore),
      rssAfterMb: mb(usage.rss),
      heapBeforeMb: mb(heapBefore),
      heapAfterMb: mb(usage.heapUsed),
    }
  } finally {
    await client.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

serveJobs<SdkBenchJob, SdkBenchResult>(async (job) =>
  job.kind === 'sdk' ? sdk(job) : job.kind === 'raw' ? raw(job) : queued(job),
)
