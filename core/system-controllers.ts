// Every controller of the installation with its presence, for system admins (rhizo's admin
// controllers page): path, organization and ControllerStatus, in three queries whatever the count.
import type { CoreContext } from './context.ts'
import { requireSystemAdmin } from './accounts/roles.ts'
import type { Principal } from './resources/permissions.ts'
import { statusFields } from './resources/resource-json.ts'
import { pathsOf } from './resources/tree.ts'
import { ResourceType } from './resources/types.ts'

export async function listAllControllers(ctx: CoreContext, principal: Principal) {
  requireSystemAdmin(principal)
  const controllers = await ctx.db.resource.findMany({
    where: { type: ResourceType.controllerFolder, deleted: false, organization: { deleted: false } },
    select: { id: true, name: true, organizationId: true, controllerStatus: true },
    orderBy: { id: 'asc' },
  })
  const paths = await pathsOf(
    ctx.db,
    controllers.map((c) => c.id),
  )
  return controllers.map((c) => {
    // reported status stays on the controller's page: it can be large
    const { status: _reported, ...presence } = statusFields(c.controllerStatus)
    return { id: c.id, name: c.name, path: paths.get(c.id) ?? '', organization_id: c.organizationId, ...presence }
  })
}
