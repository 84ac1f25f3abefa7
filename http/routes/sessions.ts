// POST /sign-in and /sign-out (rhizo's form fields), with failed attempts limited per account and address.
// Signing in needs no CSRF token, not even from a browser that still holds a session (to sign in again
// or as someone else); a cross-site sign-in form (login CSRF) is refused by its Origin instead.
import { Router } from 'express'
import { z } from 'zod'
import { createSession, deleteSession, describeSessionUser, SESSION_TTL_MS } from '../../core/accounts/sessions.ts'
import { SIGN_IN_LIMITS, type Throttles } from '../../core/accounts/throttle.ts'
import { checkCredentials } from '../../core/accounts/users.ts'
import type { Core } from '../../core/index.ts'
import { forbidden, invalid, rateLimited, unauthorized } from '../../core/errors.ts'
import { SESSION_COOKIE } from '../auth.ts'
import { fromThisSite } from '../origin.ts'

export const signInBody = z.object({ email_address: z.string().min(1).max(320), password: z.string().min(1).max(1024) })

export function signInRoutes(core: Core, throttles: Throttles): Router {
  const router = Router()
  const perAccount = throttles.limit('sign-in-account', SIGN_IN_LIMITS.perAccount)
  const perAddress = throttles.limit('sign-in-address', SIGN_IN_LIMITS.perAddress)

  router.post('/sign-in', async (req, res) => {
    if (!fromThisSite(req, core.config.trustProxy)) throw forbidden('sign in from a page of this server')
    const parsed = signInBody.safeParse(req.body) // the body only: a password in a query string would reach access logs
    if (!parsed.success) throw invalid('email_address and password are required')
    const email = parsed.data.email_address.trim().toLowerCase()
    const address = req.ip ?? 'unknown'
    // counted before the password is checked, so a burst of guesses in parallel gets no more than the limit through
    const [accountOk, addressOk] = await Promise.all([perAccount.attempt(email), perAddress.attempt(address)])
    if (!accountOk || !addressOk) {
      core.log.info({ address }, 'sign-in refused: too many failed attempts')
      throw rateLimited('too many failed sign-ins; try again later')
    }
    const user = await checkCredentials(core, email, parsed.data.password)
    if (!user) {
      core.log.info({ address }, 'sign-in failed')
      throw unauthorized('wrong email address or password')
    }
    // only failures count: a class signing in from one school address is not throttled
    await Promise.all([perAccount.reset(email), perAddress.refund(address)])
    const session = await createSession(core, user.id)
    // the browser's previous session (signing in again, or as someone else) is replaced, so it ends
    if (res.locals.session) await deleteSession(core, res.locals.session.token)
    res.cookie(SESSION_COOKIE, session.token, {
      httpOnly: true,
      sameSite: 'lax',
      // Secure only over HTTPS: a greenhouse server on a LAN address often has no certificate
      secure: req.secure,
      maxAge: SESSION_TTL_MS,
      path: '/',
    })
    res.json({
      status: 'ok',
      user: { id: user.id, email: user.email, full_name: user.fullName },
      csrf_token: session.csrfToken,
    })
  })

  return router
}

export function signOutRoutes(core: Core): Router {
  const router = Router()

  // the web UI after a reload: the session's user, organizations and CSRF token (a key is no session)
  router.get('/api/v1/session', async (_req, res) => {
    const session = res.locals.session
    const principal = res.locals.principal
    if (!session || principal.kind !== 'user') throw unauthorized('not signed in')
    res.set('cache-control', 'no-store')
    // upload_limit: the page refuses a larger file before sending it (a 413 mid-upload reaches few browsers);
    // password_min_length: password forms state the rule before they are submitted
    const limits = { upload_limit: core.config.uploadLimit, password_min_length: core.config.passwordMinLength }
    res.json({
      status: 'ok',
      ...(await describeSessionUser(core, principal.userId)),
      csrf_token: session.csrfToken,
      ...limits,
    })
  })

  router.post('/sign-out', async (_req, res) => {
    if (res.locals.session) await deleteSession(core, res.locals.session.token)
    res.clearCookie(SESSION_COOKIE, { path: '/' })
    res.json({ status: 'ok' })
  })

  return router
}
