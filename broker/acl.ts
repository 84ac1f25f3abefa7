// Authorization of PUBLISH, SUBSCRIBE and forwarding through the core's permission rules, as functions
// over one Acl context. Publishing needs write (authorizeWrite); subscribing needs read of every topic
// the filter can match; forwarding reads what subscribing found (grants.ts), re-decided by recheck.
import { setImmediate as yieldToEventLoop } from 'node:timers/promises'
import type { Client, PublishPacket, Subscription } from 'aedes'
import type { Core } from '../core/index.ts'
import {
  accessToPath,
  levelAt,
  loadListed,
  pathFactsOf,
  subtreeLevels,
  unscopedAdmin,
  type FindListed,
  type ListedResource,
  type PathFacts,
} from '../core/resources/access.ts'
import { joinPath } from '../core/resources/paths.ts'
import { canWrite, type Principal } from '../core/resources/permissions.ts'
import type { PathResolver } from '../core/resources/resolver.ts'
import { AccessLevel } from '../core/resources/types.ts'
import { ttlCache, type TtlCache } from '../core/ttl-cache.ts'
import { reportUnreachable } from '../core/db/availability.ts'
import { sessionOf, type ClientSession } from './clients.ts'
import { isReply } from './replies.ts'
import { admits, type ReadGrant } from './grants.ts'
import type { Verdict } from './pipeline.ts'
import { accessNames, filterShape, hasEmptyLevel, loggedTopic } from './topics.ts'

/**
 * How long an access answer (a PUBLISH topic's level, a subscription's grant) stands before it is
 * decided again. Changes made through Tendril move the access version, which re-decides every answer
 * within a second (revalidate.ts); this bound is for changes made behind Tendril's back (direct
 * database edits).
 */
export const ACCESS_TTL_MS = 30_000

/**
 * How long an organization's resources with lists of their own are kept for SUBSCRIBE checks (a re-check drops them).
 */
const LISTED_TTL_MS = 5000
/** Answers a re-check sets between two turns of the event loop, so delivery goes on meanwhile. */
const ANSWERS_PER_TURN = 1000

const NEGATIVE_SUBACK = null // aedes answers a null subscription with SUBACK 0x80

/**
 * What decides a filter's grant: the principal alone (`#`, `+/…`, `$SYS`), a path's facts, or nothing (no valid path:
 * no one may read it).
 */
type Basis = { principal: true } | { names: string[]; wildcard: boolean } | null

function basisOf(filter: string): Basis {
  const shape = filterShape(filter)
  if (shape.system || shape.prefixPath === '') return { principal: true }
  try {
    if (!shape.wildcard) return { names: accessNames(filter), wildcard: false } // a topic as publishing reads it
    // a grant covers topics by their levels, so each level before the wildcard must be a name as written;
    // below an empty level (`acme//#`) nothing has a list of its own: the folder before it decides alone
    const levels = shape.prefixPath.slice(1)
    const names = accessNames(levels)
    return { names, wildcard: !hasEmptyLevel(levels) }
  } catch {
    return null
  }
}

function grantFrom(principal: Principal, filter: string, basis: Basis, facts?: PathFacts): ReadGrant {
  const shape = filterShape(filter)
  const grant: ReadGrant = {
    prefix: shape.wildcard ? shape.prefixPath.slice(1) : filter,
    exact: !shape.wildcard,
    level: AccessLevel.none,
    below: [],
  }
  if (basis === null) return grant
  // they match every organization
  if ('principal' in basis) return { ...grant, level: unscopedAdmin(principal) ? AccessLevel.write : AccessLevel.none }
  if (!facts) return grant
  if (!basis.wildcard) return { ...grant, level: levelAt(principal, facts) }
  const { level, below } = subtreeLevels(principal, facts)
  return { ...grant, level, below: below.map((b) => ({ topic: b.names.join('/'), level: b.level })) }
}

/** Times an answer is worked out again because a re-check started while it was read. */
const SETTLE_TRIES = 3

/** What the ACL steps share: the core, the path resolver, and the caches below. */
export interface Acl {
  core: Core
  resolver: PathResolver
  /**
   * Moves when a re-check starts: an answer whose reads began before then may predate the change that
   * started it, so it is worked out again rather than kept (settle).
   */
  generation: number
  /** sessions that kept an answer since the last re-check started: the next re-check takes them even if
   * Aedes does not list them yet (a persistent session restores its subscriptions before it is registered) */
  touched: Set<ClientSession>
  /** PUBLISH checks running, by session and topic, which later PUBLISHes to the topic wait for */
  running: WeakMap<ClientSession, Map<string, Promise<number>>>
  /** an organization's resources with lists of their own, for SUBSCRIBE checks */
  listed: TtlCache<ListedResource[]>
  findListed: FindListed
  /** the re-check running or last run: they run one at a time */
  lastRecheck: Promise<void>
}

export function createAcl(core: Core, resolver: PathResolver): Acl {
  const listed = ttlCache<ListedResource[]>(LISTED_TTL_MS, 10_000)
  const findListed: FindListed = (organizationId) =>
    listed.get(
      String(organizationId),
      async () => (await loadListed(core.db, [organizationId])).get(organizationId) ?? [],
    )
  return {
    core,
    resolver,
    generation: 0,
    touched: new Set(),
    running: new WeakMap(),
    listed,
    findListed,
    lastRecheck: Promise.resolve(),
  }
}

/**
 * Works an answer out and keeps it. keep() runs in the same turn as the generation test, so no
 * re-check can start between them and miss the answer.
 */
async function settle<T>(
  acl: Acl,
  session: ClientSession,
  work: () => Promise<T>,
  keep: (result: T) => void,
): Promise<T> {
  for (let tries = 1; ; tries++) {
    const started = acl.generation
    const result = await work()
    // a few tries at most, so that steady changes cannot keep a CONNECT or SUBSCRIBE waiting: an
    // answer kept though a re-check started meanwhile is re-decided by the next one (touched)
    if (started !== acl.generation && tries < SETTLE_TRIES) continue
    keep(result)
    acl.touched.add(session)
    return result
  }
}

// --- PUBLISH: write access to the topic ---

/** The PUBLISH step: refuses a packet its client may not publish; answers at once when the level is cached. */
export function authorizeWrite(acl: Acl, client: Client | null, packet: PublishPacket): Verdict {
  const session = sessionOf(client)
  if (!session) return new Error('not authenticated')
  if (packet.topic.startsWith('$')) return new Error('$ topics are reserved')
  // an anonymous viewer (a public read-only page) only watches, even where public write is granted
  if (session.principal.kind === 'anonymous') {
    acl.core.log.info(
      { clientId: client?.id, topic: loggedTopic(packet.topic) },
      'mqtt publish refused: anonymous viewers only subscribe',
    )
    return new Error('anonymous viewers may not publish')
  }
  // the common case answers at once: no promise per message on the relay path
  const cached = session.access.get(packet.topic)
  if (cached && Date.now() - cached.checkedAt < ACCESS_TTL_MS) return decide(acl, client, packet.topic, cached.level)
  return levelFor(acl, session, packet.topic).then((level) => decide(acl, client, packet.topic, level))
}

function decide(acl: Acl, client: Client | null, topic: string, level: number): Error | undefined {
  if (canWrite(level)) return undefined
  acl.core.log.info({ clientId: client?.id, topic: loggedTopic(topic) }, 'mqtt publish refused: no write access')
  return new Error('no write access to ' + topic) // [MQTT-3.3.5-2]: the connection is closed
}

async function levelFor(acl: Acl, session: ClientSession, topic: string): Promise<number> {
  const cached = session.access.get(topic)
  if (cached && Date.now() - cached.checkedAt < ACCESS_TTL_MS) return cached.level
  return sharedCheck(acl, session, topic)
}

// One socket read can carry a thousand PUBLISHes to one topic: while its first check is still
// waiting for the database, the others wait for that same check instead of each running their own.
function sharedCheck(acl: Acl, session: ClientSession, topic: string): Promise<number> {
  let byTopic = acl.running.get(session)
  if (!byTopic) acl.running.set(session, (byTopic = new Map()))
  const running = byTopic.get(topic)
  if (running) return running
  const started = check(acl, session, topic).finally(() => byTopic.delete(topic))
  byTopic.set(topic, started)
  return started
}

function check(acl: Acl, session: ClientSession, topic: string): Promise<number> {
  // a topic with a bad name or an empty first level can be reached by no one
  const look = () => levelOfTopic(acl, session.principal, topic).catch(() => 0)
  return settle(acl, session, look, (level) => session.access.set(topic, { level, checkedAt: Date.now() }))
}

async function levelOfTopic(acl: Acl, principal: Principal, topic: string): Promise<number> {
  return accessToPath(acl.core.db, principal, joinPath(accessNames(topic)), acl.resolver.findLive)
}

// --- SUBSCRIBE: read access to every topic the filter can match ---

// Also called for each subscription a persistent session restores, before its queue is delivered.
export function authorizeSubscribe(
  acl: Acl,
  client: Client,
  subscription: Subscription,
  callback: (err: Error | null, subscription?: Subscription | null) => void,
): void {
  const session = sessionOf(client)
  if (!session) return callback(new Error('not authenticated'))
  const filter = subscription.topic
  const keep = (grant: ReadGrant) => {
    // a refused filter that was subscribed before goes on (Aedes keeps it), narrowed to what may still be read
    if (admits(grant) || session.grants.has(filter)) session.grants.set(filter, grant)
  }
  settle(acl, session, () => grantOf(acl, session.principal, filter), keep)
    .catch((err: Error) => {
      if (!reportUnreachable(acl.core.log, err, 'mqtt subscribe'))
        acl.core.log.error({ err, clientId: client.id, filter: loggedTopic(filter) }, 'mqtt subscription check failed')
      return grantFrom(session.principal, filter, null) // reads nothing
    })
    .then((grant) => {
      if (admits(grant)) return callback(null, subscription)
      acl.core.log.info({ clientId: client.id, filter: loggedTopic(filter) }, 'mqtt subscription refused')
      callback(null, NEGATIVE_SUBACK)
    })
}

async function grantOf(acl: Acl, principal: Principal, filter: string): Promise<ReadGrant> {
  const basis = basisOf(filter)
  if (basis === null || 'principal' in basis) return grantFrom(principal, filter, basis)
  const [facts] = await pathFactsOf(
    acl.core.db,
    [{ names: basis.names, below: basis.wildcard }],
    acl.resolver.findLive,
    acl.findListed,
  )
  return grantFrom(principal, filter, basis, facts)
}

/** The client dropped these subscriptions, and with them what they let it read. */
export function unsubscribed(client: Client, filters: string[]): void {
  const session = sessionOf(client)
  for (const filter of filters) session?.grants.delete(filter)
}

// --- forwarding: what subscribing found ---

// Synchronous by Aedes' contract, so it decides from the grants alone: a topic none covers is dropped,
// never forwarded while a check runs.
export function mayForward(client: Client, packet: PublishPacket): boolean {
  const session = sessionOf(client)
  return !!session?.grants.mayForward(packet.topic) || isReply(packet)
}

// --- re-check: every answer again, after access rules changed ---

type Work =
  | { session: ClientSession; topic: string; entry: { level: number; checkedAt: number }; key: string | null }
  | { session: ClientSession; filter: string; grant: ReadGrant; basis: Basis; key: string }

/** Re-decides every access answer and grant the sessions hold, in a few shared queries; one re-check at a time. */
export function recheck(acl: Acl, sessions: ClientSession[]): Promise<void> {
  // a later re-check's answers must not be overwritten by an earlier one's
  return (acl.lastRecheck = acl.lastRecheck.catch(() => {}).then(() => recheckNow(acl, sessions)))
}

// Every path any session asked about is read once for all of them, in a few queries (core's
// pathFactsOf); the answers are then worked out in memory. Old answers stay in place until their
// replacements are known, so delivery never runs on a gap; one replaced meanwhile is newer and stays.
async function recheckNow(acl: Acl, given: ClientSession[]): Promise<void> {
  acl.generation++
  const sessions = new Set([...given, ...acl.touched])
  acl.touched = new Set()
  acl.listed.clear()
  const started = Date.now()
  const requests = new Map<string, { names: string[]; below: boolean }>()
  const work = workOf(sessions, requests)
  const keys = [...requests.keys()]
  const loaded = await pathFactsOf(acl.core.db, [...requests.values()]).catch((err: unknown) => {
    for (const session of sessions) acl.touched.add(session) // the next re-check takes them all again
    throw err
  })
  await answer(work, new Map(keys.map((key, i) => [key, loaded[i]!])))
  acl.core.log.debug(
    { sessions: sessions.size, answers: work.length, paths: keys.length, ms: Date.now() - started },
    'mqtt access re-checked',
  )
}

/** What each session holds, with the key of the path facts that decide it (gathered in `requests`). */
function workOf(sessions: Set<ClientSession>, requests: Map<string, { names: string[]; below: boolean }>): Work[] {
  const need = (names: string[], below: boolean) => {
    const key = (below ? '#' : '=') + names.join('/')
    if (!requests.has(key)) requests.set(key, { names, below })
    return key
  }
  const work: Work[] = []
  for (const session of sessions) {
    for (const [topic, entry] of session.access) {
      let names: string[] | null = null
      try {
        names = accessNames(topic)
      } catch {
        // no one may reach it: it stays at none
      }
      work.push({ session, topic, entry, key: names && need(names, false) })
    }
    for (const [filter, grant] of session.grants.entries()) {
      const basis = basisOf(filter)
      if (basis !== null && !('principal' in basis))
        work.push({ session, filter, grant, basis, key: need(basis.names, basis.wildcard) })
    }
  }
  return work
}

/** Sets the new answers, yielding to delivery every ANSWERS_PER_TURN; an answer replaced meanwhile stays. */
async function answer(work: Work[], facts: Map<string, PathFacts>): Promise<void> {
  const now = Date.now()
  for (let i = 0; i < work.length; i++) {
    if (i > 0 && i % ANSWERS_PER_TURN === 0) await yieldToEventLoop()
    const item = work[i]!
    const { session } = item
    if ('topic' in item) {
      if (session.access.get(item.topic) !== item.entry) continue
      const level = item.key === null ? AccessLevel.none : levelAt(session.principal, facts.get(item.key)!)
      session.access.set(item.topic, { level, checkedAt: now })
    } else if (session.grants.get(item.filter) === item.grant) {
      session.grants.set(item.filter, grantFrom(session.principal, item.filter, item.basis, facts.get(item.key)))
    }
  }
}
