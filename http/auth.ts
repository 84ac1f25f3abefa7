// Who is calling: HTTP Basic whose password is an API key (the username is the client's version,
// as rhizo's client sends it, and is ignored), or a session cookie. Both come from the headers, so
// they are checked before any body is read: a bad key, or a caller without credentials sending more
// than a small body, is refused unread (http/errors.ts then closes the connection). Session requests that change state
// must carry the session's CSRF token (a header, or a field of the parsed body); key requests need none (no ambient
// credential).
import type { Request, RequestHandler, Response } from 'express'
import { authenticateKeyCached } from '../core/accounts/key-cache.ts'
import { findSession } from '../core/accounts/sessions.ts'
import type { Core } from '../core/index.ts'
import { forbidden, tooLarge, unauthorized, type TendrilError } from '../core/errors.ts'
import { anonymous, type Principal } from '../core/resources/permissions.ts'
import { readCredentials, SESSION_COOKIE } from './credentials.ts'
import { errorBody } from './errors.ts'

export { SESSION_COOKIE }
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

/** The most a caller without credentials may send (a sign-in form, a PIN request, a value for a public sequence). */
export const ANONYMOUS_BODY_LIMIT = 64 * 1024

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

/** The principal of the request's credentials (headers only); a bad key is 401 before any body is read. */
export function identify(core: Core): RequestHandler {
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
    }
    resolve().then(() => next(), next)
  }
}

/**
 * Bodies are bounded by who sends them: without credentials, ANONYMOUS_BODY_LIMIT (401: credentials
 * would allow more); otherwise the limit the route's parser would apply (413). A declared length is
 * checked before a byte is read; a body without one (chunked) is counted as it arrives.
 */
export function limitBody(limitFor: (req: Request) => number): RequestHandler {
  return (req, res, next) => {
    const anonymous = res.locals.principal.kind === 'anonymous'
    const limit = anonymous ? ANONYMOUS_BODY_LIMIT : limitFor(req)
    const refusal = () =>
      anonymous
        ? unauthorized(`a body over ${ANONYMOUS_BODY_LIMIT} bytes needs a key or a session`)
        : tooLarge(`the request body is larger than the limit of ${limit} bytes`)
    const declared = Number(req.headers['content-length'])
    if (Number.isFinite(declared) && declared > limit) throw refusal()
    if (!Number.isFinite(declared) && limit !== Infinity) refuseBeyond(req, res, limit, refusal)
    next()
  }
}

/**
 * Counts a body's bytes as node's HTTP parser pushes them into the request, whoever reads it (body
 * parsers, busboy), and answers the refusal at once when they pass the limit: nothing more is taken
 * in, and the connection closes after the answer (rather than reading to the end, as body-parser would).
 */
function refuseBeyond(req: Request, res: Response, limit: number, refusal: () => TendrilError): void {
  let received = req.readableLength // what arrived while the credentials were looked up
  if (received > limit) throw refusal()
  const refuse = () => {
    if (res.headersSent) return void req.destroy()
    const err = refusal()
    res.status(err.status).set('connection', 'close').json(errorBody(err.code, err.message))
    // node forgets a request once it is answered: its reader (an upload under way) learns of the end here
    req.socket.once('close', () => req.destroy())
  }
  const push = req.push.bind(req)
  req.push = (chunk: unknown, encoding?: BufferEncoding) => {
    if (chunk === null) return push(chunk, encoding)
    received += (chunk as Buffer).length
    if (received <= limit) return push(chunk, encoding)
    if (received - (chunk as Buffer).length <= limit) refuse() // once
    return false
  }
}

/**
 * For the few routes that take no credentials (mounted before identify): the caller is anonymous
 * whatever it sent, and may send what any anonymous caller may.
 */
export const asAnonymous: RequestHandler[] = [
  (_req, res, next) => {
    res.locals.principal = anonymous
    next()
  },
  limitBody(() => ANONYMOUS_BODY_LIMIT),
]

/** Runs the handlers only for callers with credentials (a key or a session); others skip them. */
export function withCredentials(handlers: RequestHandler[]): RequestHandler[] {
  return handlers.map(
    (handler): RequestHandler =>
      (req, res, next) =>
        res.locals.principal.kind === 'anonymous' ? next() : handler(req, res, next),
  )
}

/** A session request that changes state carries its CSRF token: the X-CSRF-Token header or a csrf_token field. */
export const requireCsrf: RequestHandler = (req, res, next) => {
  const session = res.locals.session
  if (!session || SAFE_METHODS.has(req.method)) return next()
  const sent = req.get('x-csrf-token') ?? (req.body as Record<string, unknown> | undefined)?.csrf_token
  if (sent !== session.csrfToken) throw forbidden('missing or wrong CSRF token')
  next()
}

export function requireUser(res: Response): Extract<Principal, { kind: 'user' }> {
  const principal = res.locals.principal
  if (principal.kind === 'anonymous') throw unauthorized()
  if (principal.kind !== 'user') throw forbidden('this needs a user, not a controller')
  return principal
}
