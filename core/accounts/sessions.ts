// Browser sessions: a random token in an HTTP-only cookie, stored as a keyed hash with its CSRF token.
// Kept in the database (not in memory) so any instance behind a load balancer can serve any request.
import type { CoreContext } from '../context.ts'
import { bumpMarker } from '../change-markers.ts'
import type { Principal } from '../resources/permissions.ts'
import { keyedHash, randomToken } from './hashing.ts'
import { membershipsOf } from './organizations.ts'
import { isSystemAdmin } from './users.ts'

export const SESSION_TTL_MS = 30 * 24 * 3600 * 1000

export async function createSession(ctx: CoreContext, userId: number, ttlMs = SESSION_TTL_MS) {
  const token = randomToken()
  const csrfToken = randomToken()
  const expiresAt = new Date(Date.now() + ttlMs)
  await ctx.db.session.create({ data: { tokenHash: keyedHash(ctx.secret, token), csrfToken, userId, expiresAt } })
  return { token, csrfToken, expiresAt }
}

/** The session's user as a principal, or null when the token is unknown, expired or its user deleted. */
export async function findSession(ctx: CoreContext, token: string) {
  const session = await ctx.db.session.findUnique({
    where: { tokenHash: keyedHash(ctx.secret, token) },
    include: { user: true },
  })
  if (!session || session.expiresAt.getTime() <= Date.now() || session.user.deleted) return null
  const memberships = await membershipsOf(ctx.db, session.userId)
  const principal: Principal = {
    kind: 'user',
    userId: session.userId,
    systemAdmin: isSystemAdmin(session.user),
    organizationIds: memberships.map((m) => m.organizationId),
    sessionId: session.id,
  }
  return { principal, csrfToken: session.csrfToken, user: session.user }
}

/** What a browser needs after a reload: who is signed in and the organizations they belong to. */
export async function describeSessionUser(ctx: CoreContext, userId: number) {
  const user = await ctx.db.user.findUniqueOrThrow({ where: { id: userId } })
  const memberships = await ctx.db.organizationUser.findMany({
    where: { userId, organization: { deleted: false } },
    include: { organization: true },
    orderBy: { organizationId: 'asc' },
  })
  return {
    user: { id: user.id, email: user.email, full_name: user.fullName, system_admin: isSystemAdmin(user) },
    organizations: memberships.map((m) => ({
      id: m.organizationId,
      name: m.organization.name,
      full_name: String(
        (m.organization.systemAttributes as { full_name?: unknown } | null)?.full_name ?? m.organization.name,
      ),
      is_admin: m.isAdmin,
    })),
  }
}

/**
 * Signs out: the session goes, and the connections it opened (websockets, MQTT) close within a second
 * (broker/revalidate.ts).
 */
export async function deleteSession(ctx: CoreContext, token: string) {
  const { count } = await ctx.db.session.deleteMany({ where: { tokenHash: keyedHash(ctx.secret, token) } })
  if (count > 0) await bumpMarker(ctx.db, 'credentials')
}

/** Of these session ids, those still signed in (not deleted, not expired). */
export async function liveSessionIds(ctx: CoreContext, ids: number[]): Promise<Set<number>> {
  if (ids.length === 0) return new Set()
  const rows = await ctx.db.session.findMany({
    where: { id: { in: ids }, expiresAt: { gt: new Date() } },
    select: { id: true },
  })
  return new Set(rows.map((r) => r.id))
}

export async function deleteExpiredSessions(ctx: CoreContext) {
  return ctx.db.session.deleteMany({ where: { expiresAt: { lt: new Date() } } })
}
