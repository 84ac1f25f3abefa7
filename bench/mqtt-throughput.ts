// QoS 0 relay throughput: Tendril (authenticated controller key, on the controller's folder topic,
// which is also stored in the folder's message history, and on a sub-topic below it, which is only
// relayed) over TCP and WebSocket, against bare Aedes and Mosquitto, measured in the same run with
// the rounds interleaved. The client load (MQTT.js) runs in a child process. Each case sends a fixed
// count, or what it can in 10 s when slower than that.
//   node --import tsx bench/mqtt-throughput.ts [--rounds 5] [--messages 40000] [--publishers 4] [--only TEXT]
//   [--message-history-count N] [--count-queries [--callers]]
// --only keeps the cases whose "name/transport" contains TEXT (the references are always run).
// Two workers (`serve --workers 2`) against one process: bench/workers.ts.
import './lib/as-served.ts'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { startBareAedes, startMosquitto, startTendril, type RunningBroker } from './lib/brokers.ts'
import { seedControllers } from './lib/seed.ts'
import { fmt, machine, median, printTable, ratio, sleep } from './lib/stats.ts'
import type { ThroughputJob, ThroughputResult } from './lib/throughput-worker.ts'
import { startWorker } from './lib/worker.ts'

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    messages: { type: 'string', default: '40000' },
    publishers: { type: 'string', default: '4' },
    only: { type: 'string' },
    'count-queries': { type: 'boolean', default: false },
    callers: { type: 'boolean', default: false },
    'message-history-count': { type: 'string' },
  },
})
const ROUNDS = Number(args.rounds)
const MESSAGES = Number(args.messages)
const PUBLISHERS = Number(args.publishers)
const PAYLOAD = JSON.stringify({ temp: { v: 21.5, unit: 'C', sensor: 'greenhouse-north-0001' } }) // 64 bytes

interface Case {
  name: string
  transport: 'tcp' | 'ws'
  url: string
  topic: string
  auth?: ThroughputJob['auth']
  /** the Aedes case this one is compared with */
  reference?: string
  /** for cases whose messages go into the history: the newest row's id, and the rows written after an id */
  stored?: { lastId: () => Promise<number>; since: (id: number) => Promise<number> }
  results: ThroughputResult[]
  storeLagMs: number[]
  /** rows written per message sent (a folder keeps its newest messages only, so a flood writes fewer) */
  rowsPerMessage: number[]
  /** CPU of this (the brokers') process during each run, % of one core */
  brokerCpu: number[]
  /** how busy the brokers' event loop (the main thread) was during each run, % */
  loopBusy: number[]
}

const started: RunningBroker[] = []
const worker = startWorker<ThroughputJob, ThroughputResult>(new URL('./lib/throughput-worker.ts', import.meta.url))
try {
  const aedes = await startBareAedes()
  started.push(aedes)
  const mosquitto = await startMosquitto()
  if (mosquitto) started.push(mosquitto)
  // the per-client publish rate limit (default 2000/s) would close a publisher sending flat out
  // --message-history-count 0: a folder topic whose messages are not kept (relay only)
  const historyCount = args['message-history-count'] === undefined ? undefined : Number(args['message-history-count'])
  const tendril = await startTendril(
    'sqlite',
    { 'mqtt-publish-rate': 0, ...(historyCount === undefined ? {} : { 'message-history-count': historyCount }) },
    { countQueries: args['count-queries'], callers: args.callers },
  )
  started.push(tendril)
  const [pi] = await seedControllers(tendril.core, 1)
  const auth = { username: 'key', password: pi!.key }
  const kept = historyCount !== 0
  const keptPerFolder = tendril.core.config.messageHistory.count
  const stored = kept
    ? {
        lastId: async () => (await tendril.core.db.message.aggregate({ _max: { id: true } }))._max.id ?? 0,
        since: (id: number) => tendril.core.db.message.count({ where: { folderId: pi!.id, id: { gt: id } } }),
      }
    : undefined
  const folder = kept ? 'Tendril folder (stored)' : 'Tendril folder (not kept)'

  const make = (c: Omit<Case, 'results' | 'storeLagMs' | 'rowsPerMessage' | 'brokerCpu' | 'loopBusy'>): Case => ({
    ...c,
    results: [],
    storeLagMs: [],
    rowsPerMessage: [],
    brokerCpu: [],
    loopBusy: [],
  })
  const all: Case[] = [
    make({ name: 'bare Aedes', transport: 'tcp', url: aedes.tcpUrl, topic: pi!.topic }),
    make({ name: 'bare Aedes', transport: 'ws', url: aedes.wsUrl!, topic: pi!.topic }),
    ...(mosquitto
      ? [
          make({
            name: 'Mosquitto 2',
            transport: 'tcp',
            url: mosquitto.tcpUrl,
            topic: pi!.topic,
            reference: 'bare Aedes/tcp',
          }),
        ]
      : []),
    make({
      name: folder,
      transport: 'tcp',
      url: tendril.tcpUrl,
      topic: pi!.topic,
      auth,
      reference: 'bare Aedes/tcp',
      stored,
    }),
    make({
      name: 'Tendril sub-topic (relay)',
      transport: 'tcp',
      url: tendril.tcpUrl,
      topic: `${pi!.topic}/raw`,
      auth,
      reference: 'bare Aedes/tcp',
    }),
    make({
      name: folder,
      transport: 'ws',
      url: tendril.wsUrl,
      topic: pi!.topic,
      auth,
      reference: 'bare Aedes/ws',
      stored,
    }),
    make({
      name: 'Tendril sub-topic (relay)',
      transport: 'ws',
      url: tendril.wsUrl,
      topic: `${pi!.topic}/raw`,
      auth,
      reference: 'bare Aedes/ws',
    }),
  ]
  const cases = all.filter(
    (c) => c.name === 'bare Aedes' || !args.only || `${c.name}/${c.transport}`.includes(args.only),
  )
  const job = (c: Case, messages: number): ThroughputJob => ({
    url: c.url,
    topic: c.topic,
    auth: c.auth,
    publishers: PUBLISHERS,
    messages,
    payload: PAYLOAD,
    maxMs: 10_000,
    idleMs: 10_000,
  })

  /**
   * After a stored case: how long until the history holds what it keeps of what was relayed (the newest
   * --message-history-count messages at least, with nothing left held back), and how many rows that took.
   */
  const waitStored = async (c: Case, afterId: number, sent: number) => {
    const t0 = performance.now()
    const settled = async () =>
      tendril.core.history.idle && (await c.stored!.since(afterId)) >= Math.min(sent, keptPerFolder)
    while (!(await settled()) && performance.now() - t0 < 60_000) await sleep(5)
    const lag = performance.now() - t0
    c.storeLagMs.push(lag)
    c.rowsPerMessage.push((await c.stored!.since(afterId)) / sent)
  }

  console.log(machine())
  console.log(
    `warm-up, then ${ROUNDS} rounds × ${cases.length} cases; ${MESSAGES} messages of ${PAYLOAD.length} bytes from ${PUBLISHERS} publishers to 1 subscriber`,
  )
  for (const c of cases) await worker.run(job(c, Math.min(MESSAGES, 10_000)), 120_000)
  for (let round = 0; round < ROUNDS; round++) {
    // a different order each round, so drift in the machine's load spreads over every case
    const order = cases.map((_, i) => cases[(i + round) % cases.length]!)
    for (const c of order) {
      const before = c.stored ? await c.stored.lastId() : 0
      tendril.queries?.reset()
      const cpu0 = process.cpuUsage()
      const elu0 = performance.eventLoopUtilization()
      const t0 = performance.now()
      const result = await worker.run(job(c, MESSAGES), 180_000)
      const cpu = process.cpuUsage(cpu0)
      c.brokerCpu.push((cpu.user + cpu.system) / 10 / (performance.now() - t0))
      c.loopBusy.push(performance.eventLoopUtilization(elu0).utilization * 100)
      if (tendril.queries && c.auth)
        console.log(
          `  ${c.name}/${c.transport}: ${fmt(result.perSecond)} msg/s; Tendril database calls: ${tendril.queries.summary().replaceAll(', ', '\n      ')}`,
        )
      c.results.push(result)
      if (c.stored) await waitStored(c, before, result.sent)
      await sleep(200)
    }
    process.stdout.write(`round ${round + 1}/${ROUNDS} done\n`)
  }

  const medianRate = (c: Case) => median(c.results.map((r) => r.perSecond))
  const byKey = new Map(cases.map((c) => [`${c.name}/${c.transport}`, c]))
  console.log()
  printTable(
    [
      'case',
      'transport',
      'msg/s (median)',
      'min',
      'max',
      'vs bare Aedes',
      'same round',
      'delivered',
      'stored +ms',
      'rows/msg',
      'broker CPU',
      'event loop',
      'client CPU',
    ],
    cases.map((c) => {
      const rates = c.results.map((r) => r.perSecond)
      const reference = byKey.get(c.reference ?? `bare Aedes/${c.transport}`)!
      const delivered = c.results.reduce((n, r) => n + r.received, 0) / c.results.reduce((n, r) => n + r.sent, 0)
      return [
        c.name,
        c.transport,
        fmt(medianRate(c)),
        fmt(Math.min(...rates)),
        fmt(Math.max(...rates)),
        c === reference ? '1.00×' : ratio(medianRate(c), medianRate(reference)),
        // each round runs every case once, so a round's ratio is free of the machine's drift between rounds
        c === reference
          ? ''
          : `${median(c.results.map((r, i) => r.perSecond / reference.results[i]!.perSecond)).toFixed(2)}×`,
        (delivered * 100).toFixed(1) + '%',
        c.stored ? fmt(median(c.storeLagMs)) : '-',
        c.stored ? median(c.rowsPerMessage).toFixed(3) : '-',
        fmt(median(c.brokerCpu), 0) + '%',
        fmt(median(c.loopBusy), 0) + '%',
        fmt(median(c.results.map((r) => r.clientCpu)), 0) + '%',
      ]
    }),
  )
  console.log(
    `\ntarget: Tendril ≥ 0.80× bare Aedes on each transport. "same round": the median of the ratios taken round by round. "stored +ms": after the last message was relayed, how long until the history held the newest ${keptPerFolder} (--message-history-count) with nothing held back (median); "rows/msg": history rows written per message sent (median; a folder keeps only its newest ${keptPerFolder}, so of a flood only those are written, core/messages/history.ts). CPU: % of one core, broker process (all threads, includes the connection set-up of each run) and load generator. "event loop": how busy the broker process's main thread was (100% = it is the bottleneck).`,
  )
} finally {
  await worker.stop()
  for (const b of started.reverse())
    await b.stop().catch((err: Error) => console.error(`stopping ${b.name}: ${err.message}`))
}
