// Sustained sequence ingestion over MQTT into SQLite and PostgreSQL: controllers publish rhizo CSV
// lines at QoS 1 (a PUBACK means stored); the figure is values stored per second, and the count
// stored is checked against the count sent. Load runs in a child process.
// --with-relay: also the broker's QoS 0 relay throughput (4 publishers -> 1 subscriber on a
// sub-topic, a second child process) idle and while the ingestion runs, and their ratio (issue 4's
// target: relay under ingestion >= 0.5x idle).
// --entry-ids: each message numbered as the controllers SDK numbers its entries (stored once: replays.ts).
//   node --import tsx bench/mqtt-ingest.ts [--rounds 3] [--values 60000] [--controllers 10] [--per-message 10]
//   [--window 8] [--with-relay] [--entry-ids] [--only sqlite|postgresql]
import './lib/as-served.ts'
import { parseArgs } from 'node:util'
import { createController, createOrg } from '../core/admin.ts'
import { createSequence, findPath } from '../core/resources/tree.ts'
import { SequenceDataType } from '../core/resources/types.ts'
import { startTendril } from './lib/brokers.ts'
import type { IngestJob, IngestResult } from './lib/ingest-worker.ts'
import { startBenchPostgres } from './lib/postgres.ts'
import { fmt, machine, median, printTable } from './lib/stats.ts'
import { startWorker } from './lib/worker.ts'
import type { ThroughputJob, ThroughputResult } from './lib/throughput-worker.ts'

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    values: { type: 'string', default: '60000' },
    controllers: { type: 'string', default: '10' },
    'per-message': { type: 'string', default: '10' },
    window: { type: 'string', default: '8' },
    'with-relay': { type: 'boolean', default: false },
    'entry-ids': { type: 'boolean', default: false },
    only: { type: 'string' },
  },
})
const WITH_RELAY = args['with-relay']
// 64 bytes, as mqtt-throughput.ts
const RELAY_PAYLOAD = JSON.stringify({ temp: { v: 21.5, unit: 'C', sensor: 'greenhouse-north-0001' } })
const SEQUENCES_PER_CONTROLLER = 10

console.log(machine())
const pg = await startBenchPostgres()
const worker = startWorker<IngestJob, IngestResult>(new URL('./lib/ingest-worker.ts', import.meta.url))
const relayWorker = WITH_RELAY
  ? startWorker<ThroughputJob, ThroughputResult>(new URL('./lib/throughput-worker.ts', import.meta.url))
  : undefined
const rows: string[][] = []
const relayRows: string[][] = []
try {
  for (const provider of (['sqlite', 'postgresql'] as const).filter((p) => !args.only || p === args.only)) {
    const rates: number[] = []
    const relay = { idle: [] as number[], busy: [] as number[], overlap: [] as number[] }
    let complete = true
    for (let round = 0; round < Number(args.rounds); round++) {
      const tendril = await startTendril(provider, { 'mqtt-publish-rate': 0 })
      try {
        await createOrg(tendril.core, 'bench')
        const controllers: IngestJob['controllers'] = []
        for (let c = 0; c < Number(args.controllers); c++) {
          const { key, path } = await createController(tendril.core, `bench/site/pi-${c}`)
          const folder = (await findPath(tendril.core.db, path))!.at(-1)!
          const sequences = Array.from({ length: SEQUENCES_PER_CONTROLLER }, (_, s) => `sensor-${s}`)
          for (const name of sequences)
            await createSequence(tendril.core.db, folder, name, {
              dataType: SequenceDataType.numeric,
              decimalPlaces: 1,
            })
          controllers.push({ key, topic: path.slice(1), sequences })
        }
        let relayJob: ThroughputJob | undefined
        if (relayWorker) {
          const { key, path } = await createController(tendril.core, 'bench/site/relay')
          relayJob = {
            url: tendril.tcpUrl,
            topic: `${path.slice(1)}/raw`,
            auth: { username: 'key', password: key },
            publishers: 4,
            messages: 40_000,
            payload: RELAY_PAYLOAD,
            maxMs: 3000,
            idleMs: 5000,
          }
          await relayWorker.run({ ...relayJob, messages: 10_000 }, 120_000) // warm-up
          relay.idle.push((await relayWorker.run(relayJob, 120_000)).perSecond)
        }
        const before = await tendril.core.db.resourceRevision.count()
        const ingesting = worker.run(
          {
            url: tendril.tcpUrl,
            controllers,
            values: Number(args.values),
            perMessage: Number(args['per-message']),
            window: Number(args.window),
            entryIds: args['entry-ids'],
          },
          600_000,
        )
        if (relayWorker && relayJob) {
          // the relay starts once the ingestion is under way; overlap says whether it also ended before it
          let ingestionDone = false
          void ingesting.then(
            () => (ingestionDone = true),
            () => {},
          )
          await new Promise((r) => setTimeout(r, 1000))
          const busy = await relayWorker.run(relayJob, 120_000)
          relay.busy.push(busy.perSecond)
          relay.overlap.push(ingestionDone ? 0 : 1)
        }
        const result = await ingesting
        const stored = (await tendril.core.db.resourceRevision.count()) - before
        if (stored !== result.sent) complete = false
        rates.push((stored / result.ms) * 1000)
        console.log(
          `${provider} round ${round + 1}: sent ${result.sent}, stored ${stored}, ${fmt(result.ms / 1000, 2)} s`,
        )
      } finally {
        await tendril.stop()
      }
    }
    rows.push([provider, fmt(median(rates), 0), complete ? 'yes' : 'NO', rates.map((r) => fmt(r, 0)).join(' ')])
    if (WITH_RELAY) {
      const ratios = relay.busy.map((b, i) => b / relay.idle[i]!)
      relayRows.push([
        provider,
        fmt(median(relay.idle), 0),
        fmt(median(relay.busy), 0),
        `${fmt(median(ratios), 2)}×`,
        ratios.map((r) => fmt(r, 2)).join(' '),
        `${relay.overlap.reduce((a, b) => a + b, 0)}/${relay.overlap.length}`,
      ])
    }
  }
} finally {
  await relayWorker?.stop()
  await worker.stop()
  await pg.stop()
}
printTable(['database', 'values/s (median)', 'stored = sent', 'rounds'], rows)
console.log(
  `target: >= 10000 values/s with stored = sent (${args.controllers} controllers, ${args['per-message']} values per message, ${args.window} in flight each)`,
)
if (WITH_RELAY) {
  console.log()
  printTable(
    [
      'database',
      'relay idle msg/s',
      'relay during ingestion msg/s',
      'ratio (median)',
      'ratio per round',
      'relay within ingestion',
    ],
    relayRows,
  )
  console.log(
    'target: relay during ingestion >= 0.5× idle. QoS 0, 4 publishers -> 1 subscriber on a controller sub-topic, at most 3 s of publishing; "relay within ingestion": rounds where the ingestion was still running when the relay finished (else use more --values).',
  )
}
