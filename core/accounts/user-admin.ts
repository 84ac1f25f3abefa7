// Users on behalf of a caller (rhizo's main/api/users.py): system admins create, list and delete
// users; everyone reads and updates their own account. Deleting a user is soft (rhizo's deleted flag)
// and ends everything that acted as them: sessions are removed and keys revoked at once.
import { bumpCredentialsVersion } from './credentials-version.ts'
import type { CoreContext } from '../context.ts'
import { inTransaction, type User } from '../db/index.ts'
import { forbidden, invalid, notFound, TendrilError } from '../errors.ts'
import { bumpAccessVersion } from '../resources/access-version.ts'
import { actsAsSystemAdmin, type Principal } from '../resources/permissions.ts'
import { formatTimestamp } from '../messages/timestamps.ts'
import { keyedHash } from './hashing.ts'
import { checkPasswordRules, hashPassword, verifyPassword } from './passwords.ts'
import { asUser, requireSystemAdmin, type UserPrincipal } from './roles.ts'
import { insertUser, isSystemAdmin, prepareUser, Role } from './users.ts'

/** rhizo's User.as_dict */
export function describeUser(user: User) {
  return {
    id: user.id,
    user_name: user.userName,
    email_address: user.email,
    full_name: user.fullName,
    role: user.role,
    system_admin: isSystemAdmin(user),
    creation_timestamp: formatTimestamp(user.createdAt),
    deleted: user.deleted,
  }
}

/** 'current' or an id; a user reads only themself, a system admin anyone (rhizo: others are 403). */
export type UserRef = 'current' | number

async function targetUser(ctx: CoreContext, principal: Principal, ref: UserRef) {
  const caller = asUser(principal)
  const id = ref === 'current' ? caller.userId : ref
  if (id !== caller.userId && !actsAsSystemAdmin(caller))
    throw forbidden('you may only see and change your own account')
  const user = await ctx.db.user.findUnique({ where: { id } })
  if (!user || (user.deleted && id === caller.userId)) throw notFound('user not found')
  return { caller, user }
}

export async function getUserAs(ctx: CoreContext, principal: Principal, ref: UserRef) {
  return describeUser((await targetUser(ctx, principal, ref)).user)
}

export async function listUsersAs(ctx: CoreContext, principal: Principal) {
  requireSystemAdmin(principal)
  return (await ctx.db.user.findMany({ orderBy: { id: 'asc' } })).map(describeUser)
}

export async function createUserAs(
  ctx: CoreContext,
  principal: Principal,
  input: { email: string; password: string; fullName?: string; systemAdmin?: boolean },
) {
  requireSystemAdmin(principal)
  return describeUser(await insertUser(ctx.db, await prepareUser(ctx, input)))
}

export interface UserChanges {
  fullName?: string
  password?: string
  /** required when users change their own password */
  oldPassword?: string
  /** the caller's session token, kept when a password change signs out every other session */
  keepSessionToken?: string
  /** make or unmake a system admin: system admins only, never on themselves */
  systemAdmin?: boolean
}

/** a 403 the caller counts, so a stolen session cannot guess the old password at leisure */
export class WrongPassword extends TendrilError {
  constructor() {
    super('forbidden', 'the old password is wrong')
  }
}

/**
 * Updates full name and password. Changing one's own password needs the old one (a stolen session
 * must not be able to lock the owner out); a password change ends the user's other sessions.
 */
export async function updateUserAs(ctx: CoreContext, principal: Principal, ref: UserRef, changes: UserChanges) {
  const { caller, user } = await targetUser(ctx, principal, ref)
  if (user.deleted) throw notFound('user not found')
  const role = changes.systemAdmin === undefined ? undefined : roleChange(caller, user, changes.systemAdmin)
  let passwordHash: string | undefined
  if (changes.password !== undefined) {
    checkPasswordRules(changes.password, ctx.config.passwordMinLength)
    if (user.id === caller.userId) {
      if (changes.oldPassword === undefined) throw invalid('old_password is required to change your password')
      if (!(await verifyPassword(changes.oldPassword, user.passwordHash))) throw new WrongPassword()
    }
    // outside the transaction: bcrypt is slow
    passwordHash = await hashPassword(changes.password, ctx.config.bcryptCost)
  }
  const updated = await inTransaction(ctx.db, async (tx) => {
    const row = await tx.user.update({
      where: { id: user.id },
      data: {
        ...(changes.fullName !== undefined ? { fullName: changes.fullName } : {}),
        ...(passwordHash ? { passwordHash } : {}),
        ...(role !== undefined ? { role } : {}),
      },
    })
    if (role === Role.standard && isSystemAdmin(user)) {
      // no longer an admin: sessions and live connections opened as one end, so none keeps those rights
      await tx.session.deleteMany({ where: { userId: user.id } })
      await bumpCredentialsVersion(tx)
    }
    if (passwordHash) {
      const keep = changes.keepSessionToken ? keyedHash(ctx.secret, changes.keepSessionToken) : undefined
      await tx.session.deleteMany({ where: { userId: user.id, ...(keep ? { tokenHash: { not: keep } } : {}) } })
      await bumpCredentialsVersion(tx) // their MQTT and websocket connections close within a second, not at the sweep
    }
    return row
  })
  return describeUser(updated)
}

/** The new role; only a system admin (signed in, not through a key) changes one, and not their own (no lock-out). */
function roleChange(caller: UserPrincipal, user: User, systemAdmin: boolean): number {
  requireSystemAdmin(caller)
  if (user.id === caller.userId) throw invalid('you cannot change whether you are a system admin yourself')
  return systemAdmin ? Role.systemAdmin : Role.standard
}

/**
 * Soft-deletes a user: their sessions end, their keys are revoked (so live MQTT sessions close), access is re-checked.
 */
export async function deleteUserAs(ctx: CoreContext, principal: Principal, userId: number) {
  const caller = requireSystemAdmin(principal)
  if (userId === caller.userId) throw invalid('you cannot delete your own account')
  await inTransaction(ctx.db, async (tx) => {
    const user = await tx.user.findUnique({ where: { id: userId } })
    if (!user || user.deleted) throw notFound('user not found')
    await tx.user.update({ where: { id: userId }, data: { deleted: true } })
    await tx.session.deleteMany({ where: { userId } })
    await tx.key.updateMany({
      where: { accessAsUserId: userId, revokedAt: null },
      data: { revokedAt: new Date(), revokedById: caller.userId },
    })
    await bumpAccessVersion(tx)
    await bumpCredentialsVersion(tx) // live MQTT sessions of these credentials close within a second
  })
}
