// Finding the sequence at a path for a principal about to read or write it: the one rule that the
// REST routers (and anything else addressing a sequence by path) share. A path the principal cannot
// read is "not found" whether or not it exists, so nothing leaks about other organizations.
import type { CoreContext } from '../context.ts'
import type { Resource } from '../db/index.ts'
import { forbidden, notFound } from '../errors.ts'
import { findNearest } from './access.ts'
import { splitPath } from './paths.ts'
import { canRead, canWrite, resolveAccess, type Principal } from './permissions.ts'
import { ResourceType } from './types.ts'

export interface SequenceAtPath {
  sequence: Resource
  /** "/org/folder/name" */
  path: string
}

/** The live sequence at path; not_found when absent or unreadable, forbidden when read-only and need is write. */
export async function sequenceFor(ctx: CoreContext, principal: Principal, path: string, need: 'read' | 'write'): Promise<SequenceAtPath> {
  const names = splitPath(path)
  const shown = '/' + names.join('/')
  const found = await findNearest(ctx.db, names)
  if (!found || found.depth !== names.length || found.resource.type !== ResourceType.sequence) throw notFound(`sequence not found: ${shown}`)
  const level = await resolveAccess(ctx.db, principal, found.resource.id)
  if (!canRead(level)) throw notFound(`sequence not found: ${shown}`)
  if (need === 'write' && !canWrite(level)) throw forbidden(`permission error: ${shown}`)
  return { sequence: found.resource, path: shown }
}

/** Like sequenceFor, but null (instead of not_found) when the path names no live sequence at all. */
export async function findSequenceFor(ctx: CoreContext, principal: Principal, path: string, need: 'read' | 'write'): Promise<SequenceAtPath | null> {
  try {
    return await sequenceFor(ctx, principal, path, need)
  } catch (err) {
    if (err instanceof Error && 'code' in err && err.code === 'not_found') return null
    throw err
  }
}
