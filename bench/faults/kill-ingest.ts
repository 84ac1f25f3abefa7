// Issue 21, "kill -9 during ingestion": N controllers (default 20) publish numbered QoS 1 values to a
// real `tendril serve`, SIGKILLed at a random moment K times (default 5) and restarted on the same data;
// then every acknowledged value must be stored exactly once and SQLite's integrity check be ok.
// Exit 1 on any loss (or a value stored twice, or a failed integrity check).
//   node --import tsx bench/faults/kill-ingest.ts [--controllers 20] [--kills 5] [--min-up 2000] [--max-up 6000]
//   [--only sqlite|postgresql]
import { parseArgs } from 'node:util'
import { killDuringIngestion } from '../../test/helpers/kill-ingest.ts'
import { startBenchPostgres } from '../lib/postgres.ts'
import { machine } from '../lib/stats.ts'

const { values: args } = parseArgs({
  options: {
    controllers: { type: 'string', default: '20' },
    kills: { type: 'string', default: '5' },
    'min-up': { type: 'string', default: '2000' },
    'max-up': { type: 'string', default: '6000' },
    only: { type: 'string' },
  },
})

console.log(machine())
const pg = await startBenchPostgres()
let failed = false
try {
  for (const provider of (['sqlite', 'postgresql'] as const).filter((p) => !args.only || p === args.only)) {
    const started = Date.now()
    console.log(
      `\n${provider}: ${args.controllers} controllers, ${args.kills} SIGKILLs ${args['min-up']}-${args['max-up']} ms after the controllers publish again`,
    )
    const r = await killDuringIngestion({
      provider,
      controllers: Number(args.controllers),
      kills: Number(args.kills),
      minUpMs: Number(args['min-up']),
      maxUpMs: Number(args['max-up']),
      log: (line) => console.log(`  ${line}`),
    })
    console.log(
      `  ${r.acknowledged} values acknowledged, ${r.stored} stored, in ${((Date.now() - started) / 1000).toFixed(0)} s`,
    )
    console.log(`  lost (acknowledged, not stored): ${r.lost.length} ${r.lost.slice(0, 20).join(' ')}`)
    console.log(`  doubled (acknowledged, stored twice): ${r.doubled.length} ${r.doubled.slice(0, 20).join(' ')}`)
    console.log(`  stored but never sent: ${r.unknown.length}`)
    if (provider === 'sqlite')
      console.log(
        `  WAL bytes at each kill (replayed on restart): ${r.walAtKill.join(', ')}; integrity_check: ${r.integrity}`,
      )
    console.log(`  restart times (ms): ${r.restartMs.join(', ')}`)
    if (r.lost.length || r.doubled.length || r.unknown.length || (provider === 'sqlite' && r.integrity !== 'ok'))
      failed = true
  }
} finally {
  await pg.stop()
}
console.log(
  failed ? '\nFAIL: see lost / doubled / integrity above' : '\nOK: every acknowledged value stored exactly once',
)
process.exit(failed ? 1 : 0)
