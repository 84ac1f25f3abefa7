// Short-lived signed tokens that let a signed-in browser open an MQTT connection (username "token").
// A token is base64url(JSON {u: userId, e: expiry ms[, s: session id][, k: key id]}) + "." + HMAC of that
// part with the server secret. A token issued for a browser session is good only while that session lasts;
// one issued for an API key acts as that key (its scope, its revocation), never as the whole user.
// An anonymous token ({a: 1, c: client id, ip}) is for a public read-only page: it reads what public read allows.
import { createHmac } from 'node:crypto'
import type { CoreContext } from '../context.ts'
import type { Principal } from '../resources/permissions.ts'
import { hashesEqual } from './hashing.ts'
import { principalOfKeyId } from './keys.ts'
import { membershipsOf } from './organizations.ts'
import { liveSessionIds } from './sessions.ts'
import { isSystemAdmin } from './users.ts'

export const TOKEN_TTL_MS = 10 * 60_000

const sign = (secret: string, body: string) =>
  createHmac('sha256', secret)
    .update('mqtt-token:' + body)
    .digest('hex')

export function issueToken(
  ctx: CoreContext,
  userId: number,
  options: { sessionId?: number; keyId?: number; ttlMs?: number } = {},
): string {
  const { sessionId, keyId, ttlMs = TOKEN_TTL_MS } = options
  const claims = {
    u: userId,
    e: Date.now() + ttlMs,
    ...(sessionId === undefined ? {} : { s: sessionId }),
    ...(keyId === undefined ? {} : { k: keyId }),
  }
  const body = Buffer.from(JSON.stringify(claims)).toString('base64url')
  return `${body}.${sign(ctx.secret, body)}`
}

/** A token for an anonymous viewer: good for one client id only, counted against the address it was issued to. */
export function issueAnonymousToken(ctx: CoreContext, clientId: string, address: string, ttlMs = TOKEN_TTL_MS): string {
  const body = Buffer.from(JSON.stringify({ a: 1, c: clientId, ip: address, e: Date.now() + ttlMs })).toString(
    'base64url',
  )
  return `${body}.${sign(ctx.secret, body)}`
}

interface Claims {
  u?: unknown
  e?: unknown
  s?: unknown
  k?: unknown
  a?: unknown
  c?: unknown
  ip?: unknown
}

/** The claims of a token signed here and not expired; null otherwise. */
function verifiedClaims(ctx: CoreContext, token: string): Claims | null {
  const [body, signature, extra] = token.split('.')
  if (!body || !signature || extra !== undefined || !hashesEqual(signature, sign(ctx.secret, body))) return null
  let claims: Claims
  try {
    claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'))
  } catch {
    return null
  }
  return claims && typeof claims.e === 'number' && claims.e > Date.now() ? claims : null
}

/** An anonymous token's client id and address; null for any other token, or a forged or expired one. */
export function readAnonymousToken(ctx: CoreContext, token: string): { clientId: string; address: string } | null {
  const claims = verifiedClaims(ctx, token)
  if (claims?.a !== 1 || typeof claims.c !== 'string' || typeof claims.ip !== 'string') return null
  return { clientId: claims.c, address: claims.ip }
}

/** The user a token was issued to, as a principal; null when forged, expired or the user is gone (or anonymous). */
export async function authenticateToken(ctx: CoreContext, token: string): Promise<Principal | null> {
  const claims = verifiedClaims(ctx, token)
  if (!claims || claims.a !== undefined || typeof claims.u !== 'number') return null
  if (claims.k !== undefined) return keyTokenPrincipal(ctx, claims.u, claims.k)
  if (
    claims.s !== undefined &&
    (typeof claims.s !== 'number' || !(await liveSessionIds(ctx, [claims.s])).has(claims.s))
  )
    return null // signed out
  const user = await ctx.db.user.findUnique({ where: { id: claims.u } })
  if (!user || user.deleted) return null
  const memberships = await membershipsOf(ctx.db, user.id)
  const principal: Principal = {
    kind: 'user',
    userId: user.id,
    systemAdmin: isSystemAdmin(user),
    organizationIds: memberships.map((m) => m.organizationId),
  }
  return typeof claims.s === 'number' ? { ...principal, sessionId: claims.s } : principal
}

/** A key's token is the key's principal, scope and key id included, so revalidation treats it as the key. */
async function keyTokenPrincipal(ctx: CoreContext, userId: number, keyId: unknown): Promise<Principal | null> {
  if (typeof keyId !== 'number') return null
  const principal = await principalOfKeyId(ctx.db, keyId)
  return principal?.kind === 'user' && principal.userId === userId ? principal : null
}
