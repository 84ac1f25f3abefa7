// Short-lived signed tokens that let a signed-in browser open an MQTT connection (username "token").
// A token is base64url(JSON {u: userId, e: expiry ms[, s: session id][, k: key id]}) + "." + HMAC of that
// part with the server secret. A token issued for a browser session is good only while that session lasts;
// one issued for an API key acts as that key (its scope, its revocation), never as the whole user.
import { createHmac } from 'node:crypto'
import type { CoreContext } from '../context.ts'
import type { Principal } from '../resources/permissions.ts'
import { hashesEqual } from './hashing.ts'
import { principalOfKeyId } from './keys.ts'
import { membershipsOf } from './organizations.ts'
import { liveSessionIds } from './sessions.ts'
import { isSystemAdmin } from './users.ts'

export const TOKEN_TTL_MS = 10 * 60_000

const sign = (secret: string, body: string) => createHmac('sha256', secret).update('mqtt-token:' + body).digest('hex')

export function issueToken(ctx: CoreContext, userId: number, options: { sessionId?: number; keyId?: number; ttlMs?: number } = {}): string {
  const { sessionId, keyId, ttlMs = TOKEN_TTL_MS } = options
  const claims = { u: userId, e: Date.now() + ttlMs, ...(sessionId === undefined ? {} : { s: sessionId }), ...(keyId === undefined ? {} : { k: keyId }) }
  const body = Buffer.from(JSON.stringify(claims)).toString('base64url')
  return `${body}.${sign(ctx.secret, body)}`
}

/** The user a token was issued to, as a principal; null when forged, expired or the user is gone. */
export async function authenticateToken(ctx: CoreContext, token: string): Promise<Principal | null> {
  const [body, signature, extra] = token.split('.')
  if (!body || !signature || extra !== undefined || !hashesEqual(signature, sign(ctx.secret, body))) return null
  let claims: { u?: unknown; e?: unknown; s?: unknown; k?: unknown }
  try {
    claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'))
  } catch {
    return null
  }
  if (typeof claims.u !== 'number' || typeof claims.e !== 'number' || claims.e <= Date.now()) return null
  if (claims.k !== undefined) return keyTokenPrincipal(ctx, claims.u, claims.k)
  if (claims.s !== undefined && (typeof claims.s !== 'number' || !(await liveSessionIds(ctx, [claims.s])).has(claims.s))) return null // signed out
  const user = await ctx.db.user.findUnique({ where: { id: claims.u } })
  if (!user || user.deleted) return null
  const memberships = await membershipsOf(ctx.db, user.id)
  const principal: Principal = { kind: 'user', userId: user.id, systemAdmin: isSystemAdmin(user), organizationIds: memberships.map((m) => m.organizationId) }
  return typeof claims.s === 'number' ? { ...principal, sessionId: claims.s } : principal
}

/** A key's token is the key's principal, scope and key id included, so revalidation treats it as the key. */
async function keyTokenPrincipal(ctx: CoreContext, userId: number, keyId: unknown): Promise<Principal | null> {
  if (typeof keyId !== 'number') return null
  const principal = await principalOfKeyId(ctx.db, keyId)
  return principal?.kind === 'user' && principal.userId === userId ? principal : null
}
