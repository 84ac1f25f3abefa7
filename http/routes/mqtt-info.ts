// GET /api/v1/mqtt-info: what a signed-in browser needs to open MQTT over this server's /mqtt WebSocket.
import { randomBytes } from 'node:crypto'
import { Router, type Request } from 'express'
import { issueToken, TOKEN_TTL_MS } from '../../core/accounts/tokens.ts'
import { invalid } from '../../core/errors.ts'
import type { Core } from '../../core/index.ts'
import { requireUser } from '../auth.ts'

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
  if (!url || !url.hostname || url.username || url.password || url.pathname !== '/' || url.search || url.hash) throw invalid('the Host header is not a host name with an optional port')
  return { host: url.hostname, port: url.port ? Number(url.port) : req.secure ? 443 : 80 }
}

export function mqttInfoRoutes(core: Core): Router {
  const router = Router()
  router.get('/api/v1/mqtt-info', (req, res) => {
    const user = requireUser(res)
    const { host, port } = publicAddress(req)
    res.json({
      status: 'ok',
      host,
      port,
      path: '/mqtt',
      protocol: req.secure ? 'wss' : 'ws',
      token: issueToken(core, user.userId, { sessionId: user.sessionId, keyId: user.keyId }), // a key's token keeps its scope
      expires_in: Math.floor(TOKEN_TTL_MS / 1000),
      clientId: `web-${user.userId}-${randomBytes(6).toString('hex')}`,
    })
  })
  return router
}
