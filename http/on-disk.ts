// A write is acknowledged only once it is on disk (core/db/sqlite-connection.ts): the response to a
// request that may have changed something ends after the WAL flush that covers every commit made so
// far. Nothing waits when nothing was committed since the last flush, or for PostgreSQL.
import type { RequestHandler } from 'express'
import { committedToDisk } from '../core/db/sqlite-connection.ts'
import type { Core } from '../core/index.ts'
import { pathOfRequest } from './errors.ts'

const READ_ONLY = new Set(['GET', 'HEAD', 'OPTIONS'])

export function answerOnceOnDisk(core: Core): RequestHandler {
  return (req, res, next) => {
    if (READ_ONLY.has(req.method)) return next()
    const end = res.end.bind(res) as (...args: unknown[]) => typeof res
    res.end = ((...args: unknown[]) => {
      committedToDisk(core.db).then(
        () => end(...args),
        (err: Error) => {
          // what was committed may not be on disk: no answer rather than a false "stored"
          core.log.error({ err, method: req.method, path: pathOfRequest(req) }, 'flushing a write to disk failed')
          res.destroy(err)
        },
      )
      return res
    }) as typeof res.end
    next()
  }
}
