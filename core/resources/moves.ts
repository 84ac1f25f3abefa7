// Renaming and moving resources (PUT name= / parent=). A move stays inside the organization (its
// resources' organizationId would otherwise lie) and never into the resource's own subtree. Both
// change which permission lists govern a subtree, so live sessions are told to re-check.
import { isUniqueViolation, type DbClient, type Resource } from '../db/index.ts'
import { conflict, invalid } from '../errors.ts'
import { bumpAccessVersion } from './access-version.ts'
import { checkName } from './paths.ts'
import { liveKey } from './tree.ts'
import { isFolderType, ResourceType } from './types.ts'

export interface Relocation {
  name?: string
  /** the new parent, already checked for write access */
  parent?: Resource
}

export async function relocate(tx: DbClient, resource: Resource, change: Relocation): Promise<Resource> {
  const name = change.name === undefined ? resource.name : checkName(change.name)
  const parent = change.parent
  if (parent) await checkNewParent(tx, resource, parent)
  const parentId = parent ? parent.id : resource.parentId
  if (name === resource.name && parentId === resource.parentId) return resource
  if (resource.type === ResourceType.organizationFolder)
    throw invalid('organizations are renamed through /api/v1/organizations')
  try {
    const moved = await tx.resource.update({
      where: { id: resource.id },
      data: { name, parentId, liveKey: liveKey(parentId, name), modifiedAt: new Date() },
    })
    await bumpAccessVersion(tx)
    return moved
  } catch (err) {
    if (isUniqueViolation(err)) throw conflict(`a resource named ${JSON.stringify(name)} already exists there`)
    throw err
  }
}

async function checkNewParent(tx: DbClient, resource: Resource, parent: Resource): Promise<void> {
  if (!isFolderType(parent.type)) throw invalid('the new parent must be a folder')
  if (parent.organizationId !== resource.organizationId) throw invalid('a resource cannot move to another organization')
  // walk up from the new parent: meeting the resource means the move would make a cycle
  for (let id: number | null = parent.id; id !== null;) {
    if (id === resource.id) throw invalid('a resource cannot move into itself or its own subtree')
    const link: { parentId: number | null } | null = await tx.resource.findUnique({
      where: { id },
      select: { parentId: true },
    })
    id = link?.parentId ?? null
  }
}
