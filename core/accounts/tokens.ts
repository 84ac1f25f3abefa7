// Short-lived signed tokens that let a signed-in browser open an MQTT connection (username "token").
// A token is base64url(JSON {u: userId, e: expiry ms[, s: session id]}) + "." + HMAC of that part with
// the server secret. A token issued for a browser session is good only while that session lasts.
import { createHmac } from 'node:crypto'
import type { CoreContext } from '../context.ts'
import type { Principal } from '../resources/permissions.ts'
import { hashesEqual } from './hashing.ts'
import { membershipsOf } from './organizations.ts'
import { liveSessionIds } from './sessions.ts'
import { isSystemAdmin } from './users.ts'

export const TOKEN_TTL_MS = 10 * 60_000

const sign = (secret: string, body: string) => createHmac('sha256', secret).update('mqtt-token:' + body).digest('hex')

export function issueToken(ctx: CoreContext, userId: number, options: { sessionId?: number; ttlMs?: number } = {}): string {
  const { sessionId, ttlMs = TOKEN_TTL_MS } = options
  const body = Buffer.from(JSON.stringify({ u: userId, e: Date.now() + ttlMs, ...(sessionId === undefined ? {} : { s: sessionId }) })).toString('base64url')
  return `${body}.${sign(ctx.secret, body)}`
}

/** The user a token was issued to, as a principal; null when forged, expired or the user is gone. */
export async function authenticateToken(ctx: CoreContext, token: string): Promise<Principal | null> {
  const [body, signature, extra] = token.split('.')
  if (!body || !signature || extra !== undefined || !hashesEqual(signature, sign(ctx.secret, body))) return null
  let claims: { u?: unknown; e?: unknown; s?: unknown }
  try {
    claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'))
  } catch {
    return null
  }
  if (typeof claims.u !== 'number' || typeof claims.e !== 'number' || claims.e <= Date.now()) return null
  if (claims.s !== undefined && (typeof claims.s !== 'number' || !(await liveSessionIds(ctx, [claims.s])).has(claims.s))) return null // signed out
  const user = await ctx.db.user.findUnique({ where: { id: claims.u } })
  if (!user || user.deleted) return null
  const memberships = await membershipsOf(ctx.db, user.id)
  const principal: Principal = { kind: 'user', userId: user.id, systemAdmin: isSystemAdmin(user), organizationIds: memberships.map((m) => m.organizationId) }
  return typeof claims.s === 'number' ? { ...principal, sessionId: claims.s } : principal
}
