// Who may administer what: the account-side counterpart of resources/permissions.ts. A user key acts
// only inside its own organization (scopeOrganizationId), so it administers that organization at most.
import type { DbClient } from '../db/index.ts'
import { forbidden, unauthorized } from '../errors.ts'
import { actsAsSystemAdmin, canWrite, resolveAccess, type Principal } from '../resources/permissions.ts'

export type UserPrincipal = Extract<Principal, { kind: 'user' }>

/** The caller as a user: no credentials is 401, a controller key is 403 (it is known but may not do this). */
export function asUser(principal: Principal): UserPrincipal {
  if (principal.kind === 'anonymous') throw unauthorized()
  if (principal.kind !== 'user') throw forbidden('this needs a user, not a controller')
  return principal
}

/** A signed-in system admin; a key is never one, whoever it acts as. */
export function requireSystemAdmin(principal: Principal): UserPrincipal {
  const user = asUser(principal)
  if (!actsAsSystemAdmin(user)) throw forbidden('this needs a system administrator')
  return user
}

const inScope = (user: UserPrincipal, organizationId: number) =>
  user.scopeOrganizationId === undefined || user.scopeOrganizationId === organizationId

/** Members (and system admins) see an organization; everyone else must not learn that it exists. */
export function canSeeOrganization(user: UserPrincipal, organizationId: number): boolean {
  if (!inScope(user, organizationId)) return false
  return actsAsSystemAdmin(user) || user.organizationIds.includes(organizationId)
}

export async function isOrganizationAdmin(db: DbClient, user: UserPrincipal, organizationId: number): Promise<boolean> {
  if (!inScope(user, organizationId)) return false
  if (actsAsSystemAdmin(user) || user.administersScope) return true
  const member = await db.organizationUser.findUnique({
    where: { organizationId_userId: { organizationId, userId: user.userId } },
  })
  return member?.isAdmin === true
}

/**
 * Controllers act for their whole organization (its [120, org] grants), so only its own people create
 * them, their keys and PINs: its admins, members who may write the organization folder, its controllers.
 * Write access granted on one shared folder is not enough.
 */
export async function requireMayProvisionControllers(
  db: DbClient,
  principal: Principal,
  organizationId: number,
): Promise<void> {
  if (await mayProvisionControllers(db, principal, organizationId)) return
  throw forbidden("only the organization's admins and members who may write it create its controllers and their keys")
}

async function mayProvisionControllers(db: DbClient, principal: Principal, organizationId: number): Promise<boolean> {
  if (principal.kind === 'controller') return principal.organizationId === organizationId
  if (principal.kind !== 'user') return false
  if (await isOrganizationAdmin(db, principal, organizationId)) return true
  return (
    principal.organizationIds.includes(organizationId) && canWrite(await resolveAccess(db, principal, organizationId))
  )
}
