// Controller presence: a controller is connected while at least one of its sessions is open,
// on MQTT or on rhizo's JSON websocket.
import type { Aedes } from 'aedes'
import type { Core } from '../core/index.ts'
import { markConnected, markDisconnected } from '../core/resources/controller-status.ts'
import type { Principal } from '../core/resources/permissions.ts'
import { sessionOf } from './clients.ts'

export interface Presence {
  opened(principal: Principal | undefined, clientVersion?: string): void
  closed(principal: Principal | undefined): void
}

export function trackPresence(core: Core, aedes: Aedes): Presence {
  const sessions = new Map<number, number>()
  const fail = (err: unknown) => core.log.error({ err }, 'updating controller status failed')
  const presence: Presence = {
    opened(principal, clientVersion) {
      if (principal?.kind !== 'controller') return
      const id = principal.controllerId
      sessions.set(id, (sessions.get(id) ?? 0) + 1)
      markConnected(core.db, id, clientVersion).catch(fail)
    },
    closed(principal) {
      if (principal?.kind !== 'controller') return
      const id = principal.controllerId
      const left = (sessions.get(id) ?? 1) - 1
      if (left > 0) return void sessions.set(id, left)
      sessions.delete(id)
      markDisconnected(core.db, id).catch(fail)
    },
  }
  aedes.on('client', (client) => presence.opened(sessionOf(client)?.principal))
  aedes.on('clientDisconnect', (client) => presence.closed(sessionOf(client)?.principal))
  return presence
}
