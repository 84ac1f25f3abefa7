// Authorization of PUBLISH, SUBSCRIBE and forwarding, all through the core's permission rules.
// Publishing needs write; subscribing needs read of every topic the filter can match; forwarding
// re-checks read so that a permission change reaches live sessions (shared/DESIGN.md, MQTT).
import type { AedesOptions, Client } from 'aedes'
import type { Core } from '../core/index.ts'
import { accessToPath, canReadSubtree } from '../core/resources/access.ts'
import { canRead, canWrite } from '../core/resources/permissions.ts'
import type { PathResolver } from '../core/resources/resolver.ts'
import { sessionOf, type ClientSession } from './clients.ts'
import { filterShape, topicToPath } from './topics.ts'

type Hooks = Pick<Required<AedesOptions>, 'authorizePublish' | 'authorizeSubscribe' | 'authorizeForward'>

export interface Acl extends Hooks {
  /** re-checks every cached access answer of the given sessions (after access rules changed) */
  recheck(sessions: ClientSession[]): Promise<void>
}

/**
 * How long a cached access decision is trusted before it is checked again. Changes made through
 * Tendril move the access version, which re-checks every cached answer within a second
 * (revalidate.ts); this bound is for changes made behind Tendril's back (direct database edits).
 */
export const ACCESS_TTL_MS = 30_000

const NEGATIVE_SUBACK = null // aedes answers a null subscription with SUBACK 0x80

export function createAclHooks(core: Core, resolver: PathResolver): Acl {
  const check = async (session: ClientSession, topic: string): Promise<number> => {
    let level = 0
    try {
      level = await accessToPath(core.db, session.principal, topicToPath(topic), resolver.findLive)
    } catch {
      level = 0 // a topic that is not a valid path (empty level, bad name) can be reached by no one
    }
    session.access.set(topic, { level, checkedAt: Date.now() })
    return level
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
    // the common case answers at once: no promise per message on the relay path
    const cached = session.access.get(packet.topic)
    if (cached && Date.now() - cached.checkedAt < ACCESS_TTL_MS) return decide(client, packet.topic, callback, cached.level)
    levelFor(session, packet.topic)
      .then((level) => decide(client, packet.topic, callback, level))
      .catch(callback)
  }

  const authorizeSubscribe: Hooks['authorizeSubscribe'] = (client, subscription, callback) => {
    const session = sessionOf(client)
    if (!session) return callback(new Error('not authenticated'))
    const shape = filterShape(subscription.topic)
    const principal = session.principal
    const unscopedAdmin = principal.kind === 'user' && principal.systemAdmin && principal.scopeOrganizationId === undefined
    const check = async (): Promise<boolean> => {
      if (shape.system || shape.prefixPath === '') return unscopedAdmin // $SYS/#, #, +/… match every organization
      if (!shape.wildcard) return canRead(await levelFor(session, subscription.topic))
      return canReadSubtree(core.db, principal, shape.prefixPath, resolver.findLive)
    }
    check()
      .catch(() => false)
      .then((allowed) => {
        if (allowed) return callback(null, subscription)
        core.log.info({ clientId: client.id, filter: subscription.topic }, 'mqtt subscription refused')
        callback(null, NEGATIVE_SUBACK)
      })
  }

  // Synchronous by Aedes' contract: answer from the cache and refresh it in the background. A topic
  // first seen here was covered by the subscription check that let its filter in.
  const authorizeForward: Hooks['authorizeForward'] = (client: Client, packet) => {
    const session = sessionOf(client)
    if (!session) return null
    const cached = session.access.get(packet.topic)
    if (!cached || Date.now() - cached.checkedAt >= ACCESS_TTL_MS) void levelFor(session, packet.topic).catch(() => {})
    if (cached && !canRead(cached.level)) return null
    return packet
  }

  // Old answers stay in place until their replacements are known, so delivery never runs on a gap.
  const recheck = async (sessions: ClientSession[]) => {
    for (const session of sessions) {
      for (const topic of [...session.access.keys()]) await check(session, topic)
    }
  }

  return { authorizePublish, authorizeSubscribe, authorizeForward, recheck }
}
