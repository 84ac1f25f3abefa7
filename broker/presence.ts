// Controller presence: a controller is connected while at least one of its sessions is open,
// on MQTT or on rhizo's JSON websocket, on any instance. Status writes are gathered for a short while
// and written together (10,000 controllers connecting at once make a handful of statements, not
// 10,000), in the order the changes happened.
//
// A reconciliation pass also runs at start and then every half minute: a controller shown connected
// that no running instance holds is shown disconnected (a crash or power cut left it so), and one this
// instance holds is shown connected. Instances sharing a Redis tell each other whom they hold
// (SharedPresence, cluster.ts), so a controller that moves from one instance to another is not shown
// disconnected by the one it left.
import type { Aedes } from 'aedes'
import type { Core } from '../core/index.ts'
import { reportDiskFull } from '../core/disk-full.ts'
import {
  connectedControllerIds,
  markConnected,
  markManyConnected,
  markManyDisconnected,
} from '../core/resources/controller-status.ts'
import type { Principal } from '../core/resources/permissions.ts'
import { formatTimestamp } from '../core/messages/timestamps.ts'
import { pathsOf } from '../core/resources/tree.ts'
import { sessionOf } from './clients.ts'
import { pathToTopic } from './topics.ts'

/** How long status changes are gathered before they are written. */
const WRITE_DELAY_MS = 100
/** How often the shown status is reconciled with the sessions held. */
const RECONCILE_EVERY_MS = 30_000
/** How soon after a write refused for a full disk the status is reconciled. */
const RETRY_MS = 1000

export interface Presence {
  opened(principal: Principal | undefined, clientVersion?: string): void
  closed(principal: Principal | undefined): void
  /** stops reconciling and writes the changes still gathered (closing) */
  close(): Promise<void>
}

/** Which instance holds sessions of which controllers, shared by the instances on one Redis. */
export interface SharedPresence {
  /** records that this instance holds sessions of these controllers */
  hold(ids: number[]): Promise<void>
  /** forgets this instance's hold of these */
  release(ids: number[]): Promise<void>
  /** those of ids that a running instance holds */
  held(ids: number[]): Promise<number[]>
}

/** Alone, no other instance holds anything. */
const alone: SharedPresence = { hold: async () => {}, release: async () => {}, held: async () => [] }

type Change = { connected: true; clientVersion?: string } | { connected: false }

export function trackPresence(core: Core, aedes: Aedes, sharedPresence: SharedPresence = alone): Presence {
  const sessions = new Map<number, number>()
  let retry: NodeJS.Timeout | undefined
  const fail = (err: unknown) => {
    if (!reportDiskFull(core.log, err, 'presence')) return core.log.error({ err }, 'updating controller status failed')
    // a full disk: the status is put right as soon as it can be written, not at the next reconcile
    retry ??= setTimeout(() => ((retry = undefined), void reconcile()), RETRY_MS).unref()
  }
  // while Redis is away each instance goes by its own sessions (cluster.ts logs the outage)
  const unshared = (err: unknown) => core.log.debug({ err }, 'sharing controller presence through redis failed')
  const shared: SharedPresence = {
    hold: (ids) => sharedPresence.hold(ids).catch(unshared),
    release: (ids) => sharedPresence.release(ids).catch(unshared),
    held: (ids) => sharedPresence.held(ids).catch((err: unknown) => (unshared(err), [])),
  }
  // the latest wanted state of each controller whose status changed since the last write
  let changes = new Map<number, Change>()
  let timer: NodeJS.Timeout | undefined
  let writing: Promise<void> = Promise.resolve()
  /** one write after another, so a later change never lands before an earlier one */
  const inTurn = (step: () => Promise<void>) => (writing = writing.then(step).catch(fail))

  /**
   * Tells the folder holding each controller that it connected or went away, as
   * {"type":"presence","parameters":{"controller":name,…}}, so a page showing the folder follows without
   * polling. Not on the controller's own topic: a controller subscribed to itself must not hear of itself.
   */
  const announce = async (ids: number[], connected: boolean) => {
    if (ids.length === 0) return
    const timestamp = formatTimestamp(new Date())
    for (const path of (await pathsOf(core.db, ids)).values()) {
      const slash = path.lastIndexOf('/')
      const payload = Buffer.from(
        JSON.stringify({ type: 'presence', parameters: { controller: path.slice(slash + 1), connected, timestamp } }),
      )
      const packet = {
        cmd: 'publish',
        topic: pathToTopic(path.slice(0, slash)),
        payload,
        qos: 0,
        retain: false,
        dup: false,
      }
      aedes.publish(packet as never, (err) => err && core.log.error({ err }, 'announcing controller presence failed'))
    }
  }

  /**
   * Shows these disconnected unless another instance holds them, then rechecks: a session opened there meanwhile may
   * have been written first.
   */
  const showGone = async (ids: number[]) => {
    const elsewhere = new Set(await shared.held(ids))
    const gone = ids.filter((id) => !elsewhere.has(id))
    if (gone.length === 0) return
    await markManyDisconnected(core.db, gone).catch(fail)
    const back = new Set(await shared.held(gone))
    await markManyConnected(core.db, [...back]).catch(fail)
    await announce(
      gone.filter((id) => !back.has(id)),
      false,
    ).catch(fail)
  }

  const write = () => {
    timer = undefined
    const batch = changes
    changes = new Map()
    if (batch.size === 0) return writing
    return inTurn(async () => {
      const connected: number[] = []
      const versions: [number, string][] = []
      const disconnected: number[] = []
      for (const [id, change] of batch) {
        if (!change.connected) disconnected.push(id)
        else if (change.clientVersion) versions.push([id, change.clientVersion])
        else connected.push(id)
      }
      // held first, so an instance that sees a session end here finds it before this write lands
      await shared.hold([...connected, ...versions.map(([id]) => id)])
      for (const [id, clientVersion] of versions) await markConnected(core.db, id, clientVersion).catch(fail)
      await markManyConnected(core.db, connected).catch(fail)
      await announce([...connected, ...versions.map(([id]) => id)], true).catch(fail)
      await shared.release(disconnected)
      await showGone(disconnected)
    })
  }
  const change = (id: number, next: Change) => {
    changes.delete(id) // re-inserted last
    changes.set(id, next)
    timer ??= setTimeout(write, WRITE_DELAY_MS)
  }

  const reconcile = () =>
    inTurn(async () => {
      const shown = new Set(await connectedControllerIds(core.db))
      const settled = (id: number) => !changes.has(id) // a change on its way is written in its turn
      const here = [...sessions.keys()].filter(settled)
      await shared.hold(here) // again: Redis may have lost it
      await markManyConnected(
        core.db,
        here.filter((id) => !shown.has(id)),
      )
      await showGone([...shown].filter((id) => !sessions.has(id) && settled(id)))
    })
  void reconcile()
  const reconciling = setInterval(reconcile, RECONCILE_EVERY_MS).unref()

  const presence: Presence = {
    opened(principal, clientVersion) {
      if (principal?.kind !== 'controller') return
      const id = principal.controllerId
      sessions.set(id, (sessions.get(id) ?? 0) + 1)
      change(id, { connected: true, ...(clientVersion ? { clientVersion } : {}) })
    },
    closed(principal) {
      if (principal?.kind !== 'controller') return
      const id = principal.controllerId
      const left = (sessions.get(id) ?? 1) - 1
      if (left > 0) return void sessions.set(id, left)
      sessions.delete(id)
      change(id, { connected: false })
    },
    close() {
      clearInterval(reconciling)
      clearTimeout(retry)
      if (timer) clearTimeout(timer)
      return write()
    },
  }
  aedes.on('client', (client) => presence.opened(sessionOf(client)?.principal))
  aedes.on('clientDisconnect', (client) => presence.closed(sessionOf(client)?.principal))
  return presence
}
