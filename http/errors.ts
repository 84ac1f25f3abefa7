// The one place where errors become HTTP responses. Bodies keep rhizo's keys ("status", "message")
// and add a machine-readable {error: {code, message}}.
import type { ErrorRequestHandler, RequestHandler } from 'express'
import { TendrilError } from '../core/errors.ts'
import type { Logger } from '../core/log.ts'

export function errorBody(code: string, message: string) {
  return { status: 'error', message, error: { code, message } }
}

export const notFoundHandler: RequestHandler = (_req, res) => {
  res.status(404).json(errorBody('not_found', 'no such endpoint'))
}

export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (res.headersSent) return next(err)
    if (err instanceof TendrilError) {
      res.status(err.status).json(errorBody(err.code, err.message))
      return
    }
    // body-parser and similar middleware mark client errors with a 4xx status
    const status = typeof err?.status === 'number' ? err.status : 500
    if (status >= 400 && status < 500) {
      const code = status === 413 ? 'too_large' : 'invalid'
      res.status(status).json(errorBody(code, status === 413 ? 'request body too large' : 'malformed request body'))
      return
    }
    log.error({ err, method: req.method, url: req.originalUrl }, 'request failed')
    res.status(500).json(errorBody('internal', 'internal server error'))
  }
}
