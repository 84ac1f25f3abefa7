// Finding the sequence at a path for a principal about to read or write it: the one rule that the
// REST routers (and anything else addressing a sequence by path) share. A path the principal cannot
// read is "not found" whether or not it exists, so nothing leaks about other organizations.
import type { CoreContext } from '../context.ts'
import type { Resource } from '../db/index.ts'
import { forbidden, notFound, TendrilError } from '../errors.ts'
import { accessToPath, findNearest } from './access.ts'
import { currentPathResolver } from './resolver.ts'
import { splitPath } from './paths.ts'
import { canRead, canWrite, resolveAccess, type Principal } from './permissions.ts'
import { ResourceType } from './types.ts'

export interface SequenceAtPath {
  sequence: Resource
  /** "/org/folder/name" */
  path: string
}

interface Resolved {
  /** null when no live sequence is at the path */
  found: SequenceAtPath | null
  level: number
  /** the path as names joined, "/org/folder/name" */
  shown: string
}

async function resolveSequence(ctx: CoreContext, principal: Principal, path: string): Promise<Resolved> {
  const names = splitPath(path)
  const shown = '/' + names.join('/')
  const nearest = await findNearest(ctx.db, names)
  if (!nearest || nearest.depth !== names.length || nearest.resource.type !== ResourceType.sequence) return { found: null, level: 0, shown }
  return { found: { sequence: nearest.resource, path: shown }, level: await resolveAccess(ctx.db, principal, nearest.resource.id), shown }
}

function decide({ found, level, shown }: Resolved, need: 'read' | 'write'): SequenceAtPath {
  if (!found || !canRead(level)) throw notFound(`sequence not found: ${shown}`)
  if (need === 'write' && !canWrite(level)) throw forbidden(`permission error: ${shown}`)
  return found
}

/** The live sequence at path; not_found when absent or unreadable, forbidden when read-only and need is write. */
export async function sequenceFor(ctx: CoreContext, principal: Principal, path: string, need: 'read' | 'write'): Promise<SequenceAtPath> {
  return decide(await resolveSequence(ctx, principal, path), need)
}

/** Like sequenceFor, but null (instead of not_found) when the path names no live sequence the principal may read. */
export async function findSequenceFor(ctx: CoreContext, principal: Principal, path: string, need: 'read' | 'write', lookup?: SequenceLookup): Promise<SequenceAtPath | null> {
  try {
    return await (lookup ? lookup.find(principal, path, need) : sequenceFor(ctx, principal, path, need))
  } catch (err) {
    if (err instanceof TendrilError && err.code === 'not_found') return null
    throw err
  }
}

/**
 * sequenceFor through the core's shared path resolver (resolver.ts, also the broker's): a controller
 * writing a value every few milliseconds would otherwise walk the path and its permission chain (a
 * query per level) on every request. Renames, moves, deletes and permission changes empty the
 * resolver (at once on this instance, within a second from others), and storing re-checks that the
 * sequence is still live, so a deleted sequence is never written. A path the resolver does not know is
 * looked up the uncached way, so a sequence created a moment ago is found at once.
 */
export interface SequenceLookup {
  find(principal: Principal, path: string, need: 'read' | 'write'): Promise<SequenceAtPath>
}

export function createSequenceLookup(ctx: CoreContext): SequenceLookup {
  return {
    async find(principal, path, need) {
      const shown = '/' + splitPath(path).join('/')
      const resolver = await currentPathResolver(ctx)
      const resource = await resolver.resolve(shown)
      if (!resource) return sequenceFor(ctx, principal, path, need)
      const found = resource.type === ResourceType.sequence ? { sequence: resource, path: shown } : null
      return decide({ found, level: found ? await accessToPath(ctx.db, principal, shown, resolver.findLive) : 0, shown }, need)
    },
  }
}

const lookups = new WeakMap<CoreContext, SequenceLookup>()

/** The shared lookup of an open core. */
export function sequenceLookupFor(ctx: CoreContext): SequenceLookup {
  let lookup = lookups.get(ctx)
  if (!lookup) lookups.set(ctx, (lookup = createSequenceLookup(ctx)))
  return lookup
}
