// Counts describing the whole installation, for system admins (rhizo's main/api/system.py names,
// plus organizations, controllers, connected controllers, stored bytes and keys).
import type { CoreContext } from './context.ts'
import { requireSystemAdmin } from './accounts/roles.ts'
import type { Principal } from './resources/permissions.ts'
import { ResourceType } from './resources/types.ts'

export async function systemStats(ctx: CoreContext, principal: Principal) {
  requireSystemAdmin(principal)
  const db = ctx.db
  const live = { deleted: false }
  const [
    users,
    organizations,
    controllers,
    connected,
    resources,
    thumbnails,
    revisions,
    revisionBytes,
    bulkBytes,
    messages,
    keys,
  ] = await Promise.all([
    db.user.count({ where: live }),
    db.resource.count({ where: { ...live, type: ResourceType.organizationFolder } }),
    db.resource.count({ where: { ...live, type: ResourceType.controllerFolder } }),
    db.controllerStatus.count({ where: { connected: true, controller: live } }),
    db.resource.count(),
    db.thumbnail.count(),
    db.resourceRevision.count(),
    db.resourceRevision.aggregate({ _sum: { size: true } }),
    db.resourceRevision.aggregate({ _sum: { size: true }, where: { blobHash: { not: null } } }),
    db.message.count(),
    db.key.count({ where: { revokedAt: null } }),
  ])
  return {
    user_count: users,
    organization_count: organizations,
    controller_count: controllers,
    connected_controller_count: connected,
    resource_count: resources,
    thumbnail_count: thumbnails,
    resource_revision_count: revisions,
    revision_bytes: revisionBytes._sum.size ?? 0,
    /** bytes of revisions kept in the blob store (before de-duplication by content) */
    bulk_bytes: bulkBytes._sum.size ?? 0,
    message_count: messages,
    active_key_count: keys,
  }
}
