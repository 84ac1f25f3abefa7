// Issue 21, "MQTT fuzzing": at least 200,000 mutated, malformed and hostile MQTT packets over TCP and
// WebSocket, before and after a valid CONNECT, against a real `tendril serve`, while a bystander
// measures its round trips. Exit 1 if the server exits, the bystander is disturbed (disconnected or
// stalled), or a connection is left open after a packet the server must refuse.
//   node --import tsx bench/faults/mqtt-fuzz.ts [--packets 200000] [--seed N] [--concurrency 16] [--floods 0.005]
//   [--pg]
import { parseArgs } from 'node:util'
import { fuzzMqtt } from '../../test/helpers/mqtt-fuzz.ts'
import { closingLines, fmtLatency } from '../../test/helpers/fault-watch.ts'
import { startBenchPostgres } from '../lib/postgres.ts'
import { machine } from '../lib/stats.ts'

const { values: args } = parseArgs({
  options: {
    packets: { type: 'string', default: '200000' },
    seed: { type: 'string' },
    concurrency: { type: 'string', default: '16' },
    pg: { type: 'boolean', default: false },
    floods: { type: 'string', default: '0.005' },
  },
})
const seed = args.seed !== undefined ? Number(args.seed) : Math.floor(Math.random() * 2 ** 31)
console.log(machine())
console.log(`seed ${seed} (rerun with --seed ${seed})`)
const pg = args.pg ? await startBenchPostgres() : undefined
let failed: boolean
try {
  const provider = args.pg ? 'postgresql' : 'sqlite'
  const r = await fuzzMqtt({
    provider,
    packets: Number(args.packets),
    seed,
    concurrency: Number(args.concurrency),
    floods: Number(args.floods),
    log: (line) => console.log(`  ${line}`),
  })
  console.log(
    `\n${provider}: ${r.packetsSent} packets on ${r.connections} connections; the server closed ${r.closedByServer}`,
  )
  console.log(`  log lines saying a connection was closed or refused, and why: ${closingLines(r.logLines)}`)
  console.log(`  left open after a refused packet: ${r.leftOpen.length} ${r.leftOpen.slice(0, 10).join('; ')}`)
  console.log(`  valid CONNECTs refused or unanswered: ${r.connectRefused}`)
  console.log(
    `  server exited: ${r.serverExited}; rss ${r.rssMb.before.toFixed(0)} MB before, ${r.rssMb.after.toFixed(0)} MB after`,
  )
  console.log(`  bystander before: ${fmtLatency(r.bystander.before)}`)
  console.log(`  bystander during: ${fmtLatency(r.bystander.during)}`)
  console.log(`  bystander problems: ${r.bystander.problems.join('; ') || 'none'}`)
  console.log('  server log lines (info and above) while fuzzing:')
  const lines = Object.entries(r.logLines).sort((a, b) => b[1] - a[1])
  for (const [msg, n] of lines) console.log(`    ${String(n).padStart(7)}  ${msg}`)
  failed = r.serverExited || r.leftOpen.length > 0 || r.bystander.problems.length > 0
} finally {
  await pg?.stop()
}
console.log(
  failed
    ? '\nFAIL: see above'
    : '\nOK: the server survived, closed every offending connection, and the bystander was served',
)
process.exit(failed ? 1 : 0)
