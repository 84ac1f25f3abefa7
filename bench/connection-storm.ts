// Connection storm of a real fleet: N controllers provisioned through the REST API as users do
// (POST /api/v1/resources type=12, POST /api/v1/keys controller_path=…), each connecting with its
// own key and subscribing (QoS 1) to its own folder, from a child process with 200 and 500 in flight;
// against bare Aedes taking the same N plain connections + subscriptions in the same run. Before each
// Tendril round the instance is restarted over the same database and lastUsedAt cleared: the storm
// after a restart that follows an outage. Then IDLE_MS with every session open and silent. Rounds
// are interleaved; medians are reported.
//   node --import tsx bench/connection-storm.ts [--controllers 10000] [--rounds 2] [--concurrency 200,500] [--pg]
//   [--only postgresql] [--lean]
import './lib/as-served.ts'
import { execSync } from 'node:child_process'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import os from 'node:os'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { openCore, type Core } from '../core/index.ts'
import { createLogger } from '../core/log.ts'
import { createTendril, type Tendril } from '../server.ts'
import type { PostgresServer } from '../test/harness/postgres.ts'
import { openTestCore, type Provider } from '../test/helpers/core.ts'
import { startBareAedes } from './lib/brokers.ts'
import { startBenchPostgres } from './lib/postgres.ts'
import { provisionControllers } from './lib/provision.ts'
import { seedControllers } from './lib/seed.ts'
import { countStatements } from './lib/statement-counter.ts'
import { fmt, machine, median, printTable, ratio, sleep } from './lib/stats.ts'
import type { StormJob, StormResult, StormSpec } from './lib/storm-worker.ts'
import { startWorker } from './lib/worker.ts'

const { values: args } = parseArgs({
  options: {
    controllers: { type: 'string', default: '10000' },
    clients: { type: 'string' }, // the former name of --controllers
    rounds: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '200,500' },
    pg: { type: 'boolean', default: false },
    only: { type: 'string' },
    lean: { type: 'boolean', default: false },
    'provision-concurrency': { type: 'string', default: '16' },
    /** writes a CPU profile of each Tendril storm round into this directory */
    'profile-dir': { type: 'string' },
    /** prints the statements each Tendril storm sent */
    statements: { type: 'boolean', default: false },
  },
})
const CONTROLLERS = Number(args.clients ?? args.controllers)
const ROUNDS = Number(args.rounds)
const CONCURRENCIES = args.concurrency.split(',').map(Number)
const host = '127.0.0.1'
const IDLE_MS = 3000
const load = () => os.loadavg()[0]!

type Round = StormResult & {
  cpuPerConnect: number
  loopP99: number
  loopMax: number
  cpu: number
  statements: number
  load: number
  idleCpu: number
  idleLoopMax: number
}

interface Target {
  name: string
  port: number
  clients: StormSpec['clients']
  /** before each round (a Tendril restarts) */
  prepare?(): Promise<void>
  /** resolves once the broker has dealt with the round's disconnects */
  settled(): Promise<boolean>
  stop?(): Promise<void>
  rounds: Map<number, Round[]>
}

const fdLimit = Number(execSync('ulimit -n', { shell: '/bin/sh' }).toString().trim())
if (fdLimit < CONTROLLERS + 1000)
  console.warn(
    `warning: ulimit -n is ${fdLimit}; ${CONTROLLERS} connections need more (raise it with ulimit -n before running)`,
  )

const statements = countStatements()
const started: { stop?(): Promise<void> }[] = []
let postgres: PostgresServer | undefined
const worker = startWorker<StormJob, StormResult | null>(new URL('./lib/storm-worker.ts', import.meta.url))
const silent = createLogger({ logLevel: 'silent', logFormat: 'json' })

/** Polls until done() or the deadline. */
async function until(done: () => Promise<boolean> | boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs
  while (performance.now() < deadline) {
    if (await done()) return true
    await sleep(100)
  }
  return false
}

async function tendrilTarget(provider: Provider): Promise<Target> {
  // provisioned with unflushed commits (the API calls are the same); every round restarts with the defaults
  const first = await openTestCore(provider, { 'sqlite-synchronous': 'normal' })
  const config = { ...first.config, sqliteSynchronous: 'full' as const }
  let core: Core = first
  let tendril: Tendril = await createTendril(core)
  const listening = await tendril.listen({ port: 0, host, mqttPort: 0 })
  const { port } = listening
  const mqttPort = listening.mqttPort! // kept across the restarts: the clients reconnect to it
  const name = `Tendril (${provider})`
  const t0 = performance.now()
  const controllers = args.lean
    ? await seedControllers(core, CONTROLLERS, { lean: true, batch: 500 })
    : await provisionControllers(core, `http://${host}:${port}`, CONTROLLERS, {
        concurrency: Number(args['provision-concurrency']),
      })
  const seconds = (performance.now() - t0) / 1000
  console.log(
    `${name}: ${CONTROLLERS} controllers ${args.lean ? 'seeded lean (folder + key)' : 'provisioned through the API'} in ${fmt(seconds, 1)} s (${fmt(CONTROLLERS / seconds)}/s), load average ${fmt(load(), 1)}`,
  )
  const stop = async () => {
    await tendril.close()
    await core.close()
  }
  const target: Target = {
    name,
    port: mqttPort,
    clients: controllers.map((c) => ({ clientId: c.topic.replace('/', '-'), password: c.key, topic: c.topic })),
    // a restart, after an outage long enough that every key's lastUsedAt is stale
    prepare: async () => {
      await stop()
      core = await openCore(config, silent)
      await core.db.key.updateMany({ data: { lastUsedAt: null } })
      tendril = await createTendril(core)
      await tendril.listen({ port: 0, host, mqttPort })
    },
    // every disconnect is written to the controller's status; done when none is left connected
    settled: () =>
      until(async () => (await core.db.controllerStatus.count({ where: { connected: true } })) === 0, 60_000),
    async stop() {
      await stop()
      if (provider === 'sqlite') rmSync(config.dataDir, { recursive: true, force: true })
    },
    rounds: new Map(),
  }
  return target
}

const loop = monitorEventLoopDelay({ resolution: 10 })
async function runOnce(t: Target, concurrency: number): Promise<Round> {
  await t.prepare?.()
  await sleep(500)
  const load0 = load()
  statements.reset()
  loop.reset()
  loop.enable()
  const profiler = args['profile-dir'] ? await startProfiler() : undefined
  const cpu0 = process.cpuUsage()
  const w0 = performance.now()
  const result = (await worker.run({ host, port: t.port, concurrency, qos: 1, clients: t.clients }, 300_000))!
  const cpu = process.cpuUsage(cpu0)
  const wall = performance.now() - w0
  loop.disable()
  const storm = { loopP99: loop.percentile(99) / 1e6, loopMax: loop.max / 1e6 }
  await profiler?.(`${t.name.replace(/\W+/g, '-')}-${concurrency}-${Date.now()}.cpuprofile`)
  const counted = statements.read()
  if (args.statements && counted > 0) console.log(`  ${t.name} statements:\n${statements.summary()}`)
  // then holding the sessions, all silent: what N idle sessions cost
  loop.reset()
  loop.enable()
  const idle0 = process.cpuUsage()
  await sleep(IDLE_MS)
  const idle = process.cpuUsage(idle0)
  loop.disable()
  await worker.run({ close: true }, 60_000)
  if (!(await t.settled())) console.warn(`  ${t.name}: disconnects not settled after 60 s`)
  return {
    ...result,
    cpuPerConnect: (cpu.user + cpu.system) / 1000 / result.ok,
    ...storm,
    cpu: ((cpu.user + cpu.system) / 1000 / wall) * 100,
    statements: counted,
    load: load0,
    idleCpu: ((idle.user + idle.system) / 1000 / IDLE_MS) * 100,
    idleLoopMax: loop.max / 1e6,
  }
}

/** Starts V8's profiler; the function returned writes the profile to --profile-dir. */
async function startProfiler(): Promise<(file: string) => Promise<void>> {
  const session = new Session()
  session.connect()
  await session.post('Profiler.enable')
  await session.post('Profiler.start')
  return async (file) => {
    const { profile } = await session.post('Profiler.stop')
    mkdirSync(args['profile-dir']!, { recursive: true })
    writeFileSync(`${args['profile-dir']}/${file}`, JSON.stringify(profile))
    session.disconnect()
  }
}

const rate = (r: StormResult) => (r.ok / r.ms) * 1000

try {
  const providers: Provider[] = args.only ? [args.only as Provider] : args.pg ? ['sqlite', 'postgresql'] : ['sqlite']
  const aedes = await startBareAedes()
  started.push(aedes)
  const targets: Target[] = [
    {
      name: 'bare Aedes',
      port: Number(new URL(aedes.tcpUrl).port),
      clients: Array.from({ length: CONTROLLERS }, (_, i) => ({
        clientId: `acme-pi-${i + 1}`,
        topic: `acme/pi-${i + 1}`,
      })),
      settled: () => until(() => aedes.aedes.connectedClients === 0, 60_000),
      rounds: new Map(),
    },
  ]
  if (providers.includes('postgresql')) postgres = await startBenchPostgres()
  for (const provider of providers) {
    const target = await tendrilTarget(provider)
    started.push(target)
    targets.push(target)
  }

  console.log(machine())
  console.log(
    `ulimit -n ${fdLimit}; per concurrency a warm-up, then ${ROUNDS} rounds of ${CONTROLLERS} connections per target, the order rotating`,
  )
  for (const concurrency of CONCURRENCIES) {
    for (const t of targets) await runOnce(t, concurrency)
    for (let round = 0; round < ROUNDS; round++) {
      for (const t of targets.map((_, i) => targets[(i + round) % targets.length]!)) {
        const r = await runOnce(t, concurrency)
        t.rounds.set(concurrency, [...(t.rounds.get(concurrency) ?? []), r])
        const failed = r.failed ? `, failed ${r.failed}: ${JSON.stringify(r.failures)}` : ''
        console.log(
          `  ${concurrency} in flight, round ${round + 1} ${t.name}: ${fmt(rate(r))} conn/s (${fmt(r.ms / 1000, 2)} s), ${fmt(r.statements / r.ok, 2)} statements/CONNECT, ${fmt(r.cpuPerConnect, 2)} CPU ms/CONNECT, loop p99 ${fmt(r.loopP99)} ms, load ${fmt(r.load, 1)}${failed}`,
        )
      }
    }
  }

  for (const concurrency of CONCURRENCIES) {
    const reference = median(targets[0]!.rounds.get(concurrency)!.map(rate))
    console.log(`\n${concurrency} in flight, ${CONTROLLERS} controllers`)
    printTable(
      [
        'broker',
        'conn/s (median)',
        'min',
        'max',
        'vs bare Aedes',
        'storm s',
        'conn→SUBACK p50/p99 ms',
        'statements/CONNECT',
        'loop delay p99/max ms',
        'broker CPU',
        'CPU ms/CONNECT',
        'failed',
        'idle: CPU',
        'idle: loop max ms',
        'load avg',
      ],
      targets.map((t) => {
        const rounds = t.rounds.get(concurrency)!
        const rates = rounds.map(rate)
        const m = (f: (r: Round) => number) => median(rounds.map(f))
        return [
          t.name,
          fmt(median(rates)),
          fmt(Math.min(...rates)),
          fmt(Math.max(...rates)),
          ratio(median(rates), reference),
          fmt(m((r) => r.ms) / 1000, 2),
          `${fmt(m((r) => r.p50))} / ${fmt(m((r) => r.p99))}`,
          fmt(
            m((r) => r.statements / r.ok),
            2,
          ),
          `${fmt(m((r) => r.loopP99))} / ${fmt(m((r) => r.loopMax))}`,
          fmt(
            m((r) => r.cpu),
            0,
          ) + '%',
          fmt(
            m((r) => r.cpuPerConnect),
            2,
          ),
          String(rounds.reduce((n, r) => n + r.failed, 0)),
          fmt(
            m((r) => r.idleCpu),
            0,
          ) + '%',
          fmt(m((r) => r.idleLoopMax)),
          rounds.map((r) => fmt(r.load, 1)).join(' '),
        ]
      }),
    )
  }
  console.log(
    `\ntarget: Tendril ≥ 0.80× bare Aedes at 500 in flight; a storm of 10,000 under 5 s. Each connection: TCP connect, CONNECT (Tendril: username "key" + the controller's key), SUBSCRIBE (QoS 1) to its own folder; all kept open until the last SUBACK.\n"statements/CONNECT": SQL statements sent during the storm (BEGIN/COMMIT included) per connection; "broker CPU": this process during the storm, % of one core, and per connection ("CPU ms/CONNECT", the figure a busy machine moves least); "idle": the ${IDLE_MS / 1000} s after the storm, every session open and silent; "load avg": the 1-minute load average at the start of each round (the machine is shared).`,
  )
} finally {
  await worker.stop()
  for (const b of started.reverse()) await b.stop?.().catch((err: Error) => console.error(`stopping: ${err.message}`))
  await postgres?.stop()
}
