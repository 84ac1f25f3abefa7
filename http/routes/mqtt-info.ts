// GET /api/v1/mqtt-info: what a browser needs to open MQTT over this server's /mqtt WebSocket. Without
// credentials, a token for an anonymous viewer: it subscribes only where public read is granted, never publishes.
import { randomBytes } from 'node:crypto'
import { Router, type Request } from 'express'
import { issueAnonymousToken, issueToken, TOKEN_TTL_MS } from '../../core/accounts/tokens.ts'
import { invalid, unauthorized } from '../../core/errors.ts'
import type { Core } from '../../core/index.ts'
import { requireUser } from '../auth.ts'
import { readCredentials } from '../credentials.ts'

/**
 * The host and port the browser reached: the Host header, or X-Forwarded-Host from a trusted proxy
 * (req.host, the same source as req.hostname). Parsed as a URL authority, so an IPv6 literal
 * ("[::1]:8080") keeps its brackets and its port, and a missing port is the scheme's default.
 */
function publicAddress(req: Request): { host: string; port: number } {
  const scheme = req.secure ? 'https' : 'http'
  let url: URL | undefined
  try {
    url = new URL(`${scheme}://${req.host ?? ''}`)
  } catch {
    // not a host name or address
  }
  if (!url || !url.hostname || url.username || url.password || url.pathname !== '/' || url.search || url.hash)
    throw invalid('the Host header is not a host name with an optional port')
  return { host: url.hostname, port: url.port ? Number(url.port) : req.secure ? 443 : 80 }
}

export function mqttInfoRoutes(core: Core): Router {
  const router = Router()
  router.get('/api/v1/mqtt-info', (req, res) => {
    const where = { ...publicAddress(req), path: '/mqtt', protocol: req.secure ? 'wss' : 'ws' }
    const expires_in = Math.floor(TOKEN_TTL_MS / 1000)
    if (res.locals.principal.kind === 'anonymous') {
      // a cookie of a session that ended is a lapsed sign-in, as before; a viewer sends no credentials
      if (readCredentials(req.headers).sessionToken) throw unauthorized('the session has ended: sign in again')
      const clientId = `kiosk-${randomBytes(9).toString('hex')}`
      // req.ip: the client's address (from a trusted proxy's header with --trust-proxy), for the per-address session
      // limit
      const token = issueAnonymousToken(core, clientId, req.ip ?? req.socket.remoteAddress ?? 'unknown')
      return void res.json({ status: 'ok', ...where, token, expires_in, clientId, anonymous: true })
    }
    const user = requireUser(res)
    res.json({
      status: 'ok',
      ...where,
      // a key's token keeps its scope
      token: issueToken(core, user.userId, { sessionId: user.sessionId, keyId: user.keyId }),
      expires_in,
      clientId: `web-${user.userId}-${randomBytes(6).toString('hex')}`,
    })
  })
  return router
}
