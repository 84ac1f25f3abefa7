// Issue 21, "Redis restarts and PostgreSQL restarts under load": real `tendril serve` instances on a
// private PostgreSQL (and Redis), which is stopped for a few seconds and started again N times while
// controllers publish numbered QoS 1 values, a REST client reads and writes and a sub-topic is relayed.
// Prints what the instances served, refused and relayed while it was down, and how soon they were
// back; exit 1 on any loss, a hang, an error answer that is not a JSON 503, or an instance that died.
//   node --import tsx bench/faults/service-restarts.ts [--only redis|postgresql] [--outages 5] [--down-ms 5000]
//   [--up-ms 3000] [--controllers 20] [--pg-with-redis] [--verbose: the first log line of each warning]
import { loadavg as osLoadavg } from 'node:os'
import { parseArgs } from 'node:util'
import { restartsUnderLoad, type ServiceRestartResult } from '../../test/helpers/service-restarts.ts'
import { machine } from '../lib/stats.ts'

const { values: args } = parseArgs({
  options: {
    only: { type: 'string' },
    outages: { type: 'string', default: '5' },
    'down-ms': { type: 'string', default: '5000' },
    'up-ms': { type: 'string', default: '3000' },
    controllers: { type: 'string', default: '20' },
    'pg-with-redis': { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
  },
})

console.log(machine())
let failed = false
for (const service of (['redis', 'postgresql'] as const).filter((s) => !args.only || s === args.only)) {
  const instances = service === 'redis' ? 2 : 1
  const redis = service === 'redis' || args['pg-with-redis']
  const started = Date.now()
  console.log(
    `\n${service}: ${instances} instance(s)${redis ? ' with --redis' : ''} on PostgreSQL, ${args.controllers} controllers, ` +
      `${args.outages} outages of ${args['down-ms']} ms (load average ${loadavg()})`,
  )
  const r = await restartsUnderLoad({
    service,
    controllers: Number(args.controllers),
    outages: Number(args.outages),
    downMs: Number(args['down-ms']),
    upMs: Number(args['up-ms']),
    instances,
    redis,
    log: (line) => console.log(`  ${line}`),
  })
  console.log(`  in ${((Date.now() - started) / 1000).toFixed(0)} s, load average ${loadavg()}`)
  failed = report(r) || failed
}
console.log(failed ? '\nFAIL: see above' : '\nOK: nothing acknowledged lost, every refusal a bounded JSON 503')
process.exit(failed ? 1 : 0)

function report(r: ServiceRestartResult): boolean {
  console.log(
    `  ${r.acknowledged} values acknowledged (${r.restAcknowledged} over REST, ${r.sdkAcknowledged} by the SDK), ${r.stored} stored`,
  )
  console.log(`  SDK errors: ${r.sdkErrors.length} ${r.sdkErrors.slice(0, 3).join(' | ')}`)
  console.log(
    `  c-0 values acknowledged that its persistent QoS 1 subscriber never got: ${r.keeperMissing.length} ${r.keeperMissing.slice(0, 20).join(' ')}`,
  )
  console.log(`  lost (acknowledged, not stored): ${r.lost.length} ${r.lost.slice(0, 20).join(' ')}`)
  console.log(`  doubled (acknowledged, stored twice): ${r.doubled.length} ${r.doubled.slice(0, 20).join(' ')}`)
  console.log(`  stored but never sent: ${r.unknown.length}`)
  console.log(`  instances ran throughout: ${r.survived}`)
  console.log(`  log lines at warn or above: ${JSON.stringify(r.warnings.counts)}`)
  if (args.verbose) for (const line of Object.values(r.warnings.first)) console.log(`    ${line}`)
  const bad = r.outages.flatMap((o) => [...o.reads.badBodies, ...o.writes.badBodies])
  const hung = r.outages.filter((o) => o.reads.statuses.timeout || o.writes.statuses.timeout).length
  if (bad.length) console.log(`  error answers that are not a JSON 503: ${bad.length} ${bad.slice(0, 5).join(' | ')}`)
  if (hung) console.log(`  outages with a request that hung 10 s: ${hung}`)
  return !!(r.lost.length || r.doubled.length || r.unknown.length || !r.survived || bad.length || hung)
}

function loadavg(): string {
  return osLoadavg()
    .map((n) => n.toFixed(1))
    .join(' ')
}
