// Broker state shared by several Tendril instances through one Redis (docs/architecture.md, "Scaling
// out"): aedes-persistence-redis keeps subscriptions, persistent sessions, queued QoS 1/2 messages
// and retained messages; the mesh (mesh/emitter.ts) carries each publish to the instances that
// listen to its topic, through Redis or, between the workers of one primary, sockets. The instances
// also keep there the MQTT sessions of each key (instances.ts), the QoS 1/2 message ids stored
// lately (retransmissions.ts) and rate-limit counts (core/accounts/throttle-redis.ts).
import { randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import { hostname } from 'node:os'
import type { Aedes } from 'aedes'
import type { Redis as RedisConnection } from 'ioredis'
import { redactUrl, type Config } from '../core/config.ts'
import { redisThrottles } from '../core/accounts/throttle-redis.ts'
import type { Throttles } from '../core/accounts/throttle.ts'
import type { Logger } from '../core/log.ts'
import {
  awayQueueLengths,
  isRunning,
  runningInstances,
  sharedKeySessions,
  sharedPresence,
  startHeartbeat,
} from './instances.ts'
import { startMesh, type MeshEmitter } from './mesh/emitter.ts'
import { within } from './bounded-wait.ts'
import type { QueueLength } from './offline-queue.ts'
import type { SharedPresence } from './presence.ts'
import type { SharedKeySessions } from './limits.ts'
import { redisStoredIds, type SharedStoredIds } from './retransmissions.ts'
import { redisRetainedTopics, type RetainedTopics } from './retained.ts'

/** Every key the broker writes starts with this, so Redis can hold other state beside it. */
export const KEY_PREFIX = 'tendril:mqtt:'

/** The rate-limit counters shared by the instances (core/accounts/throttle-redis.ts). */
export const THROTTLE_KEY_PREFIX = 'tendril:throttle:'

/** How long start-up waits for Redis before it gives up. */
const CONNECT_TIMEOUT_MS = 10_000

/** How long closing waits for Redis to answer before it drops the connections. */
const CLOSE_WAIT_MS = 1000

/** aedes-persistence-redis, as far as Tendril touches it; Aedes drives the rest. */
interface RedisPersistence {
  destroy(): Promise<void>
}

export interface ClusterParts {
  persistence: RedisPersistence
  mq: MeshEmitter
  /** the Aedes broker id: this instance's name plus a suffix new at every start (see brokerName) */
  id: string
  /** rate limits (failed sign-ins, PIN guesses) counted together by the instances */
  throttles: Throttles
  /** what a client connected to no instance has queued (offline-queue.ts), once given the broker */
  queueLengths(aedes: Aedes): QueueLength
  /** which instance holds which controller (presence.ts) */
  presence: SharedPresence
  /** stored QoS 1/2 message ids, so a resend through another instance is stored once (retransmissions.ts) */
  storedIds: SharedStoredIds
  /** MQTT sessions per key on all instances (limits.ts) */
  keySessions: SharedKeySessions
  /** retained topics per organization on all instances (retained.ts) */
  retainedTopics: RetainedTopics
  /** ends every Redis connection */
  close(): Promise<void>
}

// Loaded only with --redis: an instance on the embedded defaults never needs them.
// aedes-persistence-redis ships no types. The Redis client both libraries
// are built on (ioredis) is loaded from where they load it: the connections Tendril opens are the
// ones they expect.
function redisLibraries() {
  const requireHere = createRequire(import.meta.url)
  return {
    createRedisPersistence: requireHere('aedes-persistence-redis') as (options: {
      conn: RedisConnection
    }) => RedisPersistence,
    Redis: createRequire(requireHere.resolve('aedes-persistence-redis'))('ioredis') as typeof RedisConnection,
  }
}

/**
 * The name an instance goes by among several: --broker-id, else the host name and HTTP port, which
 * no two instances on one host share while both listen (with --port 0, set --broker-id).
 *
 * Aedes gets this name plus a suffix new at every start, not the bare name. Persistent sessions
 * live under their client id, not the broker's, so they survive a restart either way; but
 * aedes-persistence-redis stores each queued message under `packet:<broker id>:<counter>` and Aedes
 * restarts the counter at 0, so a restarted instance with the same id would overwrite messages
 * still queued for offline clients with new ones, possibly on topics those clients may not read.
 * A new id per start also lets the other instances publish the wills of clients the previous
 * process held, which they skip while a broker of that id sends heartbeats.
 */
export function brokerName(config: Pick<Config, 'brokerId' | 'port'>): string {
  return config.brokerId ?? `${hostname().replace(/[^A-Za-z0-9._-]/g, '-')}-${config.port}`
}

/** `name.<start time><random>`: '.' because the persistence splits its keys at ':'. */
function brokerIdForThisStart(name: string): string {
  return `${name}.${Date.now().toString(36)}${randomBytes(3).toString('hex')}`
}

/** `meshSecret`: given to the workers of one primary, which then relay messages over sockets. */
export async function createClusterParts(
  redisUrl: string,
  name: string,
  log: Logger,
  meshSecret?: string,
): Promise<ClusterParts> {
  const { createRedisPersistence, Redis } = redisLibraries()
  const where = redactUrl(redisUrl)
  const options = { lazyConnect: true, connectTimeout: CONNECT_TIMEOUT_MS }
  const data = new Redis(redisUrl, { ...options, keyPrefix: KEY_PREFIX })
  const pub = new Redis(redisUrl, { ...options, enableAutoPipelining: true })
  const sub = new Redis(redisUrl, options)
  const limits = new Redis(redisUrl, { ...options, keyPrefix: THROTTLE_KEY_PREFIX })
  const connections = [data, pub, sub, limits]
  try {
    await connectAll(connections, where)
  } catch (err) {
    for (const connection of connections) connection.disconnect()
    throw err
  }
  for (const [role, connection] of [
    ['data', data],
    ['publish', pub],
    ['subscribe', sub],
    ['rate limits', limits],
  ] as const)
    reportOutages(connection, role, where, log)

  const persistence = createRedisPersistence({ conn: data })
  const id = brokerIdForThisStart(name)
  const heartbeat = startHeartbeat(data, id, log)
  let mq: MeshEmitter
  try {
    mq = await startMesh({
      id,
      channelPrefix: `${KEY_PREFIX}${data.options.db ?? 0}/`,
      pub,
      sub,
      secret: meshSecret,
      log,
      runningInstances: () => runningInstances(data),
      isRunning: (other) => isRunning(data, other),
    })
  } catch (err) {
    await within(CLOSE_WAIT_MS, heartbeat.stop())
    for (const connection of connections) connection.disconnect()
    throw err
  }
  log.info(
    { brokerId: id, redis: where, peers: mq.peers().length, meshPort: mq.port },
    'mqtt broker state shared through redis',
  )

  let closing: Promise<void> | undefined
  const close = async () => {
    // The persistence unsubscribes from the emitter, then drops its connection; Aedes closed the
    // emitter when it closed, unless it never started. While Redis is away neither finishes (ioredis
    // keeps the commands for a reconnection), so each gets a moment and what is left is dropped.
    await within(
      CLOSE_WAIT_MS,
      persistence.destroy().catch((err: Error) => log.debug({ err }, 'closing the redis persistence')),
    )
    await new Promise<void>((resolve) => mq.close(resolve))
    await within(CLOSE_WAIT_MS, heartbeat.stop())
    // (a second disconnect of a closed connection would hold the process for 2 s)
    for (const connection of connections) if (connection.status !== 'end') connection.disconnect()
  }
  return {
    persistence,
    mq,
    id,
    throttles: redisThrottles(limits, log),
    queueLengths: (aedes) => awayQueueLengths(data, aedes, log),
    presence: sharedPresence(data, id),
    storedIds: redisStoredIds(data),
    keySessions: sharedKeySessions(data, id),
    retainedTopics: redisRetainedTopics(data),
    close: () => (closing ??= close()),
  }
}

/** Connects every connection or none, with the reason Redis could not be reached. */
async function connectAll(connections: RedisConnection[], where: string): Promise<void> {
  let reason: Error | undefined
  const remember = (err: Error) => (reason ??= err)
  for (const connection of connections) connection.on('error', remember)
  try {
    await Promise.all(connections.map((connection) => connection.connect()))
  } catch (err) {
    throw new Error(`cannot reach Redis at ${where}: ${(reason ?? (err as Error)).message}`, { cause: err })
  } finally {
    for (const connection of connections) connection.off('error', remember)
  }
}

/** One log line when a connection drops and one when it is back; ioredis retries meanwhile. */
function reportOutages(connection: RedisConnection, role: string, where: string, log: Logger): void {
  let down = false
  connection.on('error', (err: Error) => {
    if (!down) log.warn({ err, redis: where, connection: role }, 'redis connection lost; retrying')
    down = true
  })
  connection.on('ready', () => {
    if (down) log.info({ redis: where, connection: role }, 'redis connection restored')
    down = false
  })
}
