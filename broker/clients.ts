// What the broker knows about each connected client: the principal its credentials resolved to.
import type { Aedes, Client } from 'aedes'
import type { Principal } from '../core/resources/permissions.ts'
import { SessionGrants } from './grants.ts'

export interface ClientSession {
  principal: Principal
  /** topic -> [level, time checked]: what publishing to a topic found, so the next PUBLISH need not ask again */
  access: Map<string, { level: number; checkedAt: number }>
  /** filter -> what the subscription may read: forwarding must answer synchronously, so it reads these */
  grants: SessionGrants
  /** closed because its credentials lost their power: it publishes nothing more, its will included */
  revoked?: boolean
  /** its will was checked against the database (publish.ts checkWill) */
  willChecked?: boolean
}

const sessions = new WeakMap<Client, ClientSession>()

export function attach(client: Client, principal: Principal): ClientSession {
  const session: ClientSession = { principal, access: new Map(), grants: new SessionGrants() }
  sessions.set(client, session)
  return session
}

export function sessionOf(client: Client | null | undefined): ClientSession | undefined {
  return client ? sessions.get(client) : undefined
}

/** Closes a session whose credentials lost their power; its will is not published (publish.ts refuseRevokedSession). */
export function closeRevoked(client: Client): void {
  const session = sessions.get(client)
  if (session) session.revoked = true
  client.close()
}

/** Aedes keeps its connected clients by id; its type declarations do not list the map. */
export function clientsById(aedes: Aedes): Record<string, Client | undefined> {
  return (aedes as unknown as { clients: Record<string, Client | undefined> }).clients
}
