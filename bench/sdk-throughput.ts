// Values per second one controllers-SDK client sustains into Tendril over MQTT/TCP (stored: revision
// rows are counted, not publishes), against raw MQTT.js sending the same values as the same CSV
// payloads (500 per publish, 8 in flight) in the same run; and the memory of an SDK process holding
// 100,000 queued updates (offline). The client runs in a child process; Tendril in this one.
//   node --import tsx bench/sdk-throughput.ts [--rounds 3] [--values 50000] [--queued 100000] [--provider
//   sqlite|postgresql]
import './lib/as-served.ts'
import { parseArgs } from 'node:util'
import { createController, createOrg } from '../core/admin.ts'
import { createSequence, findPath } from '../core/resources/tree.ts'
import { SequenceDataType } from '../core/resources/types.ts'
import { startTendril } from './lib/brokers.ts'
import { startBenchPostgres } from './lib/postgres.ts'
import { fmt, machine, median, printTable, ratio } from './lib/stats.ts'
import { startWorker } from './lib/worker.ts'
import type { SdkBenchJob, SdkBenchResult } from './sdk-throughput-worker.ts'

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    values: { type: 'string', default: '50000' },
    queued: { type: 'string', default: '100000' },
    provider: { type: 'string', default: 'sqlite' },
  },
})
const provider = args.provider === 'postgresql' ? 'postgresql' : 'sqlite'
const SEQUENCES = Array.from({ length: 10 }, (_, i) => `sensor-${i}`)

console.log(machine())
const pg = provider === 'postgresql' ? await startBenchPostgres() : null
const worker = startWorker<SdkBenchJob, SdkBenchResult>(new URL('./sdk-throughput-worker.ts', import.meta.url))
const rates: Record<string, number[]> = {
  'SDK, disk queue': [],
  'SDK, memory queue': [],
  'raw MQTT.js (reference)': [],
}
let complete = true
try {
  for (let round = 0; round < Number(args.rounds); round++) {
    for (const name of Object.keys(rates)) {
      // default settings (publish rate limit included): what a deployment runs with
      const tendril = await startTendril(provider)
      try {
        await createOrg(tendril.core, 'bench')
        const { key, path } = await createController(tendril.core, 'bench/site/pi-1')
        const folder = (await findPath(tendril.core.db, path))!.at(-1)!
        for (const s of SEQUENCES)
          await createSequence(tendril.core.db, folder, s, { dataType: SequenceDataType.numeric, decimalPlaces: 1 })
        const before = await tendril.core.db.resourceRevision.count()
        const values = Number(args.values)
        const job: SdkBenchJob = name.startsWith('raw')
          ? {
              kind: 'raw',
              mqttUrl: tendril.tcpUrl,
              key,
              topic: path.slice(1),
              sequences: SEQUENCES,
              values,
              perMessage: 500,
              window: 8,
            }
          : {
              kind: 'sdk',
              url: tendril.wsUrl.replace('ws://', 'http://').replace(/\/mqtt$/, ''),
              mqttUrl: tendril.tcpUrl,
              key,
              controllerPath: path,
              sequences: SEQUENCES,
              values,
              queue: name.includes('disk') ? 'disk' : 'memory',
            }
        const result = await worker.run(job, 900_000)
        const stored = (await tendril.core.db.resourceRevision.count()) - before
        if (stored !== result.sent) complete = false
        rates[name]!.push((stored / result.ms) * 1000)
        console.log(
          `round ${round + 1}, ${name}: sent ${result.sent}, stored ${stored}, ${fmt(result.ms / 1000, 2)} s, client CPU ${fmt(result.cpuMs! / 1000, 2)} s`,
        )
      } finally {
        await tendril.stop()
      }
    }
  }
  const reference = median(rates['raw MQTT.js (reference)']!)
  console.log(
    `\nvalues stored per second over TCP into ${provider}, one client (median of ${args.rounds}); all stored: ${complete ? 'yes' : 'NO'}`,
  )
  printTable(
    ['client', 'values/s', 'vs raw', 'rounds'],
    Object.entries(rates).map(([name, r]) => [
      name,
      fmt(median(r), 0),
      ratio(median(r), reference),
      r.map((x) => fmt(x, 0)).join(' '),
    ]),
  )

  const rows: string[][] = []
  for (const queue of ['disk', 'memory'] as const) {
    // a fresh process each, so "RSS before" is a new SDK process's
    const fresh = startWorker<SdkBenchJob, SdkBenchResult>(new URL('./sdk-throughput-worker.ts', import.meta.url))
    const r = await fresh
      .run({ kind: 'queued', values: Number(args.queued), queue }, 600_000)
      .finally(() => fresh.stop())
    rows.push([
      `${queue} queue`,
      fmt(r.sent, 0),
      fmt(r.rssBeforeMb!, 0),
      fmt(r.rssAfterMb!, 0),
      fmt(r.heapBeforeMb!, 0),
      fmt(r.heapAfterMb!, 0),
      fmt((r.sent / r.ms) * 1000, 0),
    ])
  }
  console.log(`\nSDK process memory with ${fmt(Number(args.queued), 0)} updates queued while offline`)
  printTable(['queue', 'queued', 'RSS before MB', 'RSS after MB', 'heap before MB', 'heap after MB', 'queued/s'], rows)
} finally {
  await worker.stop()
  await pg?.stop()
}
