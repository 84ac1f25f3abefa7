// Organizations and their members on behalf of a caller (rhizo's main/api/organizations.py).
// Every membership change moves the access version, so live MQTT sessions re-check what they may
// read and write (broker/revalidate.ts), and key sessions of a removed member are closed.
import { bumpCredentialsVersion } from './credentials-version.ts'
import type { CoreContext } from '../context.ts'
import { inTransaction, type DbClient, type Resource } from '../db/index.ts'
import { conflict, forbidden, notFound } from '../errors.ts'
import { bumpAccessVersion } from '../resources/access-version.ts'
import { checkName, checkPathName } from '../resources/paths.ts'
import { actsAsSystemAdmin, type Principal } from '../resources/permissions.ts'
import { liveKey } from '../resources/tree.ts'
import { ResourceType } from '../resources/types.ts'
import { formatTimestamp } from '../messages/timestamps.ts'
import { addMember, createOrganization } from './organizations.ts'
import { asUser, canSeeOrganization, isOrganizationAdmin, requireSystemAdmin } from './roles.ts'
import { findUserByEmail } from './users.ts'

/** An organization named in a URL: its numeric id (as rhizo's URLs had it) or its folder name. */
export type OrganizationRef = number | string

function fullNameOf(org: Resource): string {
  const attributes = org.systemAttributes as { full_name?: unknown } | null
  return typeof attributes?.full_name === 'string' ? attributes.full_name : org.name
}

export function describeOrganization(org: Resource) {
  return {
    id: org.id,
    name: org.name,
    full_name: fullNameOf(org),
    path: '/' + org.name,
    type: org.type,
    creation_timestamp: formatTimestamp(org.createdAt),
  }
}

const isPathName = (name: string) => {
  try {
    return checkPathName(name) === name
  } catch {
    return false
  }
}

/** The organization, if the caller may see it; otherwise 404 whether or not it exists. */
export async function organizationFor(db: DbClient, principal: Principal, ref: OrganizationRef) {
  const user = asUser(principal)
  // a name no organization can have (a NUL, which PostgreSQL refuses in a query) names none
  if (typeof ref === 'string' && !isPathName(ref)) throw notFound('organization not found')
  const where = typeof ref === 'number' ? { id: ref } : { liveKey: liveKey(null, ref) }
  const org = await db.resource.findFirst({
    where: { ...where, type: ResourceType.organizationFolder, deleted: false },
  })
  if (!org || !canSeeOrganization(user, org.id)) throw notFound('organization not found')
  return org
}

async function adminOrganizationFor(db: DbClient, principal: Principal, ref: OrganizationRef) {
  const org = await organizationFor(db, principal, ref)
  if (!(await isOrganizationAdmin(db, asUser(principal), org.id)))
    throw forbidden('only an organization administrator may do this')
  return org
}

/** A system admin sees every organization; anyone else the ones they belong to (a key: its own). */
export async function listOrganizations(db: DbClient, principal: Principal) {
  const user = asUser(principal)
  const everything = actsAsSystemAdmin(user)
  const orgs = await db.resource.findMany({
    where: {
      type: ResourceType.organizationFolder,
      deleted: false,
      ...(everything ? {} : { id: { in: user.organizationIds.filter((id) => canSeeOrganization(user, id)) } }),
    },
    orderBy: { id: 'asc' },
  })
  return orgs.map(describeOrganization)
}

/** Each organization's controllers, online and offline (the web UI's home page), in two queries. */
export async function controllerCounts(db: DbClient, organizationIds: number[]) {
  const counts = new Map(organizationIds.map((id) => [id, { online: 0, offline: 0 }]))
  const where = { type: ResourceType.controllerFolder, deleted: false, organizationId: { in: organizationIds } }
  const all = await db.resource.groupBy({ by: ['organizationId'], where, _count: { _all: true } })
  const online = await db.controllerStatus.findMany({
    where: { connected: true, controller: where },
    select: { controller: { select: { organizationId: true } } },
  })
  for (const row of all) if (row.organizationId !== null) counts.get(row.organizationId)!.offline = row._count._all
  for (const { controller } of online) {
    const count = counts.get(controller.organizationId!)!
    count.online++
    count.offline--
  }
  return counts
}

/** rhizo let only system admins create organizations outside the sign-up flow. */
export async function createOrganizationAs(ctx: CoreContext, principal: Principal, name: string, fullName?: string) {
  requireSystemAdmin(principal)
  checkName(name)
  return describeOrganization(await inTransaction(ctx.db, (tx) => createOrganization(tx, name, fullName)))
}

export async function updateOrganizationAs(
  ctx: CoreContext,
  principal: Principal,
  ref: OrganizationRef,
  changes: { fullName?: string },
) {
  const org = await adminOrganizationFor(ctx.db, principal, ref)
  if (changes.fullName === undefined) return describeOrganization(org)
  const attributes = {
    ...((org.systemAttributes as Record<string, unknown> | null) ?? {}),
    full_name: changes.fullName,
  }
  return describeOrganization(
    await ctx.db.resource.update({ where: { id: org.id }, data: { systemAttributes: attributes } }),
  )
}

function describeMember(m: {
  id: number
  organizationId: number
  userId: number
  isAdmin: boolean
  user: { email: string; fullName: string }
}) {
  return {
    id: m.id,
    organization_id: m.organizationId,
    user_id: m.userId,
    is_admin: m.isAdmin,
    email_address: m.user.email,
    full_name: m.user.fullName,
  }
}

/** Members are listed to the organization's admins (rhizo: system admins only). */
export async function listMembers(ctx: CoreContext, principal: Principal, ref: OrganizationRef) {
  const org = await adminOrganizationFor(ctx.db, principal, ref)
  const members = await ctx.db.organizationUser.findMany({
    where: { organizationId: org.id, user: { deleted: false } },
    include: { user: true },
    orderBy: { id: 'asc' },
  })
  return members.map(describeMember)
}

/** Adds an existing user, named by email address or id; inviting people without an account is not done here. */
export async function addMemberAs(
  ctx: CoreContext,
  principal: Principal,
  ref: OrganizationRef,
  who: { email?: string; userId?: number },
  isAdmin: boolean,
) {
  const org = await adminOrganizationFor(ctx.db, principal, ref)
  const user =
    who.email !== undefined
      ? await findUserByEmail(ctx.db, who.email)
      : await ctx.db.user.findFirst({ where: { id: who.userId, deleted: false } })
  if (!user) throw notFound('no user with that email address or id')
  const member = await inTransaction(ctx.db, async (tx) => {
    const row = await addMember(tx, org.id, user.id, isAdmin)
    await bumpAccessVersion(tx)
    return row
  })
  return describeMember({ ...member, user })
}

/** An organization always keeps one admin, so its members can always manage it. */
async function requireAnotherAdmin(tx: DbClient, organizationId: number, userId: number) {
  const others = await tx.organizationUser.count({
    where: { organizationId, isAdmin: true, userId: { not: userId }, user: { deleted: false } },
  })
  if (others === 0) throw conflict('an organization needs at least one administrator')
}

async function membershipOf(tx: DbClient, organizationId: number, userId: number) {
  const member = await tx.organizationUser.findUnique({
    where: { organizationId_userId: { organizationId, userId } },
    include: { user: true },
  })
  if (!member) throw notFound('that user is not a member of this organization')
  return member
}

export async function setMemberAdminAs(
  ctx: CoreContext,
  principal: Principal,
  ref: OrganizationRef,
  userId: number,
  isAdmin: boolean,
) {
  const org = await adminOrganizationFor(ctx.db, principal, ref)
  const updated = await inTransaction(ctx.db, async (tx) => {
    const member = await membershipOf(tx, org.id, userId)
    if (member.isAdmin && !isAdmin) await requireAnotherAdmin(tx, org.id, userId)
    const row = await tx.organizationUser.update({
      where: { id: member.id },
      data: { isAdmin },
      include: { user: true },
    })
    await bumpAccessVersion(tx)
    return row
  })
  return describeMember(updated)
}

/**
 * Removing a member cuts their access at once: sessions re-read memberships per request, MQTT sessions re-check, their
 * keys here are revoked.
 */
export async function removeMemberAs(ctx: CoreContext, principal: Principal, ref: OrganizationRef, userId: number) {
  const org = await adminOrganizationFor(ctx.db, principal, ref)
  await inTransaction(ctx.db, async (tx) => {
    const member = await membershipOf(tx, org.id, userId)
    if (member.isAdmin) await requireAnotherAdmin(tx, org.id, userId)
    await tx.organizationUser.delete({ where: { id: member.id } })
    // their keys for this organization end too, so re-adding them later does not revive old keys
    await tx.key.updateMany({
      where: { organizationId: org.id, accessAsUserId: userId, revokedAt: null },
      data: { revokedAt: new Date(), revokedById: asUser(principal).userId },
    })
    await bumpAccessVersion(tx)
    await bumpCredentialsVersion(tx) // live MQTT sessions of these credentials close within a second
  })
}
