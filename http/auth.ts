// Who is calling: HTTP Basic whose password is an API key (the username is the client's version,
// as rhizo's client sends it, and is ignored), or a session cookie. Session requests that change
// state must carry the session's CSRF token; key requests need none (no ambient credential).
import type { RequestHandler, Response } from 'express'
import { authenticateKeyCached } from '../core/accounts/key-cache.ts'
import { findSession } from '../core/accounts/sessions.ts'
import type { Core } from '../core/index.ts'
import { forbidden, unauthorized } from '../core/errors.ts'
import { anonymous, type Principal } from '../core/resources/permissions.ts'
import { readCredentials, SESSION_COOKIE } from './credentials.ts'

export { SESSION_COOKIE }
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Locals {
      principal: Principal
      /** set when the caller authenticated with a session cookie */
      session?: { token: string; csrfToken: string }
    }
  }
}

export function authenticate(core: Core): RequestHandler {
  return (req, res, next) => {
    const resolve = async () => {
      res.locals.principal = anonymous
      const { key, sessionToken: token } = readCredentials(req.headers)
      if (key !== undefined) {
        const principal = await authenticateKeyCached(core, key)
        if (!principal) throw unauthorized('unknown or revoked key')
        res.locals.principal = principal
        return
      }
      if (!token) return
      const session = await findSession(core, token)
      if (!session) return // an expired cookie is simply no session
      res.locals.principal = session.principal
      res.locals.session = { token, csrfToken: session.csrfToken }
      if (!SAFE_METHODS.has(req.method)) {
        const sent = req.get('x-csrf-token') ?? (req.body as Record<string, unknown> | undefined)?.csrf_token
        if (sent !== session.csrfToken) throw forbidden('missing or wrong CSRF token')
      }
    }
    resolve().then(() => next(), next)
  }
}

export function requireUser(res: Response): Extract<Principal, { kind: 'user' }> {
  const principal = res.locals.principal
  if (principal.kind === 'anonymous') throw unauthorized()
  if (principal.kind !== 'user') throw forbidden('this needs a user, not a controller')
  return principal
}
