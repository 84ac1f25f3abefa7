// Live sessions follow changes made anywhere (a REST call, an admin command, another instance).
// Every second one query (core/change-markers.ts) reads two markers kept in the database: the
// credentials version (moved by key revocation, deleted controllers and users, removed memberships)
// and the access version (moved by permission changes, renames, moves and deletes). When the
// credentials version moved, the keys of every connected client are checked again and a client whose
// key lost its power (a key never acts as a system admin, so a role change matters only where it ends
// the key's validity) is disconnected; when the
// access version moved, every access answer and subscription grant of every session is re-decided
// (acl.ts, a few queries shared by all sessions),
// apart from the key checks, so a long re-check never holds up a revocation. A slow sweep also
// checks a slice of the sessions' keys each second, and all access answers are re-decided every
// ACCESS_TTL_MS, so changes made behind Tendril's back (a direct database edit) that moved no
// marker take effect too.
// Sessions without a key (a browser's token, a websocket's session cookie) are checked the same way
// by user: a deleted user, or a user whose memberships or role changed, is disconnected (the
// browser reconnects with a fresh token that carries the new memberships).
// The JSON websocket's connections are live sessions too, registered in a LiveSessions set.
import type { Aedes } from 'aedes'
import type { Core } from '../core/index.ts'
import type { Principal } from '../core/resources/permissions.ts'
import { stillValidKeys } from '../core/accounts/keys.ts'
import { liveSessionIds } from '../core/accounts/sessions.ts'
import { isSystemAdmin } from '../core/accounts/users.ts'
import { markerReaderFor } from '../core/change-markers.ts'
import { reportUnreachable } from '../core/db/availability.ts'
import { ACCESS_TTL_MS, recheck, type Acl } from './acl.ts'
import { clientsById, closeRevoked, sessionOf } from './clients.ts'

export const REVALIDATE_INTERVAL_MS = 1000
/** Every connected key is checked at least this often, marker or not. */
export const SWEEP_PERIOD_MS = 30_000
/** Keys per query when re-checking them all, so a full check never holds the event loop for long. */
const KEYS_PER_QUERY = 1000

/** A connection that acts as a principal and can be closed: an MQTT client or a JSON websocket. */
export interface LiveSession {
  id: string
  principal: Principal
  close(): void
}
export type LiveSessions = Set<LiveSession>

type UserPrincipal = Extract<Principal, { kind: 'user' }>

/**
 * Starts the checks; resolves once the markers were read a first time, so that a change made while
 * the broker starts is not taken for the state its sessions were checked against.
 */
export async function startRevalidation(
  core: Core,
  aedes: Aedes,
  acl: Acl,
  onAccessChange: () => void = () => {},
  others: LiveSessions = new Set(),
): Promise<() => void> {
  const markers = markerReaderFor(core)
  let running = false
  let credentialsSeen: string | undefined
  let sweepPosition = 0
  let known = new Set<number>()
  // the access re-check runs beside the ticks: accessSeen is the version it last completed for
  let accessSeen: string | undefined
  let accessWanted: string | undefined
  let rechecking = false
  let lastRecheck = Date.now()
  let stopped = false
  const recheckAccess = async () => {
    rechecking = true
    try {
      while (
        !stopped &&
        accessWanted !== undefined &&
        (accessWanted !== accessSeen || Date.now() - lastRecheck >= ACCESS_TTL_MS)
      ) {
        const version = accessWanted
        if (version !== accessSeen) onAccessChange()
        lastRecheck = Date.now()
        await recheck(
          acl,
          connectedClients(aedes)
            .map(sessionOf)
            .filter((s) => s !== undefined),
        )
        accessSeen = version // only once it went through: after a failure the next tick tries again
      }
    } catch (err) {
      core.log.error({ err }, 're-checking mqtt access failed')
    } finally {
      rechecking = false
    }
  }
  try {
    const first = await markers.current(0)
    credentialsSeen = first.credentials
    accessSeen = first.access
  } catch (err) {
    core.log.error({ err }, 'reading the change markers failed; the first check treats everything as changed')
  }

  const tick = async () => {
    if (running) return // a slow database must not pile up checks
    running = true
    try {
      // a fresh read, shared with the core's other caches (REST's key and path caches reuse it)
      const current = await markers.current(0)
      accessWanted = current.access
      if (!rechecking) void recheckAccess()
      const live = liveSessions(aedes, others)
      const byKey = sessionsByKey(live)
      const byUser = keylessUserSessions(live)
      // keys new since the last tick: one may have been revoked after it authenticated but before
      // the marker read above, which then shows no change for it
      const fresh = [...byKey.keys()].filter((id) => !known.has(id))
      if (credentialsSeen !== current.credentials) {
        await closeInvalid(core, byKey, [...byKey.keys()])
        await closeChangedUsers(core, byUser)
      } else if (byKey.size > 0 || byUser.size > 0) {
        // keyless sessions are few (browsers): all of them are checked at the start of each sweep
        if (sweepPosition === 0) await closeChangedUsers(core, byUser)
        await closeInvalid(core, byKey, fresh)
        // the safety net: the next slice of keys, in id order, wrapping around
        const ids = [...byKey.keys()].sort((a, b) => a - b)
        const slice = Math.ceil(ids.length / (SWEEP_PERIOD_MS / REVALIDATE_INTERVAL_MS))
        const from = ids.findIndex((id) => id >= sweepPosition)
        const start = from < 0 ? 0 : from
        const chosen = ids.slice(start, start + slice)
        sweepPosition = start + slice < ids.length ? ids[start + slice]! : 0
        await closeInvalid(core, byKey, chosen)
      }
      // only once everything above went through: after a failure the next tick sees the same changes
      credentialsSeen = current.credentials
      known = new Set(byKey.keys())
    } catch (err) {
      // the next tick tries again; an unreachable database is logged once per interval, not every second
      if (!reportUnreachable(core.log, err, 'mqtt revalidation'))
        core.log.error({ err }, 'revalidating mqtt sessions failed')
    } finally {
      running = false
    }
  }
  const timer = setInterval(() => void tick(), REVALIDATE_INTERVAL_MS)
  timer.unref()
  return () => {
    stopped = true
    clearInterval(timer)
  }
}

function connectedClients(aedes: Aedes) {
  return Object.values(clientsById(aedes)).filter((c) => c !== undefined)
}

/** One per MQTT client, made once: a tick with 10,000 clients otherwise made 10,000 closures a second. */
const asLiveSession = new WeakMap<object, LiveSession>()

function liveSessions(aedes: Aedes, others: LiveSessions): LiveSession[] {
  const live: LiveSession[] = [...others]
  for (const client of connectedClients(aedes)) {
    const principal = sessionOf(client)?.principal
    if (!principal) continue
    let session = asLiveSession.get(client)
    if (!session || session.principal !== principal)
      asLiveSession.set(client, (session = { id: client.id, principal, close: () => closeRevoked(client) }))
    live.push(session)
  }
  return live
}

function sessionsByKey(live: LiveSession[]): Map<number, LiveSession[]> {
  const byKey = new Map<number, LiveSession[]>()
  for (const session of live) {
    const principal = session.principal
    if (principal.kind === 'anonymous' || principal.keyId === undefined) continue
    const holders = byKey.get(principal.keyId)
    if (holders) holders.push(session)
    else byKey.set(principal.keyId, [session])
  }
  return byKey
}

function keylessUserSessions(live: LiveSession[]): Map<number, { session: LiveSession; principal: UserPrincipal }[]> {
  const byUser = new Map<number, { session: LiveSession; principal: UserPrincipal }[]>()
  for (const session of live) {
    const principal = session.principal
    if (principal.kind !== 'user' || principal.keyId !== undefined) continue
    const holders = byUser.get(principal.userId) ?? []
    holders.push({ session, principal })
    byUser.set(principal.userId, holders)
  }
  return byUser
}

const sameOrganizations = (a: number[], b: number[]) =>
  a.length === b.length && [...a].sort((x, y) => x - y).every((id, i) => id === [...b].sort((x, y) => x - y)[i])

/**
 * Disconnects keyless sessions whose user was deleted, or whose role or memberships changed since
 * they connected, or whose browser session ended (signed out or expired).
 */
async function closeChangedUsers(
  core: Core,
  byUser: Map<number, { session: LiveSession; principal: UserPrincipal }[]>,
) {
  const ids = [...byUser.keys()]
  for (let i = 0; i < ids.length; i += KEYS_PER_QUERY) {
    const chunk = ids.slice(i, i + KEYS_PER_QUERY)
    const users = await core.db.user.findMany({
      where: { id: { in: chunk } },
      select: { id: true, deleted: true, role: true, memberships: { select: { organizationId: true } } },
    })
    const current = new Map(users.map((u) => [u.id, u]))
    const sessionIds = chunk.flatMap((userId) =>
      (byUser.get(userId) ?? []).flatMap(({ principal }) =>
        principal.sessionId === undefined ? [] : [principal.sessionId],
      ),
    )
    const signedIn = await liveSessionIds(core, sessionIds)
    for (const userId of chunk) {
      const user = current.get(userId)
      for (const { session, principal } of byUser.get(userId) ?? []) {
        const unchanged =
          user &&
          !user.deleted &&
          isSystemAdmin(user) === principal.systemAdmin &&
          sameOrganizations(
            user.memberships.map((m) => m.organizationId),
            principal.organizationIds,
          )
        const ended = principal.sessionId !== undefined && !signedIn.has(principal.sessionId)
        if (unchanged && !ended) continue
        const why = ended ? 'its browser session ended' : 'its user was deleted or their memberships changed'
        core.log.info({ clientId: session.id, userId }, `session closed: ${why}`)
        session.close()
      }
    }
  }
}

/** Disconnects the clients of every key among keyIds that was revoked or lost its controller, user or membership. */
async function closeInvalid(core: Core, byKey: Map<number, LiveSession[]>, keyIds: number[]) {
  for (let i = 0; i < keyIds.length; i += KEYS_PER_QUERY) {
    const chunk = keyIds.slice(i, i + KEYS_PER_QUERY)
    const valid = await stillValidKeys(core.db, chunk)
    // a key never carries system-admin power (core/accounts/keys.ts), so a role change matters only
    // where it ends the key's validity (a demoted admin outside the key's organization)
    for (const keyId of chunk) {
      if (valid.has(keyId)) continue
      for (const session of byKey.get(keyId) ?? []) {
        core.log.info({ clientId: session.id, keyId }, 'session closed: its key is no longer valid')
        session.close()
      }
    }
  }
}

/**
 * Whether a session's credentials still hold, by the checks a tick makes: asked before a will goes
 * out, since its client may have dropped after a revocation but before the next tick closed it.
 */
export async function stillValid(core: Core, id: string, principal: Principal): Promise<boolean> {
  if (principal.kind === 'anonymous') return true
  let valid = true
  const session: LiveSession = { id, principal, close: () => (valid = false) }
  if (principal.keyId !== undefined)
    await closeInvalid(core, new Map([[principal.keyId, [session]]]), [principal.keyId])
  else if (principal.kind === 'user')
    await closeChangedUsers(core, new Map([[principal.userId, [{ session, principal }]]]))
  return valid
}
