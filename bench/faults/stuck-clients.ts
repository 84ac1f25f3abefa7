// Issue 21, "slow and stuck clients": against a real `tendril serve`, at once: slowloris HTTP, MQTT
// over TCP and WebSocket that never send CONNECT, a subscriber that stops reading while its topic is
// flooded, and 10,000 idle authenticated MQTT connections; the server's RSS and a bystander's latency
// before and during. Exit 1 if the server exits, a stuck connection is not closed, the bystander is
// disturbed, or RSS passes the bound printed.
//   node --import tsx bench/faults/stuck-clients.ts [--idle 10000] [--slowloris 500] [--silent 500] [--timeout 10000]
//   [--pg]
import { parseArgs } from 'node:util'
import { fmtLatency } from '../../test/helpers/fault-watch.ts'
import { stuckClients, type Closings } from '../../test/helpers/stuck-clients.ts'
import { startBenchPostgres } from '../lib/postgres.ts'
import { machine } from '../lib/stats.ts'

const { values: args } = parseArgs({
  options: {
    idle: { type: 'string', default: '10000' },
    slowloris: { type: 'string', default: '500' },
    silent: { type: 'string', default: '500' },
    timeout: { type: 'string', default: '10000' },
    pg: { type: 'boolean', default: false },
  },
})
console.log(machine())
const pg = args.pg ? await startBenchPostgres() : undefined
let failed: boolean
try {
  const idle = Number(args.idle)
  const r = await stuckClients({
    provider: args.pg ? 'postgresql' : 'sqlite',
    slowloris: Number(args.slowloris),
    silentTcp: Number(args.silent),
    silentWs: Number(args.silent),
    idle,
    timeoutMs: Number(args.timeout),
    afterMs: 15_000,
    log: (line) => console.log(`  ${line}`),
  })
  const row = (name: string, c: Closings) =>
    console.log(
      `  ${name}: ${c.closed} of ${c.opened} closed by the server, the last after ${(c.maxMs / 1000).toFixed(1)} s`,
    )
  row('slowloris HTTP', r.slowloris)
  row('MQTT/TCP without CONNECT', r.silentTcp)
  row('MQTT/WebSocket without CONNECT', r.silentWs)
  row('subscriber that stopped reading', r.stuckSubscriber)
  console.log(`  flooded at it: ${(r.stuckSubscriber.publishedBytes / 1e6).toFixed(1)} MB`)
  console.log(`  idle MQTT connections: ${r.idle.connected} held, ${r.idle.closedByServer} closed by the server`)
  // the bound: 100 MB plus 50 KB per connection held, over the RSS before
  const bound = r.rssMb.before + 100 + (idle + Number(args.slowloris) + 2 * Number(args.silent)) * 0.05
  console.log(
    `  rss: ${r.rssMb.before.toFixed(0)} MB before, ${r.rssMb.during.toFixed(0)} MB during (peak ${r.rssMb.peak.toFixed(0)}), ${r.rssMb.after.toFixed(0)} MB 15 s after closing them all; bound ${bound.toFixed(0)} MB`,
  )
  console.log(`  bystander before: ${fmtLatency(r.bystander.before)}`)
  console.log(`  bystander during: ${fmtLatency(r.bystander.during)}`)
  console.log(`  bystander problems: ${r.bystander.problems.join('; ') || 'none'}; server exited: ${r.serverExited}`)
  const open = [r.slowloris, r.silentTcp, r.silentWs, r.stuckSubscriber].some((c) => c.closed < c.opened)
  failed =
    r.serverExited || open || r.bystander.problems.length > 0 || r.rssMb.peak > bound || r.idle.closedByServer > 0
} finally {
  await pg?.stop()
}
console.log(
  failed ? '\nFAIL: see above' : '\nOK: stuck connections closed, memory within the bound, the bystander served',
)
process.exit(failed ? 1 : 0)
