// Access to paths that may not exist yet: an MQTT topic or a REST path is governed by its nearest
// existing resource, so sub-topics below a folder inherit the folder's access (shared/DESIGN.md, MQTT).
import { Prisma, type DbClient, type Resource } from '../db/index.ts'
import { splitPath } from './paths.ts'
import { effectiveLevel, type ChainLink, type Principal } from './permissions.ts'
import { liveKey } from './tree.ts'
import { AccessLevel, type AccessLevelNumber } from './types.ts'

/** The deepest live resource along names and how many names it covers (null when not even the organization exists). */
/** Looks a live resource up by its liveKey ("parentId/name"); the broker passes a cached one. */
export type FindLive = (liveKey: string) => Promise<Resource | null>

export async function findNearest(db: DbClient, names: string[], find?: FindLive): Promise<{ resource: Resource; depth: number } | null> {
  const found = await walk(db, names, find)
  return found.length === 0 ? null : { resource: found[found.length - 1]!, depth: found.length }
}

/** The live resources along names from the organization down, as far as they exist. */
async function walk(db: DbClient, names: string[], find: FindLive = (key) => db.resource.findUnique({ where: { liveKey: key } })): Promise<Resource[]> {
  const found: Resource[] = []
  for (const name of names) {
    const next: Resource | null = await find(liveKey(found[found.length - 1]?.id ?? null, name))
    if (!next) break
    found.push(next)
  }
  return found
}

/** The chain loadChain would read for the last of `along`, built from rows already loaded (saves a query per level). */
function chainOf(along: Resource[]): ChainLink[] {
  const chain: ChainLink[] = []
  for (let i = along.length - 1; i >= 0; i--) {
    chain.push(along[i]!)
    if (Array.isArray(along[i]!.permissions)) break
  }
  return chain
}

/** A system admin acting without an organization scope may reach paths that do not exist yet anywhere. */
const unscopedAdmin = (p: Principal) => p.kind === 'user' && p.systemAdmin && p.scopeOrganizationId === undefined

export async function accessToPath(db: DbClient, principal: Principal, path: string, find?: FindLive): Promise<AccessLevelNumber> {
  const along = await walk(db, splitPath(path), find)
  if (along.length === 0) return unscopedAdmin(principal) ? AccessLevel.write : AccessLevel.none
  return effectiveLevel(principal, chainOf(along))
}

/**
 * Whether principal may read everything at and below path: the path itself and every live resource
 * beneath it that carries its own permission list (only those can change the inherited answer).
 */
export async function canReadSubtree(db: DbClient, principal: Principal, path: string, find?: FindLive): Promise<boolean> {
  const names = splitPath(path)
  const along = await walk(db, names, find)
  const nearest = along[along.length - 1]
  if (!nearest) return unscopedAdmin(principal)
  if (effectiveLevel(principal, chainOf(along)) < AccessLevel.read) return false
  // below a path that does not fully exist yet there is nothing with a list of its own
  if (along.length < names.length || nearest.organizationId === null) return true
  const withLists = await db.resource.findMany({
    where: { organizationId: nearest.organizationId, deleted: false, permissions: { not: Prisma.DbNull } },
    select: { id: true },
  })
  for (const { id } of withLists) {
    if (id === nearest.id) continue
    const chain = await loadChainWithIds(db, id)
    if (!chain.some((link) => link.id === nearest.id)) continue // not below path
    if (effectiveLevel(principal, chain) < AccessLevel.read) return false
  }
  return true
}

async function loadChainWithIds(db: DbClient, resourceId: number) {
  const chain: { id: number; organizationId: number | null; permissions: unknown }[] = []
  let id: number | null = resourceId
  while (id !== null) {
    const link: { id: number; parentId: number | null; organizationId: number | null; permissions: unknown } | null = await db.resource.findUnique({
      where: { id },
      select: { id: true, parentId: true, organizationId: true, permissions: true },
    })
    if (!link) break
    chain.push(link)
    id = link.parentId
  }
  return chain
}
