// Finding the sequence at a path for a principal about to read or write it: the one rule that the
// REST routers (and anything else addressing a sequence by path) share. It is lookup.ts's cached
// resource lookup (the core's shared path resolver, emptied by renames, moves, deletes and permission
// changes) narrowed to sequences; storing re-checks that the sequence is still live. A path the
// principal cannot read is "not found" whether or not it exists, so nothing leaks about other
// organizations.
import type { CoreContext } from '../context.ts'
import type { Resource } from '../db/index.ts'
import { forbidden, notFound, TendrilError } from '../errors.ts'
import { resourceForCached, type Found } from './lookup.ts'
import { joinPath, splitPath } from './paths.ts'
import { canWrite, type Principal } from './permissions.ts'
import { ResourceType } from './types.ts'

export interface SequenceAtPath {
  sequence: Resource
  /** "/org/folder/name" */
  path: string
}

/** The live sequence at path; not_found when absent, unreadable or not a sequence, forbidden when read-only and need is write. */
export async function sequenceAt(ctx: CoreContext, principal: Principal, path: string, need: 'read' | 'write'): Promise<SequenceAtPath> {
  const shown = joinPath(splitPath(path))
  let found: Found
  try {
    found = await resourceForCached(ctx, principal, shown, 'read')
  } catch (err) {
    if (err instanceof TendrilError && err.code === 'not_found') throw notFound(`sequence not found: ${shown}`)
    throw err
  }
  if (found.resource.type !== ResourceType.sequence) throw notFound(`sequence not found: ${shown}`)
  if (need === 'write' && !canWrite(found.level)) throw forbidden(`permission error: ${shown}`)
  return { sequence: found.resource, path: shown }
}
