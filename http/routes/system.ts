// GET /api/v1/system/stats: installation-wide counts, for system admins only (others 403, no credentials 401).
import { Router } from 'express'
import type { Core } from '../../core/index.ts'
import { systemStats } from '../../core/system-stats.ts'

export function systemRoutes(core: Core): Router {
  const router = Router()
  router.get('/api/v1/system/stats', async (_req, res) => {
    res.json(await systemStats(core, res.locals.principal))
  })
  return router
}
