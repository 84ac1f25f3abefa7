// Fault scenario "one of two instances dies" (issue 21), shared by bench/faults/instance-death.ts and its
// short test: two real `tendril serve --redis` on one PostgreSQL database; controllers with persistent
// sessions (clean: false, QoS 1) and publishers spread over both; one instance is SIGKILLed and its
// clients move to the other (as a load balancer would send them). Then: is every acknowledged message
// delivered to its session, are retained messages there, is presence corrected, and once the dead
// instance is back, do the two work together again.
import mqtt, { type MqttClient } from 'mqtt'
import { createController, createOrg } from '../../core/admin.ts'
import { freePort } from '../harness/ports.ts'
import { startServer, type RunningServer } from './cli.ts'
import { openTestCore } from './core.ts'
import { basicAuth, eventually } from './http.ts'
import { freshRedisDatabase } from './redis.ts'

export interface InstanceDeathOptions {
  controllers: number
  publishers: number
  rounds: number
  /** the kill comes at a random moment this many ms after every publisher publishes */
  minUpMs: number
  maxUpMs: number
  /** how long the publishers go on once all publish again on the survivor */
  afterMs: number
  /** bound on the wait for presence to be corrected (the dead instance's `alive` key lasts 30 s) */
  presenceWithinMs: number
  log?: (line: string) => void
}

export interface RoundResult {
  killed: string
  acknowledged: number
  /** acknowledged messages per second while publishing (one in flight per publisher) */
  perSecond: number
  /** dead instance's controllers still shown connected right after the kill (stale, until corrected) */
  staleAtKill: number
  /** ms from the kill until the REST API showed every controller as expected; undefined if never */
  presenceCorrectedMs?: number
  /** controllers shown wrong when the wait ended: `<name>: shown <connected>` */
  presenceWrong: string[]
  retained: { expected: number; missing: string[] }
  restartMs: number
  /** a message published on one instance reached a subscriber on the other, both ways, after the restart */
  together: boolean
}

export interface InstanceDeathResult {
  acknowledged: number
  /** acknowledged messages that reached their session (at least once) */
  delivered: number
  /** deliveries beyond the first (QoS 1 is at least once) */
  duplicates: number
  /** acknowledged, never delivered, not even when every session resumed at the end: must be none */
  lost: string[]
  /**
   * acknowledged for a session online at the time, delivered only when it resumed at the end (queued for it,
   * but the relay to its instance died with the other one)
   */
  late: string[]
  /** delivered but never sent: must be none */
  unknown: string[]
  rounds: RoundResult[]
}

type Role = 'moves' | 'away' | 'offline' | 'stays'

interface Controller {
  name: string
  key: string
  client?: MqttClient
  received: Map<string, number>
}

interface Instance {
  name: string
  mqttPort: number
  server?: RunningServer
}

const MAX_QUEUED = 1_000_000

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export async function instanceDeath(options: InstanceDeathOptions): Promise<InstanceDeathResult> {
  const log = options.log ?? (() => {})
  const core = await openTestCore('postgresql')
  const { dataDir } = core.config
  await createOrg(core, 'acme')
  const controllers: Controller[] = []
  for (let i = 0; i < options.controllers; i++) {
    const name = `c-${i}`
    controllers.push({ name, key: (await createController(core, `acme/${name}`)).key, received: new Map() })
  }
  const publisherKeys: string[] = []
  for (let k = 0; k < options.publishers; k++) publisherKeys.push((await createController(core, `acme/pub-${k}`)).key)
  const watcherKey = (await createController(core, 'acme/watcher')).key
  const dbUrl = core.config.database.url
  await core.close() // the server processes are the only writers, as in production
  const redis = await freshRedisDatabase()
  const instances: Instance[] = [
    { name: 'a', mqttPort: await freePort() },
    { name: 'b', mqttPort: await freePort() },
  ]
  const args = (i: Instance) => [
    '--db',
    dbUrl,
    '--data-dir',
    dataDir,
    '--redis',
    redis,
    '--broker-id',
    i.name,
    '--mqtt-port',
    String(i.mqttPort),
    // what --mqtt-max-queued drops for an absent session is by design (offline-queue.ts), not what this looks for
    '--mqtt-max-queued',
    String(MAX_QUEUED),
  ]
  const start = async (i: Instance) => (i.server = await startServer(args(i)))
  const sent = new Map<string, string>() // payload → controller it was sent to
  const acked = new Map<string, string>()
  const result: InstanceDeathResult = {
    acknowledged: 0,
    delivered: 0,
    duplicates: 0,
    lost: [],
    late: [],
    unknown: [],
    rounds: [],
  }
  const ctx: Ctx = { options, log, controllers, publisherKeys, watcherKey, instances, start, sent, acked }
  try {
    await Promise.all(instances.map(start))
    for (let round = 0; round < options.rounds; round++) result.rounds.push(await runRound(ctx, round))
    const undelivered = [...acked].filter(([payload, name]) => !byName(controllers, name).received.has(payload))
    // every session resumes once more: what was queued for it and never relayed comes now
    for (const c of controllers) await connectController(c, instances[0]!, 0)
    await untilDelivered(ctx, () => true, 5000)
    result.late = undelivered
      .filter(([p, name]) => byName(controllers, name).received.has(p))
      .map(([p, n]) => `${n}:${p}`)
    tally(controllers, sent, acked, result)
    return result
  } finally {
    for (const c of controllers) c.client?.end(true)
    await Promise.all(instances.map((i) => i.server?.stop('SIGKILL')))
  }
}

interface Ctx {
  options: InstanceDeathOptions
  log: (line: string) => void
  controllers: Controller[]
  publisherKeys: string[]
  watcherKey: string
  instances: Instance[]
  start(i: Instance): Promise<RunningServer>
  sent: Map<string, string>
  acked: Map<string, string>
}

/** Of the dead instance's controllers (even ones): a third move to the survivor, a third stay away, a third were offline. */
function roleOf(i: number): Role {
  if (i % 2 === 1) return 'stays'
  return (['moves', 'away', 'offline'] as const)[(i / 2) % 3]!
}

async function runRound(ctx: Ctx, round: number): Promise<RoundResult> {
  const dead = ctx.instances[round % 2]!
  const survivor = ctx.instances[(round + 1) % 2]!
  const { controllers, options, log } = ctx
  const home = (i: number) => (roleOf(i) === 'stays' ? survivor : dead)
  await Promise.all(controllers.map((c, i) => connectController(c, home(i), roleOf(i) === 'away' ? 0 : 100)))
  for (const [i, c] of controllers.entries()) if (roleOf(i) === 'offline') await c.client!.endAsync()

  const publishers = ctx.publisherKeys.map((key, k) => ({
    client: connect(k % 2 ? survivor : dead, key, { clientId: `pub-${k}-r${round}`, reconnectPeriod: 100 }),
    acked: 0,
  }))
  let publishing = true
  const publishingSince = Date.now()
  const loops = publishers.map((p, k) =>
    (async () => {
      for (let n = 1; publishing; n++) {
        const target = controllers[(k + n) % controllers.length]!
        const payload = `${round}:${k}:${n}`
        ctx.sent.set(payload, target.name)
        await p.client.publishAsync(`acme/${target.name}/commands/r${round}`, payload, { qos: 1 })
        ctx.acked.set(payload, target.name)
        p.acked++
      }
    })(),
  )
  const retained = await publishRetained(ctx, round, dead, survivor)
  await untilAllPublishing(publishers)
  await sleep(options.minUpMs + Math.random() * (options.maxUpMs - options.minUpMs))

  // the load balancer sends what reconnects to the survivor from now on
  const onDead = [...controllers.map((c) => c.client!), ...publishers.map((p) => p.client)].filter(
    (c) => c.options.port === dead.mqttPort,
  )
  for (const c of onDead) c.options.port = survivor.mqttPort
  const ackedBefore = ctx.acked.size
  await killAtNextPuback(dead.server!, onDead)
  const killedAt = Date.now()
  const staleAtKill = (await shownConnected(survivor, ctx.watcherKey, controllers)).filter(
    (shown, i) => shown && home(i) === dead,
  ).length
  log(`round ${round + 1}: SIGKILL instance ${dead.name} after ${ackedBefore} messages acknowledged`)

  await untilAllPublishing(publishers)
  await sleep(options.afterMs)
  publishing = false
  const publishedFor = Date.now() - publishingSince
  await Promise.all(loops)
  await Promise.all(publishers.map((p) => p.client.endAsync()))
  const acknowledged = publishers.reduce((sum, p) => sum + p.acked, 0)
  for (const [i, c] of controllers.entries()) if (roleOf(i) === 'offline') await connectController(c, survivor, 100)
  await untilDelivered(ctx, (i) => roleOf(i) !== 'away')

  const missing = await missingRetained(survivor, ctx.watcherKey, retained)
  const presence = await presenceCorrected(ctx, survivor, killedAt)
  log(
    `round ${round + 1}: ${acknowledged} acknowledged; presence ${presence.ms === undefined ? 'NOT corrected' : `corrected ${presence.ms} ms after the kill`}`,
  )
  for (const [i, c] of controllers.entries()) if (roleOf(i) === 'away') await connectController(c, survivor, 100)
  await untilDelivered(ctx, () => true)

  const restarted = Date.now()
  await ctx.start(dead)
  const restartMs = Date.now() - restarted
  const together =
    (await crossDelivery(ctx.watcherKey, dead, survivor)) && (await crossDelivery(ctx.watcherKey, survivor, dead))
  log(`round ${round + 1}: instance ${dead.name} restarted in ${restartMs} ms; the two together again: ${together}`)
  return {
    killed: dead.name,
    acknowledged,
    perSecond: Math.round((acknowledged / publishedFor) * 1000),
    staleAtKill,
    presenceCorrectedMs: presence.ms,
    presenceWrong: presence.wrong,
    retained: { expected: retained.size, missing },
    restartMs,
    together,
  }
}

/** SIGKILL the moment a client hears a PUBACK from it: what the instance acknowledged must be safe by then. */
async function killAtNextPuback(server: RunningServer, clients: MqttClient[]): Promise<void> {
  await new Promise<void>((resolve) => {
    const onPacket = (packet: { cmd: string }) => {
      if (packet.cmd !== 'puback') return
      server.child.kill('SIGKILL')
      for (const c of clients) c.off('packetreceive', onPacket)
      resolve()
    }
    for (const c of clients) c.on('packetreceive', onPacket)
  })
  await server.stop('SIGKILL')
}

function connect(instance: Instance, key: string, options: mqtt.IClientOptions): MqttClient {
  return mqtt.connect(`mqtt://127.0.0.1:${instance.mqttPort}`, {
    username: 'key',
    password: key,
    connectTimeout: 5000,
    ...options,
  })
}

/** A persistent session (fixed client id, clean: false) subscribed at QoS 1 to its commands. */
async function connectController(c: Controller, instance: Instance, reconnectPeriod: number): Promise<void> {
  if (c.client?.connected)
    await c.client.endAsync() // a clean DISCONNECT: the session stays
  else c.client?.end(true)
  const client = connect(instance, c.key, { clientId: c.name, clean: false, reconnectPeriod })
  c.client = client
  client.on('message', (_topic, payload) => {
    const text = payload.toString()
    c.received.set(text, (c.received.get(text) ?? 0) + 1)
  })
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve())
    client.once('error', reject)
  })
  const granted = await client.subscribeAsync(`acme/${c.name}/commands/#`, { qos: 1 })
  if (granted[0]?.qos !== 1) throw new Error(`${c.name}: subscription granted ${granted[0]?.qos}`)
}

/** Every publisher has had a message acknowledged since now (bounded). */
async function untilAllPublishing(publishers: { acked: number }[]): Promise<void> {
  const before = publishers.map((p) => p.acked)
  if (!(await eventually(() => publishers.every((p, i) => p.acked > before[i]!), 30_000)))
    throw new Error('publishers did not publish again within 30 s')
}

/** Waits (bounded) until the chosen controllers have every message acknowledged for them. */
async function untilDelivered(ctx: Ctx, which: (i: number) => boolean, ms = 20_000): Promise<void> {
  const wanted = new Map(ctx.controllers.filter((_, i) => which(i)).map((c) => [c.name, c]))
  await eventually(() => {
    for (const [payload, name] of ctx.acked) if (wanted.get(name)?.received.has(payload) === false) return false
    return true
  }, ms)
}

const byName = (controllers: Controller[], name: string) => controllers.find((c) => c.name === name)!

/** One retained message per controller, half through each instance; the latest payload per topic. */
async function publishRetained(ctx: Ctx, round: number, dead: Instance, survivor: Instance) {
  const expected = new Map<string, string>()
  const via = [dead, survivor].map((i) => connect(i, ctx.watcherKey, { reconnectPeriod: 0 }))
  try {
    await Promise.all(
      ctx.controllers.map(async (c, i) => {
        const payload = `retained r${round} via ${[dead, survivor][i % 2]!.name}`
        await via[i % 2]!.publishAsync(`acme/${c.name}/config`, payload, { qos: 1, retain: true })
        expected.set(`acme/${c.name}/config`, payload)
      }),
    )
  } finally {
    await Promise.all(via.map((c) => c.endAsync()))
  }
  return expected
}

/** A new client on the survivor subscribes to every controller's config: the retained messages it lacks. */
async function missingRetained(instance: Instance, key: string, expected: Map<string, string>): Promise<string[]> {
  const client = connect(instance, key, { reconnectPeriod: 0 })
  const got = new Map<string, string>()
  client.on('message', (topic, payload, packet) => packet.retain && got.set(topic, payload.toString()))
  try {
    await client.subscribeAsync('acme/+/config', { qos: 1 })
    await eventually(() => [...expected].every(([topic, payload]) => got.get(topic) === payload), 5000)
    return [...expected].filter(([topic, payload]) => got.get(topic) !== payload).map(([topic]) => topic)
  } finally {
    await client.endAsync()
  }
}

/** Each controller's `connected` as the REST API lists it (extended=1). */
async function shownConnected(instance: Instance, key: string, controllers: Controller[]): Promise<boolean[]> {
  const res = await fetch(`${instance.server!.url}/api/v1/resources/acme?extended=1`, {
    headers: { authorization: basicAuth(key) },
  })
  if (res.status !== 200) throw new Error(`GET /api/v1/resources/acme: ${res.status} ${await res.text()}`)
  const listed = (await res.json()) as { name: string; connected?: boolean }[]
  const byName = new Map(listed.map((r) => [r.name, r.connected]))
  return controllers.map((c) => byName.get(c.name) === true)
}

/** Waits until the controllers that stay away are shown offline and every other one online. */
async function presenceCorrected(ctx: Ctx, survivor: Instance, killedAt: number) {
  const expected = ctx.controllers.map((_, i) => roleOf(i) !== 'away')
  let shown: boolean[] = []
  const deadline = killedAt + ctx.options.presenceWithinMs
  for (;;) {
    shown = await shownConnected(survivor, ctx.watcherKey, ctx.controllers)
    if (shown.every((s, i) => s === expected[i])) return { ms: Date.now() - killedAt, wrong: [] }
    if (Date.now() > deadline) break
    await sleep(250)
  }
  const wrong = ctx.controllers.flatMap((c, i) => (shown[i] === expected[i] ? [] : [`${c.name}: shown ${shown[i]}`]))
  return { ms: undefined, wrong }
}

/** A QoS 1 message published through `from` reaches a subscriber on `to`. */
async function crossDelivery(key: string, from: Instance, to: Instance): Promise<boolean> {
  const subscriber = connect(to, key, { reconnectPeriod: 0 })
  const publisher = connect(from, key, { reconnectPeriod: 0 })
  try {
    const topic = `acme/watcher/together/${from.name}-${to.name}`
    let got = false
    subscriber.on('message', (t) => (got ||= t === topic))
    await subscriber.subscribeAsync(topic, { qos: 1 })
    await publisher.publishAsync(topic, 'hello', { qos: 1 })
    return await eventually(() => got, 5000)
  } finally {
    await Promise.all([subscriber.endAsync(), publisher.endAsync()])
  }
}

function tally(
  controllers: Controller[],
  sent: Map<string, string>,
  acked: Map<string, string>,
  result: InstanceDeathResult,
): void {
  const byName = new Map(controllers.map((c) => [c.name, c]))
  result.acknowledged = acked.size
  for (const [payload, name] of acked) {
    const count = byName.get(name)!.received.get(payload) ?? 0
    if (count === 0) result.lost.push(`${name}:${payload}`)
    else result.delivered++
  }
  for (const c of controllers)
    for (const [payload, count] of c.received) {
      if (sent.get(payload) !== c.name) result.unknown.push(`${c.name}:${payload}`)
      result.duplicates += count - 1
    }
}
