// /api/v1/keys (rhizo's main/api/keys.py): list the keys the caller may manage as {id: key}, create a
// controller key (access_as_controller_id, or controller_path) or a user key (access_as_user_id +
// organization_id, or neither for oneself), and revoke with DELETE /api/v1/keys/<id>.
import { Router } from 'express'
import { z } from 'zod'
import {
  createControllerKeyAs,
  createUserKeyAs,
  listKeys,
  revokeKeyAs,
  type ControllerRef,
} from '../../core/accounts/key-admin.ts'
import type { Core } from '../../core/index.ts'
import { invalid } from '../../core/errors.ts'
import { databaseId, requestValues } from '../request-values.ts'

export const id = databaseId
export const keyQuery = z.object({
  access_as_controller_id: id.optional(),
  controller_path: z.string().min(1).max(4000).optional(),
})
export const createKeyBody = keyQuery.extend({ access_as_user_id: id.optional(), organization_id: id.optional() })

function controllerRef(input: {
  access_as_controller_id?: number
  controller_path?: string
}): ControllerRef | undefined {
  if (input.access_as_controller_id !== undefined) return { id: input.access_as_controller_id }
  if (input.controller_path !== undefined) return { path: input.controller_path }
  return undefined
}

export function keyRoutes(core: Core): Router {
  const router = Router()

  router.get('/api/v1/keys', async (req, res) => {
    const query = keyQuery.safeParse(requestValues(req))
    if (!query.success) throw invalid('access_as_controller_id must be a resource id')
    const keys = await listKeys(core.db, res.locals.principal, { controller: controllerRef(query.data) })
    res.json(Object.fromEntries(keys.map((k) => [k.id, k])))
  })

  router.post('/api/v1/keys', async (req, res) => {
    const body = createKeyBody.safeParse(requestValues(req))
    if (!body.success)
      throw invalid('expected access_as_controller_id or controller_path, or access_as_user_id and organization_id')
    const controller = controllerRef(body.data)
    const created = controller
      ? await createControllerKeyAs(core, res.locals.principal, controller)
      : await createUserKeyAs(core, res.locals.principal, {
          userId: body.data.access_as_user_id,
          organizationId: body.data.organization_id,
        })
    res.json({ status: 'ok', id: created.id, secret_key: created.key })
  })

  router.delete('/api/v1/keys/:id', async (req, res) => {
    const keyId = id.safeParse(req.params.id)
    if (!keyId.success) throw invalid('a key id is a number')
    const key = await revokeKeyAs(core, res.locals.principal, keyId.data)
    res.json({ status: 'ok', key })
  })

  return router
}
