// Sequences over REST: reading a sequence's latest value or history, writing values, and the
// multi-sequence PUT /api/v1/resources. The resources router (resources.ts) finds the resource,
// checks access and calls these for sequences, so sequence rules stay in one place.
// (Placeholder signatures agreed between the resources and sequences work; filled in next.)
import { Router, type Request, type Response } from 'express'
import type { Resource } from '../../core/db/index.ts'
import type { Core } from '../../core/index.ts'
import type { MessageBus } from '../../core/messages/send.ts'

export interface SequenceTarget {
  /** the live sequence resource */
  sequence: Resource
  /** its path, "/org/folder/name" */
  path: string
}

/** GET /api/v1/resources/<path> on a sequence (read access already checked; meta=1 is answered by the resources router). */
export async function getSequence(_core: Core, _req: Request, _res: Response, _target: SequenceTarget): Promise<void> {
  throw new Error('not implemented yet')
}

/** A new value from PUT or POST /api/v1/resources/<path> on a sequence (write access already checked). */
export async function writeSequence(_core: Core, _bus: MessageBus, _req: Request, _res: Response, _target: SequenceTarget): Promise<void> {
  throw new Error('not implemented yet')
}

/** PUT /api/v1/resources with `values` ({path: value}) and `timestamp`: several sequences at once. */
export function sequenceValueRoutes(_core: Core, _bus: MessageBus): Router {
  return Router()
}
