// The one place where errors become HTTP responses. Bodies keep rhizo's keys ("status", "message")
// and add a machine-readable {error: {code, message}}.
import type { IncomingMessage } from 'node:http'
import type { ErrorRequestHandler, RequestHandler } from 'express'
import { isDiskFull, reportDiskFull } from '../core/disk-full.ts'
import { reportUnreachable } from '../core/db/availability.ts'
import { diskFull, TendrilError, unavailable } from '../core/errors.ts'
import type { Logger } from '../core/log.ts'

export function errorBody(code: string, message: string) {
  return { status: 'error', message, error: { code, message } }
}

export const notFoundHandler: RequestHandler = (_req, res) => {
  res.status(404).json(errorBody('not_found', 'no such endpoint'))
}

export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err, req, res, next) => {
    // a body refused midway is answered at once (http/auth.ts); its reader fails after the answer
    if (res.writableEnded)
      return void log.debug({ err: (err as Error)?.message, url: req.originalUrl }, 'request failed after its answer')
    if (res.headersSent) return next(err)
    const { status, body } = errorResponse(err, log, req)
    // refused while its body is still arriving (a bad key, a body too large): the connection closes
    // after the answer, rather than the server reading and discarding the rest to keep it open
    if (hasBody(req) && !req.complete) res.set('connection', 'close')
    res.status(status).json(body)
  }
}

const hasBody = (req: IncomingMessage) =>
  Number(req.headers['content-length']) > 0 || req.headers['transfer-encoding'] !== undefined

/** The status and body an error is answered with; an unexpected one is logged (no request body, no credentials). */
export function errorResponse(err: unknown, log: Logger, req: IncomingMessage & { originalUrl?: string }) {
  if (isDiskFull(err)) {
    reportDiskFull(log, err, 'rest', { method: req.method, path: pathOfRequest(req) })
    err = diskFull()
  }
  if (reportUnreachable(log, err, 'rest', { method: req.method, path: pathOfRequest(req) }))
    err = unavailable('the database does not answer; try again shortly')
  if (err instanceof TendrilError) return { status: err.status, body: errorBody(err.code, err.message) }
  // body-parser and similar middleware mark client errors with a 4xx status
  const marked = (err as { status?: unknown } | null)?.status
  const status = typeof marked === 'number' ? marked : 500
  if (status >= 400 && status < 500) {
    return status === 413
      ? { status, body: errorBody('too_large', 'request body too large') }
      : { status, body: errorBody('invalid', 'malformed request body') }
  }
  log.error({ err, method: req.method, path: pathOfRequest(req) }, 'request failed')
  return { status: 500, body: errorBody('internal', 'internal server error') }
}

/** The request's path for a log line: never its query string, which may carry a secret (a PIN's pin_code). */
export function pathOfRequest(req: IncomingMessage & { originalUrl?: string }): string {
  return (req.originalUrl ?? req.url ?? '').split('?')[0]!
}
