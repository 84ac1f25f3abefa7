// Where a resource's access comes from, for those who may change it (the web UI's Access tab): its
// own permission list, or the nearest ancestor's, which decides for it (permissions.ts effectiveLevel).
import type { DbClient } from '../db/index.ts'
import { permissionListSchema, type PermissionEntry } from './permissions.ts'
import { pathOf } from './tree.ts'

export interface PermissionSource {
  /** the resource whose list decides (the resource itself when it has one); null when none has a list */
  path: string | null
  /** that list; a malformed one is shown as empty, since it grants nothing */
  permissions: PermissionEntry[]
}

export async function permissionSource(db: DbClient, resourceId: number): Promise<PermissionSource> {
  let id: number | null = resourceId
  while (id !== null) {
    const link: { id: number; parentId: number | null; permissions: unknown } | null = await db.resource.findUnique({
      where: { id },
      select: { id: true, parentId: true, permissions: true },
    })
    if (!link) break
    if (Array.isArray(link.permissions)) {
      const parsed = permissionListSchema.safeParse(link.permissions)
      return { path: await pathOf(db, link.id), permissions: parsed.success ? parsed.data : [] }
    }
    id = link.parentId
  }
  return { path: null, permissions: [] }
}
