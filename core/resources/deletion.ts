// DELETE /api/v1/resources/<path>: a soft delete of the resource and everything below it (rows stay,
// marked deleted, with liveKey cleared so the names can be used again), or with data_only only its
// revisions go (and the blobs nothing else refers to), keeping the resource.
import { bumpCredentialsVersion } from '../accounts/credentials-version.ts'
import type { BlobStore } from '../blobs/index.ts'
import type { CoreContext } from '../context.ts'
import { inTransaction, type Resource } from '../db/index.ts'
import { forbidden } from '../errors.ts'
import { bumpAccessVersion } from './access-version.ts'
import { actsAsSystemAdmin, canWrite, effectiveLevel, type Principal } from './permissions.ts'
import { collectUnreferencedBlobs, lockBlobCollection } from './revisions.ts'
import { ResourceType } from './types.ts'

/**
 * Soft-deletes resource and its live subtree in one transaction; returns how many resources were deleted.
 * Write access to the resource is checked by the caller. An organization needs a system admin, and a
 * part of the subtree whose own permission list refuses principal write access stops the whole delete
 * (rhizo did not look below).
 */
export async function deleteSubtree(ctx: CoreContext, principal: Principal, resource: Resource): Promise<number> {
  if (resource.type === ResourceType.organizationFolder && !actsAsSystemAdmin(principal))
    throw forbidden('only a system admin can delete an organization')
  return inTransaction(ctx.db, async (tx) => {
    const ids = [resource.id]
    for (let level = [resource.id]; level.length > 0;) {
      const children = await tx.resource.findMany({
        where: { parentId: { in: level }, deleted: false },
        select: { id: true, organizationId: true, permissions: true },
      })
      for (const child of children) {
        if (Array.isArray(child.permissions) && !canWrite(effectiveLevel(principal, [child])))
          throw forbidden('part of this folder is protected from you; nothing was deleted')
      }
      level = children.map((c) => c.id)
      ids.push(...level)
    }
    const modifiedAt = new Date()
    for (let i = 0; i < ids.length; i += 1000) {
      await tx.resource.updateMany({
        where: { id: { in: ids.slice(i, i + 1000) } },
        data: { deleted: true, liveKey: null, modifiedAt },
      })
    }
    // keys of deleted controllers stop working at once (authenticateKey checks), live sessions re-check
    await bumpAccessVersion(tx)
    await bumpCredentialsVersion(tx) // live MQTT sessions of these credentials close within a second
    return ids.length
  })
}

/** data_only: every revision of the resource goes; the resource stays, empty. */
export async function deleteRevisions(ctx: CoreContext, blobs: BlobStore, resource: Resource): Promise<number> {
  return inTransaction(ctx.db, async (tx) => {
    const hashes = (
      await tx.resourceRevision.findMany({
        where: { resourceId: resource.id, blobHash: { not: null } },
        select: { blobHash: true },
        distinct: ['blobHash'],
      })
    ).map((r) => r.blobHash!)
    if (hashes.length > 0) await lockBlobCollection(tx)
    await tx.thumbnail.deleteMany({ where: { resourceId: resource.id } })
    const { count } = await tx.resourceRevision.deleteMany({ where: { resourceId: resource.id } })
    await tx.resource.update({ where: { id: resource.id }, data: { lastRevisionId: null, modifiedAt: new Date() } })
    await collectUnreferencedBlobs(ctx, tx, blobs, hashes)
    return count
  })
}
