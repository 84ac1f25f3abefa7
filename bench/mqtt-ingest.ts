// Sustained sequence ingestion over MQTT into SQLite and PostgreSQL: controllers publish rhizo CSV
// lines at QoS 1 (a PUBACK means stored); the figure is values stored per second, and the count
// stored is checked against the count sent. Load runs in a child process.
//   node --import tsx bench/mqtt-ingest.ts [--rounds 3] [--values 60000] [--controllers 10] [--per-message 10] [--window 8]
import { parseArgs } from 'node:util'
import { createController, createOrg } from '../core/admin.ts'
import { createSequence, findPath } from '../core/resources/tree.ts'
import { SequenceDataType } from '../core/resources/types.ts'
import { startTendril } from './lib/brokers.ts'
import type { IngestJob, IngestResult } from './lib/ingest-worker.ts'
import { startBenchPostgres } from './lib/postgres.ts'
import { fmt, machine, median, printTable } from './lib/stats.ts'
import { startWorker } from './lib/worker.ts'

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    values: { type: 'string', default: '60000' },
    controllers: { type: 'string', default: '10' },
    'per-message': { type: 'string', default: '10' },
    window: { type: 'string', default: '8' },
  },
})
const SEQUENCES_PER_CONTROLLER = 10

console.log(machine())
const pg = await startBenchPostgres()
const worker = startWorker<IngestJob, IngestResult>(new URL('./lib/ingest-worker.ts', import.meta.url))
const rows: string[][] = []
try {
  for (const provider of ['sqlite', 'postgresql'] as const) {
    const rates: number[] = []
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
          for (const name of sequences) await createSequence(tendril.core.db, folder, name, { dataType: SequenceDataType.numeric, decimalPlaces: 1 })
          controllers.push({ key, topic: path.slice(1), sequences })
        }
        const before = await tendril.core.db.resourceRevision.count()
        const result = await worker.run({ url: tendril.tcpUrl, controllers, values: Number(args.values), perMessage: Number(args['per-message']), window: Number(args.window) }, 600_000)
        const stored = (await tendril.core.db.resourceRevision.count()) - before
        if (stored !== result.sent) complete = false
        rates.push((stored / result.ms) * 1000)
        console.log(`${provider} round ${round + 1}: sent ${result.sent}, stored ${stored}, ${fmt(result.ms / 1000, 2)} s`)
      } finally {
        await tendril.stop()
      }
    }
    rows.push([provider, fmt(median(rates), 0), complete ? 'yes' : 'NO', rates.map((r) => fmt(r, 0)).join(' ')])
  }
} finally {
  await worker.stop()
  await pg.stop()
}
printTable(['database', 'values/s (median)', 'stored = sent', 'rounds'], rows)
console.log(`target: >= 10000 values/s with stored = sent (${args.controllers} controllers, ${args['per-message']} values per message, ${args.window} in flight each)`)
