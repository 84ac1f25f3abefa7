// Managing API keys on behalf of a caller: listing what they may manage, creating controller and
// user keys, and revoking. Secrets and hashes never leave this module; a key is shown once, on creation.
import type { CoreContext } from '../context.ts'
import { inTransaction, type DbClient, type Key } from '../db/index.ts'
import { forbidden, invalid, notFound } from '../errors.ts'
import { accessToPath, findNearest } from '../resources/access.ts'
import { splitPath } from '../resources/paths.ts'
import { actsAsSystemAdmin, canRead, canWrite, resolveAccess, type Principal } from '../resources/permissions.ts'
import { pathOf } from '../resources/tree.ts'
import { ResourceType } from '../resources/types.ts'
import { formatTimestamp } from '../messages/timestamps.ts'
import { createKey, createUserKey, revokeKey } from './keys.ts'
import {
  asUser,
  canSeeOrganization,
  isOrganizationAdmin,
  requireMayProvisionControllers,
  type UserPrincipal,
} from './roles.ts'

export type ControllerRef = { path: string } | { id: number }

/**
 * The controller folder a caller is about to act for. One it cannot read is "not found" whether or
 * not it exists (no hint about other organizations); one it can read but not write is forbidden.
 */
export async function controllerFor(db: DbClient, principal: Principal, ref: ControllerRef, need: 'read' | 'write') {
  const missing = () => notFound('controller not found')
  let controller
  let level
  if ('path' in ref) {
    const names = splitPath(ref.path)
    level = await accessToPath(db, principal, ref.path)
    if (!canRead(level)) throw missing()
    const found = await findNearest(db, names)
    if (!found || found.depth !== names.length) throw missing()
    controller = found.resource
  } else {
    controller = await db.resource.findUnique({ where: { id: ref.id } })
    if (!controller || controller.deleted) throw missing()
    level = await resolveAccess(db, principal, controller.id)
    if (!canRead(level)) throw missing()
  }
  if (controller.type !== ResourceType.controllerFolder) throw invalid('that resource is not a controller folder')
  if (need === 'write' && !canWrite(level)) throw forbidden('write access to the controller is required')
  return controller
}

/** rhizo's key fields (Key.as_dict), plus who owns it and when it was last used; never the secret or its hash. */
export function describeKey(key: Key, controllerPath?: string) {
  return {
    id: key.id,
    organization_id: key.organizationId,
    access_as_user_id: key.accessAsUserId,
    access_as_controller_id: key.accessAsControllerId,
    ...(controllerPath !== undefined ? { controller_path: controllerPath } : {}),
    key_part: key.keyPart,
    created_by_user_id: key.createdById,
    creation_timestamp: formatTimestamp(key.createdAt),
    revocation_timestamp: key.revokedAt ? formatTimestamp(key.revokedAt) : '',
    revoked: key.revokedAt !== null,
    last_used_timestamp: key.lastUsedAt ? formatTimestamp(key.lastUsedAt) : '',
  }
}

async function describeAll(db: DbClient, keys: Key[]) {
  const paths = new Map<number, string>() // a controller usually has several keys: find each path once
  const described = []
  for (const key of keys) {
    const controllerId = key.accessAsControllerId
    if (controllerId !== null && !paths.has(controllerId)) paths.set(controllerId, await pathOf(db, controllerId))
    described.push(describeKey(key, controllerId !== null ? paths.get(controllerId) : undefined))
  }
  return described
}

async function administeredOrganizations(db: DbClient, user: UserPrincipal): Promise<number[]> {
  if (user.administersScope && user.scopeOrganizationId !== undefined) return [user.scopeOrganizationId]
  const rows = await db.organizationUser.findMany({
    where: { userId: user.userId, isAdmin: true },
    select: { organizationId: true },
  })
  return rows
    .map((r) => r.organizationId)
    .filter((id) => user.scopeOrganizationId === undefined || id === user.scopeOrganizationId)
}

/**
 * Keys the caller may manage: those of one controller it can write (rhizo's access_as_controller_id),
 * or else every key of the organizations it administers plus its own user keys (a system admin: all).
 */
export async function listKeys(db: DbClient, principal: Principal, filter: { controller?: ControllerRef } = {}) {
  const user = asUser(principal) // keys are managed by people; a controller key may not list or mint its siblings' keys
  if (filter.controller) {
    const controller = await controllerFor(db, principal, filter.controller, 'write')
    return describeAll(
      db,
      await db.key.findMany({ where: { accessAsControllerId: controller.id }, orderBy: { id: 'asc' } }),
    )
  }
  if (actsAsSystemAdmin(user)) {
    return describeAll(db, await db.key.findMany({ orderBy: { id: 'asc' } }))
  }
  const organizations = await administeredOrganizations(db, user)
  const own =
    user.scopeOrganizationId === undefined
      ? { accessAsUserId: user.userId }
      : { accessAsUserId: user.userId, organizationId: user.scopeOrganizationId }
  const keys = await db.key.findMany({
    where: { OR: [{ organizationId: { in: organizations } }, own] },
    orderBy: { id: 'asc' },
  })
  return describeAll(db, keys)
}

/** A new key acting as a controller the caller can write and may provision; returns the key in clear text, once. */
export async function createControllerKeyAs(ctx: CoreContext, principal: Principal, ref: ControllerRef) {
  const user = asUser(principal)
  const controller = await controllerFor(ctx.db, user, ref, 'write')
  await requireMayProvisionControllers(ctx.db, user, controller.organizationId!)
  return createKey(ctx.db, ctx.secret, {
    organizationId: controller.organizationId!,
    owner: { controllerId: controller.id },
    createdById: user.userId,
  })
}

/**
 * A user key: for oneself in one of one's organizations, or by an admin of that organization for one
 * of its members (never for anyone else: the key would act as them, e.g. as a system admin).
 */
export async function createUserKeyAs(
  ctx: CoreContext,
  principal: Principal,
  input: { userId?: number; organizationId?: number },
) {
  const caller = asUser(principal)
  const userId = input.userId ?? caller.userId
  const organizationId =
    input.organizationId ??
    caller.scopeOrganizationId ??
    (caller.organizationIds.length === 1 ? caller.organizationIds[0] : undefined)
  if (organizationId === undefined)
    throw invalid('organization_id is required when you belong to several organizations')
  if (!canSeeOrganization(caller, organizationId)) throw notFound('organization not found')
  // a system admin sees every id, so it must name a live organization (not a folder, not nothing)
  const organization = await ctx.db.resource.findFirst({
    where: { id: organizationId, type: ResourceType.organizationFolder, deleted: false },
  })
  if (!organization) throw notFound('organization not found')
  if (userId !== caller.userId) {
    if (!(await isOrganizationAdmin(ctx.db, caller, organizationId)))
      throw forbidden('only an organization administrator may create keys for other users')
    const member = await ctx.db.organizationUser.findUnique({
      where: { organizationId_userId: { organizationId, userId } },
    })
    if (!member) throw notFound('that user is not a member of this organization')
  }
  return createUserKey(ctx.db, ctx.secret, userId, organizationId, caller.userId)
}

/**
 * Whether the caller may see (and so manage) a key: its owner, an admin of its organization, or whoever can write its
 * controller.
 */
async function mayManage(db: DbClient, principal: UserPrincipal, key: Key): Promise<boolean> {
  if (key.accessAsControllerId !== null) {
    const controller = await db.resource.findUnique({ where: { id: key.accessAsControllerId } })
    if (controller && !controller.deleted && canWrite(await resolveAccess(db, principal, controller.id))) return true
  }
  if (
    key.accessAsUserId === principal.userId &&
    (principal.scopeOrganizationId === undefined || principal.scopeOrganizationId === key.organizationId)
  )
    return true
  return isOrganizationAdmin(db, principal, key.organizationId)
}

/** Revokes a key; one the caller may not manage answers 404 like one that does not exist. */
export async function revokeKeyAs(ctx: CoreContext, principal: Principal, keyId: number) {
  const user = asUser(principal)
  return inTransaction(ctx.db, async (tx) => {
    const key = await tx.key.findUnique({ where: { id: keyId } })
    if (!key || !(await mayManage(tx, user, key))) throw notFound('key not found')
    const revoked = await revokeKey(tx, keyId, user.userId)
    return describeKey(revoked)
  })
}
