// Authorization of PUBLISH, SUBSCRIBE and forwarding, all through the core's permission rules.
// Publishing needs write; subscribing needs read of every topic the filter can match; forwarding
// reads what subscribing found (grants.ts), which every access change re-decides (revalidate.ts).
import { setImmediate as yieldToEventLoop } from 'node:timers/promises'
import type { AedesOptions, Client } from 'aedes'
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
import { ttlCache } from '../core/ttl-cache.ts'
import { sessionOf, type ClientSession } from './clients.ts'
import { isReply } from './replies.ts'
import { admits, type ReadGrant } from './grants.ts'
import { accessNames, filterShape, hasEmptyLevel } from './topics.ts'

type Hooks = Pick<Required<AedesOptions>, 'authorizePublish' | 'authorizeSubscribe' | 'authorizeForward'>

export interface Acl extends Hooks {
  /** re-decides every access answer and grant the given sessions hold (after access rules changed), in a few shared queries */
  recheck(sessions: ClientSession[]): Promise<void>
  /** the client dropped these subscriptions, and with them what they let it read */
  unsubscribed(client: Client, filters: string[]): void
}

/**
 * How long an access answer (a PUBLISH topic's level, a subscription's grant) stands before it is
 * decided again. Changes made through Tendril move the access version, which re-decides every answer
 * within a second (revalidate.ts); this bound is for changes made behind Tendril's back (direct
 * database edits).
 */
export const ACCESS_TTL_MS = 30_000

/** How long an organization's resources with lists of their own are kept for SUBSCRIBE checks (a re-check drops them). */
const LISTED_TTL_MS = 5000
/** Answers a re-check sets between two turns of the event loop, so delivery goes on meanwhile. */
const ANSWERS_PER_TURN = 1000

const NEGATIVE_SUBACK = null // aedes answers a null subscription with SUBACK 0x80

/** What decides a filter's grant: the principal alone (`#`, `+/…`, `$SYS`), a path's facts, or nothing (no valid path: no one may read it). */
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
  if ('principal' in basis) return { ...grant, level: unscopedAdmin(principal) ? AccessLevel.write : AccessLevel.none } // they match every organization
  if (!facts) return grant
  if (!basis.wildcard) return { ...grant, level: levelAt(principal, facts) }
  const { level, below } = subtreeLevels(principal, facts)
  return { ...grant, level, below: below.map((b) => ({ topic: b.names.join('/'), level: b.level })) }
}

/** Times an answer is worked out again because a re-check started while it was read. */
const SETTLE_TRIES = 3

export function createAclHooks(core: Core, resolver: PathResolver): Acl {
  // Moves when a re-check starts: an answer whose reads began before then may predate the change that
  // started it, so it is worked out again rather than kept. keep() runs in the same turn as the
  // test, so no re-check can start between them and miss the answer.
  // The sessions that kept an answer since the last re-check started are re-checked by the next one
  // even if Aedes does not list them yet (a persistent session restores its subscriptions before
  // it is registered).
  let generation = 0
  let touched = new Set<ClientSession>()
  const settle = async <T>(session: ClientSession, work: () => Promise<T>, keep: (result: T) => void): Promise<T> => {
    for (let tries = 1; ; tries++) {
      const started = generation
      const result = await work()
      // a few tries at most, so that steady changes cannot keep a CONNECT or SUBSCRIBE waiting: an
      // answer kept though a re-check started meanwhile is re-decided by the next one (touched)
      if (started !== generation && tries < SETTLE_TRIES) continue
      keep(result)
      touched.add(session)
      return result
    }
  }
  const listed = ttlCache<ListedResource[]>(LISTED_TTL_MS, 10_000)
  const findListed: FindListed = (organizationId) =>
    listed.get(
      String(organizationId),
      async () => (await loadListed(core.db, [organizationId])).get(organizationId) ?? [],
    )

  const levelOfTopic = async (principal: Principal, topic: string) =>
    accessToPath(core.db, principal, joinPath(accessNames(topic)), resolver.findLive)
  const check = async (session: ClientSession, topic: string): Promise<number> => {
    // a topic with a bad name or an empty first level can be reached by no one
    const look = () => levelOfTopic(session.principal, topic).catch(() => 0)
    return settle(session, look, (level) => session.access.set(topic, { level, checkedAt: Date.now() }))
  }
  // One socket read can carry a thousand PUBLISHes to one topic: while its first check is still
  // waiting for the database, the others wait for that same check instead of each running their own.
  const pending = new WeakMap<ClientSession, Map<string, Promise<number>>>()
  const shared = (session: ClientSession, topic: string): Promise<number> => {
    let byTopic = pending.get(session)
    if (!byTopic) pending.set(session, (byTopic = new Map()))
    const running = byTopic.get(topic)
    if (running) return running
    const started = check(session, topic).finally(() => byTopic.delete(topic))
    byTopic.set(topic, started)
    return started
  }
  const levelFor = async (session: ClientSession, topic: string): Promise<number> => {
    const cached = session.access.get(topic)
    if (cached && Date.now() - cached.checkedAt < ACCESS_TTL_MS) return cached.level
    return shared(session, topic)
  }

  // not a closure per PUBLISH: tsx names every function it creates, which costs on this path
  const decide = (client: Client | null, topic: string, callback: (error?: Error | null) => void, level: number) => {
    if (canWrite(level)) return callback(null)
    core.log.info({ clientId: client?.id, topic }, 'mqtt publish refused: no write access')
    callback(new Error('no write access to ' + topic)) // [MQTT-3.3.5-2]: the connection is closed
  }
  const authorizePublish: Hooks['authorizePublish'] = (client, packet, callback) => {
    const session = sessionOf(client)
    if (!session) return callback(new Error('not authenticated'))
    if (packet.topic.startsWith('$')) return callback(new Error('$ topics are reserved'))
    // an anonymous viewer (a public read-only page) only watches, even where public write is granted
    if (session.principal.kind === 'anonymous') {
      core.log.info(
        { clientId: client?.id, topic: packet.topic },
        'mqtt publish refused: anonymous viewers only subscribe',
      )
      return callback(new Error('anonymous viewers may not publish'))
    }
    // the common case answers at once: no promise per message on the relay path
    const cached = session.access.get(packet.topic)
    if (cached && Date.now() - cached.checkedAt < ACCESS_TTL_MS)
      return decide(client, packet.topic, callback, cached.level)
    levelFor(session, packet.topic)
      .then((level) => decide(client, packet.topic, callback, level))
      .catch(callback)
  }

  const grantOf = async (principal: Principal, filter: string): Promise<ReadGrant> => {
    const basis = basisOf(filter)
    if (basis === null || 'principal' in basis) return grantFrom(principal, filter, basis)
    const [facts] = await pathFactsOf(
      core.db,
      [{ names: basis.names, below: basis.wildcard }],
      resolver.findLive,
      findListed,
    )
    return grantFrom(principal, filter, basis, facts)
  }

  // Also called for each subscription a persistent session restores, before its queue is delivered.
  const authorizeSubscribe: Hooks['authorizeSubscribe'] = (client, subscription, callback) => {
    const session = sessionOf(client)
    if (!session) return callback(new Error('not authenticated'))
    const filter = subscription.topic
    const keep = (grant: ReadGrant) => {
      // a refused filter that was subscribed before goes on (Aedes keeps it), narrowed to what may still be read
      if (admits(grant) || session.grants.has(filter)) session.grants.set(filter, grant)
    }
    settle(session, () => grantOf(session.principal, filter), keep)
      .catch((err: Error) => {
        core.log.error({ err, clientId: client.id, filter }, 'mqtt subscription check failed')
        return grantFrom(session.principal, filter, null) // reads nothing
      })
      .then((grant) => {
        if (admits(grant)) return callback(null, subscription)
        core.log.info({ clientId: client.id, filter }, 'mqtt subscription refused')
        callback(null, NEGATIVE_SUBACK)
      })
  }

  // Synchronous by Aedes' contract, so it decides from the grants alone: a topic none covers is dropped, never forwarded while a check runs.
  const authorizeForward: Hooks['authorizeForward'] = (client: Client, packet) => {
    const session = sessionOf(client)
    return session?.grants.mayForward(packet.topic) || isReply(packet) ? packet : null
  }

  const unsubscribed = (client: Client, filters: string[]) => {
    const session = sessionOf(client)
    for (const filter of filters) session?.grants.delete(filter)
  }

  // Every path any session asked about is read once for all of them, in a few queries (core's
  // pathFactsOf); the answers are then worked out in memory. Old answers stay in place until their
  // replacements are known, so delivery never runs on a gap; one replaced meanwhile is newer and stays.
  const recheckNow = async (given: ClientSession[]) => {
    generation++
    const sessions = new Set([...given, ...touched])
    touched = new Set()
    listed.clear()
    const started = Date.now()
    const requests = new Map<string, { names: string[]; below: boolean }>()
    const need = (names: string[], below: boolean) => {
      const key = (below ? '#' : '=') + names.join('/')
      if (!requests.has(key)) requests.set(key, { names, below })
      return key
    }
    type Work =
      | { session: ClientSession; topic: string; entry: { level: number; checkedAt: number }; key: string | null }
      | { session: ClientSession; filter: string; grant: ReadGrant; basis: Basis; key: string }
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
    const keys = [...requests.keys()]
    const loaded = await pathFactsOf(core.db, [...requests.values()]).catch((err: unknown) => {
      for (const session of sessions) touched.add(session) // the next re-check takes them all again
      throw err
    })
    const facts = new Map(keys.map((key, i) => [key, loaded[i]!]))
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
    core.log.debug(
      { sessions: sessions.size, answers: work.length, paths: keys.length, ms: Date.now() - started },
      'mqtt access re-checked',
    )
  }
  // one at a time: a later re-check's answers must not be overwritten by an earlier one's
  let last: Promise<void> = Promise.resolve()
  const recheck = (sessions: ClientSession[]) => (last = last.catch(() => {}).then(() => recheckNow(sessions)))

  return { authorizePublish, authorizeSubscribe, authorizeForward, recheck, unsubscribed }
}
