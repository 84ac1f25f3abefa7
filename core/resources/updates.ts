// Changing a resource (REST PUT /api/v1/resources/<path>): every change a request asks for, applied
// in ONE transaction, so a request that fails halfway (a name taken, a bad setting) changes nothing.
import type { CoreContext } from '../context.ts'
import type { BlobStore } from '../blobs/index.ts'
import { inTransaction, type Prisma, type Resource } from '../db/index.ts'
import { forbidden, invalid } from '../errors.ts'
import { MAX_ATTRIBUTES_BYTES, mergeObject, mergeSequenceSettings } from './attributes.ts'
import { mergeStatusAttributes } from './controller-status.ts'
import { addFileRevision } from './files.ts'
import type { Found } from './lookup.ts'
import { relocate } from './moves.ts'
import { setPermissions, type Principal } from './permissions.ts'
import { isOrganizationAdmin } from '../accounts/roles.ts'
import type { RevisionContent } from './revisions.ts'
import { ResourceType } from './types.ts'
import { checkWatchdogAttributes } from './watchdog.ts'

export interface ResourceUpdate {
  name?: string
  parent?: Resource
  systemAttributes?: Record<string, unknown>
  userAttributes?: Record<string, unknown>
  /** an organization's full name (rhizo's full_name) */
  fullName?: string
  /** a permission list, or null to inherit */
  permissions?: unknown
  /** keys of a controller's reported status, merged into the stored ones (ControllerStatus attributes) */
  status?: Record<string, unknown>
  /** a file's new revision */
  content?: RevisionContent
  revisionTimestamp?: Date
}

export async function applyUpdate(
  core: CoreContext,
  blobs: BlobStore,
  principal: Principal,
  found: Found,
  update: ResourceUpdate,
): Promise<{ revisionId: number | null }> {
  const resource = found.resource
  if (update.permissions !== undefined) await checkMayGrant(core, principal, resource)
  if (update.status !== undefined && resource.type !== ResourceType.controllerFolder)
    throw invalid('only a controller folder has a status')
  if (update.fullName !== undefined && resource.type !== ResourceType.organizationFolder)
    throw invalid('only an organization has a full_name')
  if (update.systemAttributes) checkWatchdogAttributes(principal, update.systemAttributes)
  const systemAttributes = update.systemAttributes && nextSystemAttributes(resource, update.systemAttributes)
  return inTransaction(core.db, async (tx) => {
    if (update.name !== undefined || update.parent)
      await relocate(tx, resource, { name: update.name, parent: update.parent })
    const data: Prisma.ResourceUpdateInput = {}
    if (systemAttributes) data.systemAttributes = systemAttributes as Prisma.InputJsonObject
    if (update.fullName)
      data.systemAttributes = { ...(resource.systemAttributes as object | null), full_name: update.fullName }
    if (update.userAttributes) data.userAttributes = update.userAttributes as Prisma.InputJsonObject
    if (Object.keys(data).length)
      await tx.resource.update({ where: { id: resource.id }, data: { ...data, modifiedAt: new Date() } })
    if (update.permissions !== undefined) {
      try {
        await setPermissions(tx, resource.id, update.permissions)
      } catch (err) {
        if ((err as { name?: string }).name === 'ZodError')
          throw invalid(
            'permissions must be a list of [type, id, level] entries (types 100-140, levels 0, 10, 20), or null to inherit',
          )
        throw err
      }
    }
    if (update.status) await mergeStatusAttributes(tx, resource.id, update.status, MAX_ATTRIBUTES_BYTES)
    const revisionId = update.content
      ? await addFileRevision(tx, blobs, resource, update.content, update.revisionTimestamp)
      : null
    return { revisionId }
  })
}

/**
 * Sequences merge checked settings into what they have; controller folders merge the keys given
 * (rhizo merged watchdog_recipients and watchdog_minutes into the rest; Tendril takes any key, and
 * null removes one); other resources take the object as given (rhizo: "this will overwrite").
 */
function nextSystemAttributes(resource: Resource, given: Record<string, unknown>): Record<string, unknown> {
  if (resource.type === ResourceType.sequence) return mergeSequenceSettings(resource.systemAttributes, given)
  if (resource.type === ResourceType.controllerFolder)
    return mergeObject(resource.systemAttributes, given, {
      what: 'system_attributes',
      maxBytes: MAX_ATTRIBUTES_BYTES,
      removeNulls: true,
    })
  if (resource.type === ResourceType.organizationFolder)
    throw invalid("an organization's attributes are set through /api/v1/organizations (or full_name)")
  return given
}

/**
 * Who may change a permission list: a user with write access (a controller's key never: org controllers
 * write everywhere by default, and a device must not lock its people out); on an organization itself,
 * only its admins and system admins.
 */
async function checkMayGrant(core: CoreContext, principal: Principal, resource: Resource): Promise<void> {
  if (principal.kind !== 'user') throw forbidden('only users change permissions')
  if (resource.type !== ResourceType.organizationFolder) return
  if (!(await isOrganizationAdmin(core.db, principal, resource.id)))
    throw forbidden("only organization admins change the organization's permissions")
}
