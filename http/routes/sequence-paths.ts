// TEMPORARY — replaced by resources.ts at merge. A stand-in for the resources router so the sequence
// functions can be used and tested over real HTTP: it answers /api/v1/resources/<path> only when the
// path names a live sequence the caller may read (GET) or write (PUT, POST), and otherwise passes the
// request on (next()). The lookup and permission rule is the core's (sequenceFor), shared with resources.ts.
import { Router, type NextFunction, type Request, type Response } from 'express'
import { TendrilError } from '../../core/errors.ts'
import type { Core } from '../../core/index.ts'
import type { MessageBus } from '../../core/messages/send.ts'
import { findSequenceFor, sequenceLookupFor } from '../../core/resources/sequence-access.ts'
import { getSequence, writeSequence } from './sequences.ts'

const PREFIX = '/api/v1/resources/'

function pathOf(req: Request): string | null {
  if (!req.path.startsWith(PREFIX)) return null
  try {
    return '/' + req.path.slice(PREFIX.length).split('/').map(decodeURIComponent).join('/')
  } catch {
    return null // a malformed escape: not ours to answer
  }
}

export function sequencePathRoutes(core: Core, bus: MessageBus): Router {
  const router = Router()
  const handle = (need: 'read' | 'write') => async (req: Request, res: Response, next: NextFunction) => {
    const path = pathOf(req)
    // not a sequence, not readable, or not even a valid path: the next router answers; read-only → 403
    const target = path === null ? null : await findSequenceFor(core, res.locals.principal, path, need, sequenceLookupFor(core)).catch((err: unknown) => {
      if (err instanceof TendrilError && err.code === 'invalid') return null
      throw err
    })
    if (!target) return next()
    if (need === 'read') return getSequence(core, req, res, target)
    return writeSequence(core, bus, req, res, target)
  }
  router.get(`${PREFIX}*path`, handle('read'))
  router.put(`${PREFIX}*path`, handle('write'))
  router.post(`${PREFIX}*path`, handle('write'))
  return router
}
