// Finding a resource by path on behalf of a caller. A path the caller cannot read answers exactly
// like a path that does not exist (404), so nothing leaks about other organizations; a path the
// caller can read but not change is a 403.
import type { CoreContext } from '../context.ts'
import type { DbClient, Resource } from '../db/index.ts'
import { forbidden, notFound } from '../errors.ts'
import { accessToPath } from './access.ts'
import { joinPath, splitPath } from './paths.ts'
import { canRead, canWrite, effectiveLevel, loadChain, type Principal } from './permissions.ts'
import { currentPathResolver } from './resolver.ts'
import { findPath } from './tree.ts'
import type { AccessLevelNumber } from './types.ts'

export interface Found {
  resource: Resource
  /** "/org/folder/name" */
  path: string
  level: AccessLevelNumber
}

export const notFoundAt = (path: string) => notFound(`resource not found: ${path}`)

/** The live resource at path if principal may read it (and write it, when need is 'write'). */
export async function resourceFor(
  db: DbClient,
  principal: Principal,
  path: string,
  need: 'read' | 'write',
): Promise<Found> {
  const names = splitPath(path)
  const shown = joinPath(names)
  const chain = await findPath(db, shown)
  if (!chain) throw notFoundAt(shown)
  const resource = chain.at(-1)!
  return checked(db, principal, resource, shown, need)
}

/** The live resource with this id (e.g. a controller's own folder), with the same checks. */
export async function resourceById(
  db: DbClient,
  principal: Principal,
  id: number,
  path: string,
  need: 'read' | 'write',
): Promise<Found> {
  const resource = await db.resource.findUnique({ where: { id } })
  if (!resource || resource.deleted) throw notFoundAt(path)
  return checked(db, principal, resource, path, need)
}

async function checked(
  db: DbClient,
  principal: Principal,
  resource: Resource,
  path: string,
  need: 'read' | 'write',
): Promise<Found> {
  const level = effectiveLevel(principal, await loadChain(db, resource.id))
  if (!canRead(level)) throw notFoundAt(path)
  if (need === 'write' && !canWrite(level)) throw forbidden(`permission denied: ${path}`)
  return { resource, path, level }
}

/**
 * Access to a place that may not exist yet (a parent folder to be created on the way): governed by
 * its nearest existing resource, as MQTT topics are.
 */
export async function requireWriteAt(db: DbClient, principal: Principal, path: string): Promise<void> {
  const level = await accessToPath(db, principal, path)
  if (!canRead(level)) throw notFoundAt(joinPath(splitPath(path)))
  if (!canWrite(level)) throw forbidden(`permission denied: ${joinPath(splitPath(path))}`)
}

/**
 * resourceFor through the core's shared path resolver (resolver.ts): a path asked again and again (a
 * controller writing values) costs no query. The row handed back may be up to the resolver's TTL old in
 * what renames, moves, deletes and permission changes do not touch (attributes, lastRevisionId):
 * callers that show or change the resource take freshFound's answer instead. A path the resolver does
 * not know is looked up the uncached way, so a resource created a moment ago is found at once.
 */
export async function resourceForCached(
  ctx: CoreContext,
  principal: Principal,
  path: string,
  need: 'read' | 'write',
): Promise<Found> {
  const shown = joinPath(splitPath(path))
  const resolver = await currentPathResolver(ctx)
  const resource = await resolver.resolve(shown)
  if (!resource) return resourceFor(ctx.db, principal, shown, need)
  const level = await accessToPath(ctx.db, principal, shown, resolver.findLive)
  if (!canRead(level)) throw notFoundAt(shown)
  if (need === 'write' && !canWrite(level)) throw forbidden(`permission denied: ${shown}`)
  return { resource, path: shown, level }
}

/** found with its row read again (one query); if it moved or went meanwhile, the uncached lookup decides. */
export async function freshFound(
  ctx: CoreContext,
  principal: Principal,
  found: Found,
  need: 'read' | 'write',
): Promise<Found> {
  const row = await ctx.db.resource.findUnique({ where: { id: found.resource.id } })
  if (row && !row.deleted && row.liveKey === found.resource.liveKey) return { ...found, resource: row }
  return resourceFor(ctx.db, principal, found.path, need)
}
