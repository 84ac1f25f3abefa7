// GET /api/v1/mqtt-info: what a signed-in browser needs to open MQTT over this server's /mqtt WebSocket.
import { randomBytes } from 'node:crypto'
import { Router } from 'express'
import { issueToken, TOKEN_TTL_MS } from '../../core/accounts/tokens.ts'
import type { Core } from '../../core/index.ts'
import { requireUser } from '../auth.ts'

export function mqttInfoRoutes(core: Core): Router {
  const router = Router()
  router.get('/api/v1/mqtt-info', (req, res) => {
    const user = requireUser(res)
    const secure = req.secure
    res.json({
      status: 'ok',
      host: req.hostname,
      port: Number(req.get('host')?.split(':')[1] ?? (secure ? 443 : 80)),
      path: '/mqtt',
      protocol: secure ? 'wss' : 'ws',
      token: issueToken(core, user.userId, { sessionId: user.sessionId }),
      expires_in: Math.floor(TOKEN_TTL_MS / 1000),
      clientId: `web-${user.userId}-${randomBytes(6).toString('hex')}`,
    })
  })
  return router
}
