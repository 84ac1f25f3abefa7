// Controller presence: a controller is connected while at least one of its MQTT sessions is.
import type { Aedes } from 'aedes'
import type { Core } from '../core/index.ts'
import { markConnected, markDisconnected } from '../core/resources/controller-status.ts'
import { sessionOf } from './clients.ts'

export function trackPresence(core: Core, aedes: Aedes): void {
  const sessions = new Map<number, number>()
  const fail = (err: unknown) => core.log.error({ err }, 'updating controller status failed')

  aedes.on('client', (client) => {
    const principal = sessionOf(client)?.principal
    if (principal?.kind !== 'controller') return
    const id = principal.controllerId
    sessions.set(id, (sessions.get(id) ?? 0) + 1)
    markConnected(core.db, id).catch(fail)
  })

  aedes.on('clientDisconnect', (client) => {
    const principal = sessionOf(client)?.principal
    if (principal?.kind !== 'controller') return
    const id = principal.controllerId
    const left = (sessions.get(id) ?? 1) - 1
    if (left > 0) return void sessions.set(id, left)
    sessions.delete(id)
    markDisconnected(core.db, id).catch(fail)
  })
}
