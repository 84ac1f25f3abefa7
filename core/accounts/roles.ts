// Who may administer what: the account-side counterpart of resources/permissions.ts. A user key acts
// only inside its own organization (scopeOrganizationId), so it administers that organization at most.
import type { DbClient } from '../db/index.ts'
import { forbidden, unauthorized } from '../errors.ts'
import type { Principal } from '../resources/permissions.ts'

export type UserPrincipal = Extract<Principal, { kind: 'user' }>

/** The caller as a user: no credentials is 401, a controller key is 403 (it is known but may not do this). */
export function asUser(principal: Principal): UserPrincipal {
  if (principal.kind === 'anonymous') throw unauthorized()
  if (principal.kind !== 'user') throw forbidden('this needs a user, not a controller')
  return principal
}

export function requireSystemAdmin(principal: Principal): UserPrincipal {
  const user = asUser(principal)
  if (!user.systemAdmin) throw forbidden('this needs a system administrator')
  return user
}

const inScope = (user: UserPrincipal, organizationId: number) => user.scopeOrganizationId === undefined || user.scopeOrganizationId === organizationId

/** Members (and system admins) see an organization; everyone else must not learn that it exists. */
export function canSeeOrganization(user: UserPrincipal, organizationId: number): boolean {
  if (!inScope(user, organizationId)) return false
  return user.systemAdmin || user.organizationIds.includes(organizationId)
}

export async function isOrganizationAdmin(db: DbClient, user: UserPrincipal, organizationId: number): Promise<boolean> {
  if (!inScope(user, organizationId)) return false
  if (user.systemAdmin) return true
  const member = await db.organizationUser.findUnique({ where: { organizationId_userId: { organizationId, userId: user.userId } } })
  return member?.isAdmin === true
}
