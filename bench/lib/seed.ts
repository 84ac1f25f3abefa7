// Controllers for the benchmarks: an organization and `count` controller folders, each with its own
// key, created in batches (one transaction per batch). Full: the way `tendril admin` creates one (with
// its log and status/ sequences). Lean: only the controller folder and its key, about 4× faster to
// make; connecting, authenticating and subscribing to the folder go through the same code either way.
import { createKey } from '../../core/accounts/keys.ts'
import { createOrganization } from '../../core/accounts/organizations.ts'
import type { Core } from '../../core/index.ts'
import { inTransaction } from '../../core/db/index.ts'
import { createControllerFolder, createResource } from '../../core/resources/tree.ts'
import { ResourceType } from '../../core/resources/types.ts'

export interface SeededController {
  id: number
  /** MQTT topic of the controller's folder, e.g. "acme/pi-1" */
  topic: string
  key: string
}

export async function seedControllers(
  core: Core,
  count: number,
  options: { lean?: boolean; org?: string; batch?: number } = {},
): Promise<SeededController[]> {
  const { lean = false, org = 'acme', batch = 250 } = options
  const organization = await inTransaction(core.db, (tx) => createOrganization(tx, org))
  const out: SeededController[] = []
  for (let start = 0; start < count; start += batch) {
    const made = await inTransaction(core.db, async (tx) => {
      const rows: SeededController[] = []
      for (let i = start; i < Math.min(count, start + batch); i++) {
        const name = `pi-${i + 1}`
        const controller = lean
          ? await createResource(tx, {
              parentId: organization.id,
              organizationId: organization.id,
              name,
              type: ResourceType.controllerFolder,
            })
          : (await createControllerFolder(tx, `${org}/${name}`)).controller
        const { key } = await createKey(tx, core.secret, {
          organizationId: controller.organizationId!,
          owner: { controllerId: controller.id },
        })
        rows.push({ id: controller.id, topic: `${org}/${name}`, key })
      }
      return rows
    })
    out.push(...made)
  }
  return out
}
