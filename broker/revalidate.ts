// Live sessions follow changes made anywhere (a REST call, an admin command, another instance):
// every second the credentials behind connected clients are checked again, and a client whose key
// was revoked, whose controller or user was deleted, or whose user left the key's organization is
// disconnected; and when access rules changed (the access version moved), every cached access
// answer of every session is checked again.
import type { Aedes, Client } from 'aedes'
import type { Core } from '../core/index.ts'
import { isSystemAdmin } from '../core/accounts/users.ts'
import { readAccessVersion } from '../core/resources/access-version.ts'
import type { Acl } from './acl.ts'
import { clientsById, sessionOf } from './clients.ts'

export const REVALIDATE_INTERVAL_MS = 1000

export function startRevalidation(core: Core, aedes: Aedes, acl: Acl, onAccessChange: () => void = () => {}): () => void {
  let running = false
  let version: string | undefined
  const tick = async () => {
    if (running) return // a slow database must not pile up checks
    running = true
    try {
      await revalidate(core, aedes)
      const current = await readAccessVersion(core.db)
      if (version !== undefined && current !== version) {
        onAccessChange()
        await acl.recheck(connectedClients(aedes).map(sessionOf).filter((s) => s !== undefined))
      }
      version = current
    } catch (err) {
      core.log.error({ err }, 'revalidating mqtt sessions failed')
    } finally {
      running = false
    }
  }
  const timer = setInterval(() => void tick(), REVALIDATE_INTERVAL_MS)
  timer.unref()
  return () => clearInterval(timer)
}

function connectedClients(aedes: Aedes): Client[] {
  return Object.values(clientsById(aedes)).filter((c) => c !== undefined)
}

async function revalidate(core: Core, aedes: Aedes) {
  const clients = connectedClients(aedes)
  const byKey = new Map<number, Client[]>()
  for (const client of clients) {
    const principal = sessionOf(client)?.principal
    if (!principal || principal.kind === 'anonymous' || principal.keyId === undefined) continue
    byKey.set(principal.keyId, [...(byKey.get(principal.keyId) ?? []), client])
  }
  if (byKey.size === 0) return
  const keys = await core.db.key.findMany({
    where: { id: { in: [...byKey.keys()] } },
    select: {
      id: true,
      organizationId: true,
      revokedAt: true,
      accessAsController: { select: { deleted: true } },
      accessAsUser: { select: { deleted: true, role: true, memberships: { select: { organizationId: true } } } },
    },
  })
  const valid = new Set(
    keys
      .filter((k) => !k.revokedAt)
      .filter((k) => (k.accessAsController ? !k.accessAsController.deleted : true))
      .filter((k) => (k.accessAsUser ? !k.accessAsUser.deleted && (isSystemAdmin(k.accessAsUser) || k.accessAsUser.memberships.some((m) => m.organizationId === k.organizationId)) : true))
      .map((k) => k.id),
  )
  for (const [keyId, holders] of byKey) {
    if (valid.has(keyId)) continue
    for (const client of holders) {
      core.log.info({ clientId: client.id, keyId }, 'mqtt session closed: its key is no longer valid')
      client.close()
    }
  }
}
