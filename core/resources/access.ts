// Access to paths that may not exist yet: an MQTT topic or a REST path is governed by its nearest
// existing resource, so sub-topics below a folder inherit the folder's access (docs/mqtt.md).
import { Prisma, type DbClient, type Resource } from '../db/index.ts'
import { splitPath } from './paths.ts'
import { actsAsSystemAdmin, effectiveLevel, type ChainLink, type Principal } from './permissions.ts'
import { liveKey } from './tree.ts'
import { AccessLevel, type AccessLevelNumber } from './types.ts'

/** The deepest live resource along names and how many names it covers (null when not even the organization exists). */
/** Looks a live resource up by its liveKey ("parentId/name"); the broker passes a cached one. */
export type FindLive = (liveKey: string) => Promise<Resource | null>

export async function findNearest(
  db: DbClient,
  names: string[],
  find?: FindLive,
): Promise<{ resource: Resource; depth: number } | null> {
  const found = await walk(db, names, find)
  return found.length === 0 ? null : { resource: found[found.length - 1]!, depth: found.length }
}

/** The live resources along names from the organization down, as far as they exist. */
async function walk(
  db: DbClient,
  names: string[],
  find: FindLive = (key) => db.resource.findUnique({ where: { liveKey: key } }),
): Promise<Resource[]> {
  const found: Resource[] = []
  for (const name of names) {
    const next: Resource | null = await find(liveKey(found[found.length - 1]?.id ?? null, name))
    if (!next) break
    found.push(next)
  }
  return found
}

/** The chain loadChain would read for the last of `along`, built from rows already loaded (saves a query per level). */
function chainOf(along: ChainLink[]): ChainLink[] {
  const chain: ChainLink[] = []
  for (let i = along.length - 1; i >= 0; i--) {
    chain.push(along[i]!)
    if (Array.isArray(along[i]!.permissions)) break
  }
  return chain
}

/** A system admin acting without an organization scope may reach paths that do not exist yet anywhere. */
export const unscopedAdmin = actsAsSystemAdmin

/** The level along the live resources of a path (organization first), as far as they exist. */
function levelAlong(principal: Principal, along: ChainLink[]): AccessLevelNumber {
  if (along.length === 0) return unscopedAdmin(principal) ? AccessLevel.write : AccessLevel.none
  return effectiveLevel(principal, chainOf(along))
}

export async function accessToPath(
  db: DbClient,
  principal: Principal,
  path: string,
  find?: FindLive,
): Promise<AccessLevelNumber> {
  return levelAlong(principal, await walk(db, splitPath(path), find))
}

/** A live resource that carries a permission list of its own, with the names of its path (organization first). */
export interface ListedResource {
  names: string[]
  link: ChainLink
}

/**
 * What decides access at a path and below it, for any principal: read once, then asked for many
 * principals (levelAt, subtreeLevels) without another query.
 */
export interface PathFacts {
  names: string[]
  /** the live resources along names from the organization down, as far as they exist */
  along: ChainLink[]
  /**
   * the live resources strictly below the path with a list of their own (empty unless asked for, or when the path does
   * not fully exist)
   */
  listedBelow: ListedResource[]
}

/** The level at the path of facts: accessToPath's answer. */
export function levelAt(principal: Principal, facts: PathFacts): AccessLevelNumber {
  return levelAlong(principal, facts.along)
}

/**
 * The level at the path of facts and at every resource below it whose list can change the inherited
 * answer. Any topic at or below the path gets the level of the deepest of these that is at or above
 * it (its nearest list), else the path's own.
 */
export function subtreeLevels(
  principal: Principal,
  facts: PathFacts,
): { level: AccessLevelNumber; below: { names: string[]; level: AccessLevelNumber }[] } {
  return {
    level: levelAt(principal, facts),
    below: facts.listedBelow.map((listed) => ({
      names: listed.names,
      level: effectiveLevel(principal, [listed.link]),
    })),
  }
}

/**
 * Whether principal may read everything at and below path: the path itself and every live resource
 * beneath it that carries its own permission list (only those can change the inherited answer).
 */
export async function canReadSubtree(
  db: DbClient,
  principal: Principal,
  path: string,
  find?: FindLive,
): Promise<boolean> {
  const [facts] = await pathFactsOf(db, [{ names: splitPath(path), below: true }], find)
  const { level, below } = subtreeLevels(principal, facts!)
  return level >= AccessLevel.read && below.every((b) => b.level >= AccessLevel.read)
}

/** Loads the live resources of an organization that carry a list of their own; the broker may pass a cached one. */
export type FindListed = (organizationId: number) => Promise<ListedResource[]>

/**
 * The facts of many paths at once (`below`: with the listed resources beneath), in a few queries
 * however many paths: one per level of the deepest path (in chunks), one for the listed resources
 * of all their organizations, and one per level those sit at. With find, paths are walked through it
 * instead (a cache), and with listed, each organization's listed resources come from it.
 */
export async function pathFactsOf(
  db: DbClient,
  requests: { names: string[]; below: boolean }[],
  find?: FindLive,
  listed?: FindListed,
): Promise<PathFacts[]> {
  const alongs = find
    ? await Promise.all(requests.map((r) => walk(db, r.names, find)))
    : await walkMany(
        db,
        requests.map((r) => r.names),
      )
  const organizationOf = (i: number) => {
    const along = alongs[i]!
    const nearest = along[along.length - 1]
    // below a path that does not fully exist yet there is nothing with a list of its own
    return requests[i]!.below && nearest && along.length === requests[i]!.names.length ? nearest.organizationId : null
  }
  const organizations = [...new Set(requests.map((_, i) => organizationOf(i)).filter((id) => id !== null))]
  const byOrganization = listed
    ? new Map(await Promise.all(organizations.map(async (id) => [id, await listed(id)] as const)))
    : await loadListed(db, organizations)
  return requests.map(({ names }, i) => {
    const organizationId = organizationOf(i)
    const candidates = organizationId === null ? [] : (byOrganization.get(organizationId) ?? [])
    const listedBelow = candidates.filter(
      (c) => c.names.length > names.length && names.every((name, n) => c.names[n] === name),
    )
    return { names, along: alongs[i]!, listedBelow: listedBelow.sort((a, b) => b.names.length - a.names.length) }
  })
}

/** Rows per query where a list of ids or keys is sent: well inside SQLite's bound-parameter limit. */
const PER_QUERY = 500

function chunks<T>(items: T[]): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += PER_QUERY) out.push(items.slice(i, i + PER_QUERY))
  return out
}

type Link = ChainLink & { id: number; liveKey: string | null }

/** walk for many paths at once: one query (per chunk of names) per level. */
async function walkMany(db: DbClient, namesList: string[][]): Promise<Link[][]> {
  const found = namesList.map((): Link[] => [])
  const keyAt = (i: number, depth: number) => liveKey(found[i]![depth - 1]?.id ?? null, namesList[i]![depth]!)
  let active = namesList.map((_, i) => i).filter((i) => namesList[i]!.length > 0)
  for (let depth = 0; active.length > 0; depth++) {
    const keys = [...new Set(active.map((i) => keyAt(i, depth)))]
    const rows = new Map<string, Link>()
    for (const chunk of chunks(keys)) {
      const found = await db.resource.findMany({
        where: { liveKey: { in: chunk } },
        select: { id: true, liveKey: true, organizationId: true, permissions: true },
      })
      for (const row of found) rows.set(row.liveKey!, row)
    }
    for (const i of active) {
      const row = rows.get(keyAt(i, depth))
      if (row) found[i]!.push(row)
    }
    active = active.filter((i) => found[i]!.length === depth + 1 && namesList[i]!.length > depth + 1)
  }
  return found
}

/** The live resources with a list of their own in each organization, with their paths. */
export async function loadListed(db: DbClient, organizationIds: number[]): Promise<Map<number, ListedResource[]>> {
  const result = new Map<number, ListedResource[]>(organizationIds.map((id) => [id, []]))
  const rows: {
    id: number
    parentId: number | null
    name: string
    organizationId: number | null
    permissions: unknown
  }[] = []
  for (const chunk of chunks(organizationIds)) {
    rows.push(
      ...(await db.resource.findMany({
        where: { organizationId: { in: chunk }, deleted: false, permissions: { not: Prisma.DbNull } },
        select: { id: true, parentId: true, name: true, organizationId: true, permissions: true },
      })),
    )
  }
  // their ancestors, a level at a time, for their paths
  const names = new Map<number, { parentId: number | null; name: string }>(rows.map((r) => [r.id, r]))
  let missing = [...new Set(rows.map((r) => r.parentId).filter((id) => id !== null && !names.has(id)))] as number[]
  while (missing.length > 0) {
    const parents: { id: number; parentId: number | null; name: string }[] = []
    for (const chunk of chunks(missing))
      parents.push(
        ...(await db.resource.findMany({
          where: { id: { in: chunk } },
          select: { id: true, parentId: true, name: true },
        })),
      )
    for (const parent of parents) names.set(parent.id, parent)
    missing = [...new Set(parents.map((p) => p.parentId).filter((id) => id !== null && !names.has(id)))] as number[]
  }
  for (const row of rows) {
    if (row.organizationId === null || !Array.isArray(row.permissions)) continue
    const path: string[] = []
    for (
      let at: { parentId: number | null; name: string } | undefined = row;
      at;
      at = at.parentId === null ? undefined : names.get(at.parentId)
    )
      path.unshift(at.name)
    result.get(row.organizationId)?.push({ names: path, link: row })
  }
  return result
}
