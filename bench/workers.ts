// `tendril serve --workers 2` against one process: QoS 0 relay through real `tendril serve` processes
// (SQLite defaults), measured as messages relayed per second of the server's CPU. Cases: one process
// without Redis (the default), one process with --redis, and --workers 2 --redis. One subscriber and
// several publishers on a controller's folder topic (stored in its history) and on a sub-topic
// (relayed only); with two workers the cluster module spreads the connections over both, so some
// publishers' messages cross workers (each round's line says how many, from where Redis saw them
// land). The CPU is also split by thread: main threads, other threads (GC, compiler), the primary.
// Another case, two separate processes side by side (each with its own subscriber and half the
// publishers, sharing nothing), is the ceiling of any design of several processes on this machine:
// what the cores, the caches and the load generators cost when two processes run at once.
//   node --import tsx bench/workers.ts [--rounds 3] [--messages 40000] [--publishers 4] [--only SETUP] [--rate N]
//     [--compare CHECKOUT] [--load light]
// --rate offers every setup the same load (messages per second in all) instead of as much as each takes:
// one process at its limit gathers more work per event-loop turn than two workers that are not.
// --compare adds two workers run from another checkout (a `git worktree` of an earlier commit, with
// this one's node_modules, generated and web/dist linked in): on a machine whose speed drifts, a
// change is only seen against its predecessor measured in the same rounds.
// --load light: clients on plain sockets (lib/light-throughput-worker.ts) instead of MQTT.js, which
// takes most of a core: the brokers then have both cores.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { basename, join, resolve } from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { Redis } from 'ioredis'
import { loadConfig } from '../core/config.ts'
import { openCore } from '../core/index.ts'
import { createLogger } from '../core/log.ts'
import { startRedis } from '../test/harness/redis.ts'
import { startServerWithMqtt, type RunningServer } from '../test/helpers/cli.ts'
import { seedControllers } from './lib/seed.ts'
import { fmt, machine, median, printTable, sleep } from './lib/stats.ts'
import type { ThroughputJob, ThroughputResult } from './lib/throughput-worker.ts'
import { startWorker } from './lib/worker.ts'

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    messages: { type: 'string', default: '40000' },
    publishers: { type: 'string', default: '4' },
    only: { type: 'string' },
    rate: { type: 'string' },
    compare: { type: 'string' },
    load: { type: 'string', default: 'mqttjs' },
  },
})
const ROUNDS = Number(args.rounds)
const MESSAGES = Number(args.messages)
const PUBLISHERS = Number(args.publishers)
const PAYLOAD = JSON.stringify({ temp: { v: 21.5, unit: 'C', sensor: 'greenhouse-north-0001' } }) // 64 bytes
const SETTLE_MS = 10_000
const TICKS_PER_S = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim())

/** The controller's folder topic (stored in its history) and a sub-topic below it (relayed only). */
const KINDS = ['folder', 'sub-topic'] as const
type Kind = (typeof KINDS)[number]

/** One `tendril serve` and the controller its load publishes as. */
interface Served {
  server: RunningServer
  url: string
  auth: ThroughputJob['auth']
  topic: string
  dataDir: string
}

interface Setup {
  name: string
  workers: number
  redisDb?: number
  /** `bin/tendril.js` of another checkout (--compare) */
  bin?: string
  /** how many separate servers share the load (each its own subscriber); 1 but for the ceiling case */
  apart?: number
  served: Served[]
}

interface Threads {
  main: number
  others: number
  primary: number
}

interface Run {
  setup: string
  topic: Kind
  round: number
  result: ThroughputResult
  /** % of one core: the server's processes (primary and workers), and Redis */
  serverCpu: number
  redisCpu: number
  /** publishers on another worker than the subscriber, e.g. "3/4" */
  crossing: string
  load: number
  /** µs of CPU per message received */
  perMessage: Threads
}

/** Seconds of CPU in a /proc stat file (utime + stime); 0 for a process that exited meanwhile */
function statSeconds(path: string): number {
  try {
    const fields = readFileSync(path, 'utf8').split(') ')[1]!.split(' ')
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S
  } catch {
    return 0
  }
}

/** CPU seconds used so far by these processes, all their threads */
const cpuSeconds = (pids: number[]) => pids.reduce((sum, pid) => sum + statSeconds(`/proc/${pid}/stat`), 0)

interface Pids {
  /** the processes that serve: one process, or the workers */
  serving: number[]
  /** primaries of --workers */
  primaries: number[]
}

/**
 * Where the server's CPU went: the main threads of the processes that serve, their other threads
 * (garbage collection, the optimizing compiler, SQLite's flushes), and the primary of --workers.
 */
function cpuByThread({ serving, primaries }: Pids): Threads {
  const main = serving.reduce((sum, pid) => sum + statSeconds(`/proc/${pid}/task/${pid}/stat`), 0)
  return { main, others: cpuSeconds(serving) - main, primary: cpuSeconds(primaries) }
}

const total = (threads: Threads) => threads.main + threads.others + threads.primary

function serverPids(s: Setup): Pids {
  const pids: Pids = { serving: [], primaries: [] }
  for (const { server } of s.served) {
    if (s.workers === 1) {
      pids.serving.push(server.child.pid!)
      continue
    }
    pids.primaries.push(server.child.pid!)
    const children = execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(server.child.pid)], {
      encoding: 'utf8',
    })
    for (const line of children.split('\n'))
      if (/\bnode\b/.test(line)) pids.serving.push(Number(line.trim().split(/\s+/)[0]))
  }
  return pids
}

const redisServer = await startRedis()
if (!['mqttjs', 'light'].includes(args.load!)) throw new Error('--load is mqttjs or light')
const setups: Setup[] = (
  [
    { name: '1 process', workers: 1 },
    { name: '1 process + Redis', workers: 1, redisDb: 1 },
    { name: '2 processes apart', workers: 1, apart: 2 },
    { name: '2 workers + Redis', workers: 2, redisDb: 2 },
    ...(args.compare
      ? [
          {
            name: `2 workers + Redis @${basename(resolve(args.compare))}`,
            workers: 2,
            redisDb: 3,
            bin: join(resolve(args.compare), 'bin', 'tendril.js'),
          },
        ]
      : []),
  ] satisfies Omit<Setup, 'served'>[]
)
  .filter((s) => s.name === '1 process' || !args.only || s.name.includes(args.only))
  .map((s) => ({ ...s, served: [] }))
const parts = Math.max(...setups.map((s) => s.apart ?? 1))
if (PUBLISHERS % parts !== 0) throw new Error(`--publishers: a multiple of ${parts}, split between the processes apart`)
// one load generator per server of a setup, so that the servers apart are loaded at once
const loaders = Array.from({ length: parts }, () =>
  startWorker<ThroughputJob, ThroughputResult>(
    new URL(args.load === 'light' ? './lib/light-throughput-worker.ts' : './lib/throughput-worker.ts', import.meta.url),
  ),
)
const runs: Run[] = []
try {
  for (const s of setups) {
    for (let part = 0; part < (s.apart ?? 1); part++) {
      const dataDir = mkdtempSync(join(tmpdir(), 'tendril-bench-workers-'))
      const config = loadConfig({ flags: { 'data-dir': dataDir }, env: {} })
      const core = await openCore(config, createLogger({ logLevel: 'silent', logFormat: 'json' }))
      const [pi] = await seedControllers(core, 1)
      await core.close()
      const redis = s.redisDb === undefined ? [] : ['--redis', `${redisServer.url}/${s.redisDb}`]
      const server = await startServerWithMqtt(
        [
          '--data-dir',
          dataDir,
          '--mqtt-publish-rate',
          '0',
          '--mqtt-connections-per-key',
          '100',
          '--workers',
          String(s.workers),
          ...redis,
        ],
        {},
        s.bin,
      )
      s.served.push({
        server,
        dataDir,
        url: `mqtt://127.0.0.1:${server.mqttPort}`,
        auth: { username: 'key', password: pi!.key },
        topic: pi!.topic,
      })
    }
  }
  // each setup of two workers has a Redis database of its own
  const watchers = new Map(
    setups
      .filter((s) => s.workers > 1)
      .map((s) => [s.redisDb!, new Redis(`${redisServer.url}/${s.redisDb}`, { keyPrefix: 'tendril:mqtt:' })]),
  )
  const redisPid = redisServer.pid
  const topicOf = (kind: Kind, served: Served) => (kind === 'folder' ? served.topic : `${served.topic}/raw`)
  /** The job on every server of the setup at once, each with its share of the publishers and messages. */
  const relay = async (s: Setup, kind: Kind, messages: number): Promise<ThroughputResult> => {
    const n = s.served.length
    const results = await Promise.all(
      s.served.map((served, i) =>
        loaders[i]!.run(
          {
            url: served.url,
            topic: topicOf(kind, served),
            auth: served.auth,
            publishers: PUBLISHERS / n,
            messages: messages / n,
            payload: PAYLOAD,
            maxMs: 15_000,
            idleMs: 5_000,
            ...(args.rate ? { rate: Number(args.rate) / n } : {}),
          },
          180_000,
        ),
      ),
    )
    const sum = (key: 'sent' | 'received' | 'clientCpu') => results.reduce((total, r) => total + r[key], 0)
    const ms = Math.max(...results.map((r) => r.ms))
    return {
      sent: sum('sent'),
      received: sum('received'),
      ms,
      perSecond: ms > 0 ? (sum('received') / ms) * 1000 : 0,
      clientCpu: sum('clientCpu'),
    }
  }

  console.log(machine())
  console.log(
    `warm-up, then ${ROUNDS} rounds; ${MESSAGES} messages of ${PAYLOAD.length} bytes from ${PUBLISHERS} publishers to 1 subscriber (one each for the processes apart), per case, ${args.rate ? `offered at ${args.rate}/s` : 'as fast as taken'}`,
  )
  // long enough for both paths to be compiled in every worker (the first measured round was slower)
  for (const s of setups) for (const kind of KINDS) await relay(s, kind, 40_000)
  // V8 collects a heap that stopped growing some 8 s later (its memory reducer): the start-up's
  // collections, in the primary too, would otherwise fall into the first rounds
  await sleep(SETTLE_MS)
  for (let round = 0; round < ROUNDS; round++) {
    for (const i of setups.keys()) {
      const s = setups[(i + round) % setups.length]!
      for (const kind of KINDS) {
        const pids = serverPids(s)
        const load = loadavg()[0]!
        const [threads0, redis0, t0] = [cpuByThread(pids), cpuSeconds([redisPid]), performance.now()]
        // where the load generator's connections landed: Redis' record of connected clients (worker in the broker id)
        const landed = new Map<string, string>()
        const sample = setInterval(
          () =>
            void watchers
              .get(s.redisDb ?? -1)
              ?.hgetall('connected')
              .then((all) => {
                for (const [client, broker] of Object.entries(all))
                  if (client.includes('/bench-')) landed.set(client, /\.(w\d+)\./.exec(broker)?.[1] ?? '?')
              }),
          100,
        )
        const result = await relay(s, kind, MESSAGES)
        clearInterval(sample)
        const seconds = (performance.now() - t0) / 1000
        const threads1 = cpuByThread(pids)
        const perMessage = (key: keyof Threads) => ((threads1[key] - threads0[key]) / result.received) * 1e6
        const subscriberOn = [...landed].find(([client]) => client.includes('/bench-sub-'))?.[1]
        const publishersOn = [...landed].filter(([client]) => client.includes('/bench-pub-')).map(([, w]) => w)
        runs.push({
          setup: s.name,
          topic: kind,
          round,
          result,
          serverCpu: ((total(threads1) - total(threads0)) / seconds) * 100,
          redisCpu: s.redisDb === undefined ? 0 : ((cpuSeconds([redisPid]) - redis0) / seconds) * 100,
          crossing:
            s.workers > 1 ? `${publishersOn.filter((w) => w !== subscriberOn).length}/${publishersOn.length}` : '-',
          load,
          perMessage: { main: perMessage('main'), others: perMessage('others'), primary: perMessage('primary') },
        })
        await sleep(300)
      }
    }
    process.stdout.write(`round ${round + 1}/${ROUNDS} done\n`)
  }
  for (const watcher of watchers.values()) watcher.disconnect()

  const rows: string[][] = []
  const perCpu = (r: Run, withRedis: boolean) =>
    r.result.perSecond / ((r.serverCpu + (withRedis ? r.redisCpu : 0)) / 100)
  const base = (topic: Kind) => runs.filter((r) => r.setup === '1 process' && r.topic === topic)
  // The machine's speed drifts by tens of percent over minutes (a shared VM): a run compared with one
  // process in the same round, seconds apart, cancels that drift; the median of those ratios is the figure.
  const paired = (r: Run, reference = '1 process') => {
    const other = runs.find((o) => o.setup === reference && o.topic === r.topic && o.round === r.round)!
    return perCpu(r, true) / perCpu(other, true)
  }
  for (const s of setups) {
    for (const topic of KINDS) {
      const these = runs.filter((r) => r.setup === s.name && r.topic === topic)
      const sent = these.reduce((n, r) => n + r.result.sent, 0)
      const received = these.reduce((n, r) => n + r.result.received, 0)
      const efficiency = median(these.map((r) => perCpu(r, true)))
      rows.push([
        s.name,
        topic,
        fmt(median(these.map((r) => r.result.perSecond))),
        fmt(median(these.map((r) => r.serverCpu)), 0) + '%',
        s.redisDb === undefined ? '-' : fmt(median(these.map((r) => r.redisCpu)), 0) + '%',
        fmt(median(these.map((r) => r.result.clientCpu)), 0) + '%',
        fmt(median(these.map((r) => perCpu(r, false)))),
        fmt(efficiency),
        (efficiency / median(base(topic).map((r) => perCpu(r, true)))).toFixed(2) + '×',
        median(these.map((r) => paired(r))).toFixed(2) + '×',
        `${received}/${sent}`,
        these.map((r) => r.load.toFixed(1)).join(' '),
      ])
    }
  }
  console.log()
  printTable(
    [
      'setup',
      'topic',
      'msg/s',
      'server CPU',
      'Redis CPU',
      'load gen CPU',
      'msg/CPU-s (server)',
      'msg/CPU-s (+Redis)',
      'vs 1 process',
      'same round',
      'received/sent',
      'load avg (1 min)',
    ],
    rows,
  )
  console.log('\nµs of CPU per message (medians): where the server spent it')
  printTable(
    ['setup', 'topic', 'main threads', 'other threads', 'primary'],
    setups.flatMap((s) =>
      KINDS.map((topic) => {
        const these = runs.filter((r) => r.setup === s.name && r.topic === topic)
        const of = (key: keyof Threads) => fmt(median(these.map((r) => r.perMessage[key])), 2)
        return [s.name, topic, of('main'), of('others'), s.workers > 1 ? of('primary') : '-']
      }),
    ),
  )
  console.log("\neach round's ratio to one process (publishers on another worker than the subscriber)")
  for (const s of setups.filter((setup) => setup.workers > 1 || setup.apart))
    for (const topic of KINDS)
      console.log(
        `${s.name}, ${topic}: ${runs
          .filter((r) => r.setup === s.name && r.topic === topic)
          .map((r) => `${paired(r).toFixed(2)} (${r.crossing})`)
          .join(' ')}`,
      )
  const apart = setups.find((setup) => setup.apart)
  if (apart) {
    // what two workers cost beyond two processes that share nothing, in the same round
    const againstApart = (s: Setup, topic: Kind) =>
      median(runs.filter((r) => r.setup === s.name && r.topic === topic).map((r) => paired(r, apart.name)))
    console.log(`\nsame round, against ${apart.name} (the ceiling on this machine), folder / sub-topic:`)
    for (const s of setups.filter((setup) => setup.workers > 1))
      console.log(`${s.name}: ${KINDS.map((topic) => againstApart(s, topic).toFixed(2) + '×').join(' / ')}`)
  }
  console.log(
    `\ntarget: 2 workers ≥ 0.85× one process in messages per second of CPU (Redis included), the median of each round's ratio to one process ("same round"; "vs 1 process" divides the medians of all rounds). CPU: % of one core over the run (server = primary + workers, all threads; other threads: garbage collection, the optimizing compiler, SQLite's flushes); medians of ${ROUNDS} rounds. 2 processes apart: two servers that share nothing, each with half the publishers and its own subscriber, loaded at once. received/sent over all rounds: more received than sent would be duplicates, fewer are losses (QoS 0).`,
  )
} finally {
  for (const loader of loaders) await loader.stop()
  for (const s of setups)
    for (const served of s.served) {
      await served.server.stop('SIGTERM')
      rmSync(served.dataDir, { recursive: true, force: true })
    }
  await redisServer.stop()
}
