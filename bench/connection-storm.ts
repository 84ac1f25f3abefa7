// Connection storm: N clients connect, authenticate (Tendril: one controller key each) and subscribe
// to their own folder, from a child process with bounded concurrency, against bare Aedes taking the
// same N plain connections + subscriptions. Rounds are interleaved; medians are reported, with the
// broker process's event-loop delay (monitorEventLoopDelay) and CPU use during the storm, and
// then for IDLE_MS with every client still connected and silent (what holding N sessions costs).
//   node --import tsx bench/connection-storm.ts [--clients 10000] [--rounds 5] [--concurrency 200] [--pg] [--count-queries]
import './lib/as-served.ts'
import { execSync } from 'node:child_process'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import type { PostgresServer } from '../test/harness/postgres.ts'
import { startBareAedes, startTendril, type RunningBroker, type RunningTendril } from './lib/brokers.ts'
import { startBenchPostgres } from './lib/postgres.ts'
import { seedControllers } from './lib/seed.ts'
import { fmt, machine, median, printTable, ratio, sleep } from './lib/stats.ts'
import type { StormJob, StormResult, StormSpec } from './lib/storm-worker.ts'
import { startWorker } from './lib/worker.ts'

const { values: args } = parseArgs({
  options: {
    clients: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '200' },
    pg: { type: 'boolean', default: false },
    'count-queries': { type: 'boolean', default: false },
  },
})
const CLIENTS = Number(args.clients)
const ROUNDS = Number(args.rounds)
const CONCURRENCY = Number(args.concurrency)
const IDLE_MS = 3000

interface Target {
  name: string
  port: number
  clients: StormSpec['clients']
  /** resolves once the broker has dealt with the last round's disconnects */
  settled(): Promise<boolean>
  /** before each round */
  prepare?(): Promise<void>
  tendril?: RunningTendril
  rounds: (StormResult & { loopP99: number; loopMax: number; cpu: number; idleCpu: number; idleLoopMax: number })[]
}

const fdLimit = Number(execSync('ulimit -n', { shell: '/bin/sh' }).toString().trim())
if (fdLimit < CLIENTS + 1000) console.warn(`warning: ulimit -n is ${fdLimit}; ${CLIENTS} connections need more (raise it with ulimit -n before running)`)

const started: RunningBroker[] = []
let postgres: PostgresServer | undefined
const worker = startWorker<StormJob, StormResult | null>(new URL('./lib/storm-worker.ts', import.meta.url))
const portOf = (url: string) => Number(new URL(url).port)

/** Polls until done() or the deadline. */
async function until(done: () => Promise<boolean> | boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs
  while (performance.now() < deadline) {
    if (await done()) return true
    await sleep(100)
  }
  return false
}

async function tendrilTarget(provider: 'sqlite' | 'postgresql'): Promise<Target> {
  const tendril = await startTendril(provider, {}, { countQueries: args['count-queries'] })
  started.push(tendril)
  const t0 = performance.now()
  const controllers = await seedControllers(tendril.core, CLIENTS, { lean: true, batch: 500 })
  console.log(`${tendril.name}: ${CLIENTS} controllers with a key each created in ${fmt((performance.now() - t0) / 1000, 1)} s`)
  const db = tendril.core.db
  return {
    name: tendril.name,
    port: portOf(tendril.tcpUrl),
    clients: controllers.map((c) => ({ clientId: c.topic.replace('/', '-'), password: c.key, topic: c.topic })),
    // every disconnect is written to the controller's status; done when none is left connected
    settled: () => until(async () => (await db.controllerStatus.count({ where: { connected: true } })) === 0, 60_000),
    // a storm after a restart meets keys last used long ago, so each connect also refreshes lastUsedAt
    prepare: async () => void (await db.key.updateMany({ data: { lastUsedAt: null } })),
    tendril,
    rounds: [],
  }
}

try {
  const aedes = await startBareAedes()
  started.push(aedes)
  const targets: Target[] = [
    {
      name: 'bare Aedes',
      port: portOf(aedes.tcpUrl),
      clients: Array.from({ length: CLIENTS }, (_, i) => ({ clientId: `acme-pi-${i + 1}`, topic: `acme/pi-${i + 1}` })),
      settled: () => until(() => aedes.aedes.connectedClients === 0, 60_000),
      rounds: [],
    },
    await tendrilTarget('sqlite'),
  ]
  if (args.pg) {
    postgres = await startBenchPostgres()
    targets.push(await tendrilTarget('postgresql'))
  }

  const loop = monitorEventLoopDelay({ resolution: 10 })
  const runOnce = async (t: Target) => {
    await t.prepare?.()
    await sleep(500)
    t.tendril?.queries?.reset()
    loop.reset()
    loop.enable()
    const cpu0 = process.cpuUsage()
    const w0 = performance.now()
    const result = (await worker.run({ host: '127.0.0.1', port: t.port, concurrency: CONCURRENCY, clients: t.clients }, 300_000))!
    const cpu = process.cpuUsage(cpu0)
    const wall = performance.now() - w0
    loop.disable()
    const storm = { loopP99: loop.percentile(99) / 1e6, loopMax: loop.max / 1e6, cpu: ((cpu.user + cpu.system) / 1000 / wall) * 100 }
    if (t.tendril?.queries) console.log(`  ${t.name}: database calls during the storm: ${t.tendril.queries.summary()}`)
    loop.reset()
    loop.enable()
    const idle0 = process.cpuUsage()
    await sleep(IDLE_MS)
    const idle = process.cpuUsage(idle0)
    loop.disable()
    await worker.run({ close: true }, 60_000)
    if (!(await t.settled())) console.warn(`  ${t.name}: disconnects not settled after 60 s`)
    return { ...result, ...storm, idleCpu: ((idle.user + idle.system) / 1000 / IDLE_MS) * 100, idleLoopMax: loop.max / 1e6 }
  }

  console.log(machine())
  console.log(`ulimit -n ${fdLimit}; warm-up, then ${ROUNDS} rounds of ${CLIENTS} connections (concurrency ${CONCURRENCY}) per target`)
  for (const t of targets) await runOnce(t)
  for (let round = 0; round < ROUNDS; round++) {
    for (const t of targets.map((_, i) => targets[(i + round) % targets.length]!)) {
      const r = await runOnce(t)
      t.rounds.push(r)
      console.log(`  round ${round + 1} ${t.name}: ${fmt((r.ok / r.ms) * 1000)} conn/s (${fmt(r.ms / 1000, 2)} s), loop p99 ${fmt(r.loopP99)} ms${r.failed ? `, failed ${r.failed}: ${JSON.stringify(r.failures)}` : ''}`)
    }
  }

  const rate = (r: StormResult) => (r.ok / r.ms) * 1000
  const reference = median(targets[0]!.rounds.map(rate))
  console.log()
  printTable(
    ['broker', 'conn/s (median)', 'min', 'max', 'vs bare Aedes', 'storm s', 'conn→SUBACK p50/p99 ms', 'loop delay p99/max ms', 'broker CPU', 'client CPU', 'failed', 'idle: CPU', 'idle: loop max ms'],
    targets.map((t) => {
      const rates = t.rounds.map(rate)
      const m = (f: (r: Target['rounds'][number]) => number) => median(t.rounds.map(f))
      return [
        t.name,
        fmt(median(rates)),
        fmt(Math.min(...rates)),
        fmt(Math.max(...rates)),
        ratio(median(rates), reference),
        fmt(m((r) => r.ms) / 1000, 2),
        `${fmt(m((r) => r.p50))} / ${fmt(m((r) => r.p99))}`,
        `${fmt(m((r) => r.loopP99))} / ${fmt(m((r) => r.loopMax))}`,
        fmt(m((r) => r.cpu), 0) + '%',
        fmt(m((r) => r.clientCpu), 0) + '%',
        String(t.rounds.reduce((n, r) => n + r.failed, 0)),
        fmt(m((r) => r.idleCpu), 0) + '%',
        fmt(m((r) => r.idleLoopMax)),
      ]
    }),
  )
  console.log(`\ntarget: Tendril ≥ 0.80× bare Aedes. Each connection: TCP connect, CONNECT (Tendril: username "key" + the controller's key), SUBSCRIBE to its own folder; all kept open until the last SUBACK.\n"broker CPU" is the broker process (all its threads) during the storm, in % of one core; "idle" columns: the ${IDLE_MS / 1000} s after the storm, all ${CLIENTS} clients connected and silent.`)
} finally {
  await worker.stop()
  for (const b of started.reverse()) await b.stop().catch((err: Error) => console.error(`stopping ${b.name}: ${err.message}`))
  await postgres?.stop()
}
