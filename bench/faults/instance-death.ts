// Issue 21, "one of two instances dies": two `tendril serve --redis` on one PostgreSQL database;
// controllers with persistent sessions (clean: false, QoS 1) and publishers spread over both; one
// instance is SIGKILLed and its clients move to the other. Every acknowledged message must reach its
// session, retained messages must survive, presence must be corrected, and the restarted instance must
// work with the other again. Each round kills the other instance. Exit 1 on any loss.
//   node --import tsx bench/faults/instance-death.ts [--controllers 24] [--publishers 6] [--rounds 2]
//   [--min-up 2000] [--max-up 5000] [--after 2000]
import { parseArgs } from 'node:util'
import { instanceDeath } from '../../test/helpers/instance-death.ts'
import { startBenchPostgres } from '../lib/postgres.ts'
import { machine } from '../lib/stats.ts'

const { values: args } = parseArgs({
  options: {
    controllers: { type: 'string', default: '24' },
    publishers: { type: 'string', default: '6' },
    rounds: { type: 'string', default: '2' },
    'min-up': { type: 'string', default: '2000' },
    'max-up': { type: 'string', default: '5000' },
    after: { type: 'string', default: '2000' },
  },
})

console.log(machine())
const pg = await startBenchPostgres()
let failed = false
try {
  const started = Date.now()
  console.log(
    `${args.controllers} controllers (persistent sessions, QoS 1), ${args.publishers} publishers, ${args.rounds} rounds`,
  )
  const r = await instanceDeath({
    controllers: Number(args.controllers),
    publishers: Number(args.publishers),
    rounds: Number(args.rounds),
    minUpMs: Number(args['min-up']),
    maxUpMs: Number(args['max-up']),
    afterMs: Number(args.after),
    presenceWithinMs: 90_000,
    log: (line) => console.log(`  ${line}`),
  })
  for (const [i, round] of r.rounds.entries()) {
    console.log(
      `  round ${i + 1} (killed ${round.killed}): ${round.acknowledged} acknowledged (${round.perSecond}/s); ${round.staleAtKill} of its controllers shown online after the kill; ` +
        `presence ${round.presenceCorrectedMs === undefined ? `NOT corrected: ${round.presenceWrong.join(', ')}` : `corrected in ${(round.presenceCorrectedMs / 1000).toFixed(1)} s`}; ` +
        `retained ${round.retained.expected - round.retained.missing.length}/${round.retained.expected}; restart ${round.restartMs} ms; together again: ${round.together}`,
    )
    if (round.presenceCorrectedMs === undefined || round.retained.missing.length || !round.together) failed = true
  }
  console.log(
    `  ${r.acknowledged} messages acknowledged, ${r.delivered} delivered to their session (+${r.duplicates} duplicates), in ${((Date.now() - started) / 1000).toFixed(0)} s`,
  )
  console.log(`  lost (acknowledged, never delivered): ${r.lost.length} ${r.lost.slice(0, 20).join(' ')}`)
  console.log(
    `  delivered only when every session resumed at the end (queued, but the relay died): ${r.late.length} ${r.late.slice(0, 20).join(' ')}`,
  )
  console.log(`  delivered but never sent: ${r.unknown.length}`)
  if (r.lost.length || r.unknown.length) failed = true
} finally {
  await pg.stop()
}
console.log(failed ? '\nFAIL: see above' : '\nOK: nothing acknowledged lost, retained kept, presence corrected')
process.exit(failed ? 1 : 0)
