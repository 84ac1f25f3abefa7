// Controller presence: a controller is connected while at least one of its sessions is open,
// on MQTT or on rhizo's JSON websocket. Status writes are gathered for a short while and written
// together (10,000 controllers connecting at once make a handful of statements, not 10,000), in
// the order the changes happened.
import type { Aedes } from 'aedes'
import type { Core } from '../core/index.ts'
import { markConnected, markManyConnected, markManyDisconnected } from '../core/resources/controller-status.ts'
import type { Principal } from '../core/resources/permissions.ts'
import { sessionOf } from './clients.ts'

/** How long status changes are gathered before they are written. */
const WRITE_DELAY_MS = 100

export interface Presence {
  opened(principal: Principal | undefined, clientVersion?: string): void
  closed(principal: Principal | undefined): void
  /** writes the changes still gathered (closing) */
  flush(): Promise<void>
}

type Change = { connected: true; clientVersion?: string } | { connected: false }

export function trackPresence(core: Core, aedes: Aedes): Presence {
  const sessions = new Map<number, number>()
  const fail = (err: unknown) => core.log.error({ err }, 'updating controller status failed')
  // the latest wanted state of each controller whose status changed since the last write
  let changes = new Map<number, Change>()
  let timer: NodeJS.Timeout | undefined
  let writing: Promise<void> = Promise.resolve()

  const write = () => {
    timer = undefined
    const batch = changes
    changes = new Map()
    if (batch.size === 0) return writing
    // one write after another, so a later change never lands before an earlier one
    writing = writing.then(async () => {
      const connected: number[] = []
      const disconnected: number[] = []
      for (const [id, change] of batch) {
        if (!change.connected) disconnected.push(id)
        else if (change.clientVersion) await markConnected(core.db, id, change.clientVersion).catch(fail)
        else connected.push(id)
      }
      await markManyConnected(core.db, connected).catch(fail)
      await markManyDisconnected(core.db, disconnected).catch(fail)
    })
    return writing
  }
  const change = (id: number, next: Change) => {
    changes.delete(id) // re-inserted last
    changes.set(id, next)
    timer ??= setTimeout(write, WRITE_DELAY_MS)
  }

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
    flush() {
      if (timer) clearTimeout(timer)
      return write()
    },
  }
  aedes.on('client', (client) => presence.opened(sessionOf(client)?.principal))
  aedes.on('clientDisconnect', (client) => presence.closed(sessionOf(client)?.principal))
  return presence
}
