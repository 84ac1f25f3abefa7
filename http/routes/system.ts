// GET /api/v1/system/stats: installation-wide counts, and GET /api/v1/system/controllers: every
// controller with its presence ({id: controller}); for system admins only (others 403, no credentials 401).
import { Router } from 'express'
import type { Core } from '../../core/index.ts'
import { listAllControllers } from '../../core/system-controllers.ts'
import { systemStats } from '../../core/system-stats.ts'

export function systemRoutes(core: Core): Router {
  const router = Router()
  router.get('/api/v1/system/stats', async (_req, res) => {
    res.json(await systemStats(core, res.locals.principal))
  })
  router.get('/api/v1/system/controllers', async (_req, res) => {
    const controllers = await listAllControllers(core, res.locals.principal)
    res.json(Object.fromEntries(controllers.map((c) => [c.id, c])))
  })
  return router
}
