// /api/v1/organizations[/<org>[/users[/<user id>]]] (rhizo's main/api/organizations.py). <org> is the
// organization's id, as in rhizo's URLs, or its folder name. Lists are rhizo's {id: record} objects.
import { Router, type Request } from 'express'
import { z } from 'zod'
import {
  addMemberAs,
  controllerCounts,
  createOrganizationAs,
  listMembers,
  listOrganizations,
  organizationFor,
  describeOrganization,
  removeMemberAs,
  setMemberAdminAs,
  updateOrganizationAs,
  type OrganizationRef,
} from '../../core/accounts/memberships.ts'
import type { Core } from '../../core/index.ts'
import { invalid, notFound } from '../../core/errors.ts'
import { databaseId, requestValues, strictFlag } from '../request-values.ts'

export const id = databaseId
const fullName = z.string().trim().min(1).max(200)
export const createBody = z.object({
  folder_name: z.string().min(1).max(100).optional(),
  name: z.string().min(1).max(100).optional(),
  full_name: fullName.optional(),
})
export const updateBody = z.object({ full_name: fullName.optional() })
export const addBody = z.object({
  email_address: z.string().min(1).max(320).optional(),
  user_id: id.optional(),
  is_admin: strictFlag.default(false),
})
export const memberBody = z.object({ is_admin: strictFlag })

const bodyOf = (req: Request) => requestValues(req)
/** An id (digits) or a folder name; an id past 32 bits names nothing (the database would refuse it in a query). */
function orgRef(raw: unknown): OrganizationRef {
  if (typeof raw !== 'string' || !/^\d+$/.test(raw)) return String(raw)
  const parsed = id.safeParse(raw)
  if (!parsed.success) throw notFound('organization not found')
  return parsed.data
}
function userIdParam(raw: unknown): number {
  const parsed = id.safeParse(raw)
  if (!parsed.success) throw invalid('a user id is a number')
  return parsed.data
}

export function organizationRoutes(core: Core): Router {
  const router = Router()

  router.get('/api/v1/organizations', async (req, res) => {
    const orgs = await listOrganizations(core.db, res.locals.principal)
    // extended=1 (the web UI's home page): each organization's controllers online and offline
    if (strictFlag.safeParse(req.query.extended ?? 0).data) {
      const counts = await controllerCounts(
        core.db,
        orgs.map((o) => o.id),
      )
      return void res.json(Object.fromEntries(orgs.map((o) => [o.id, { ...o, controllers: counts.get(o.id) }])))
    }
    res.json(Object.fromEntries(orgs.map((o) => [o.id, o])))
  })

  router.post('/api/v1/organizations', async (req, res) => {
    const body = createBody.safeParse(bodyOf(req))
    const name = body.success ? (body.data.folder_name ?? body.data.name) : undefined
    if (!body.success || !name) throw invalid('expected folder_name (or name) and optionally full_name')
    const org = await createOrganizationAs(core, res.locals.principal, name, body.data.full_name)
    res.json({ status: 'ok', organization_id: org.id, organization: org })
  })

  router.get('/api/v1/organizations/:org', async (req, res) => {
    res.json(describeOrganization(await organizationFor(core.db, res.locals.principal, orgRef(req.params.org))))
  })

  router.put('/api/v1/organizations/:org', async (req, res) => {
    const body = updateBody.safeParse(bodyOf(req))
    if (!body.success) throw invalid('full_name must be 1 to 200 characters')
    const org = await updateOrganizationAs(core, res.locals.principal, orgRef(req.params.org), {
      fullName: body.data.full_name,
    })
    res.json({ status: 'ok', organization: org })
  })

  router.get('/api/v1/organizations/:org/users', async (req, res) => {
    const members = await listMembers(core, res.locals.principal, orgRef(req.params.org))
    res.json(Object.fromEntries(members.map((m) => [m.id, m])))
  })

  router.post('/api/v1/organizations/:org/users', async (req, res) => {
    const body = addBody.safeParse(bodyOf(req))
    if (!body.success || (body.data.email_address === undefined) === (body.data.user_id === undefined)) {
      throw invalid('expected email_address or user_id, and optionally is_admin (0 or 1)')
    }
    const member = await addMemberAs(
      core,
      res.locals.principal,
      orgRef(req.params.org),
      { email: body.data.email_address, userId: body.data.user_id },
      body.data.is_admin,
    )
    res.json({ status: 'ok', organization_user: member })
  })

  router.put('/api/v1/organizations/:org/users/:user', async (req, res) => {
    const userId = userIdParam(req.params.user)
    const body = memberBody.safeParse(bodyOf(req))
    if (!body.success) throw invalid('expected is_admin (0 or 1)')
    const member = await setMemberAdminAs(
      core,
      res.locals.principal,
      orgRef(req.params.org),
      userId,
      body.data.is_admin,
    )
    res.json({ status: 'ok', organization_user: member })
  })

  router.delete('/api/v1/organizations/:org/users/:user', async (req, res) => {
    await removeMemberAs(core, res.locals.principal, orgRef(req.params.org), userIdParam(req.params.user))
    res.json({ status: 'ok' })
  })

  return router
}
