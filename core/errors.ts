// Typed domain errors. Transports map them to HTTP statuses or MQTT refusals in one place each.
export type ErrorCode =
  | 'invalid'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'too_large'
  | 'rate_limited'
  | 'unavailable'
  | 'disk_full'

const statusByCode: Record<ErrorCode, number> = {
  invalid: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  too_large: 413,
  rate_limited: 429,
  unavailable: 503,
  disk_full: 507, // Insufficient Storage (RFC 4918): a retry may succeed once space returns
}

export class TendrilError extends Error {
  readonly code: ErrorCode
  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'TendrilError'
    this.code = code
  }
  get status(): number {
    return statusByCode[this.code]
  }
}

export const invalid = (message: string) => new TendrilError('invalid', message)
export const unauthorized = (message = 'authentication required') => new TendrilError('unauthorized', message)
export const forbidden = (message = 'permission denied') => new TendrilError('forbidden', message)
export const notFound = (message = 'not found') => new TendrilError('not_found', message)
export const conflict = (message: string) => new TendrilError('conflict', message)
export const tooLarge = (message: string) => new TendrilError('too_large', message)
export const rateLimited = (message = 'too many requests') => new TendrilError('rate_limited', message)
/** A service the request needs (the database) does not answer: try again shortly. */
export const unavailable = (message: string) => new TendrilError('unavailable', message)
export const diskFull = (message = 'the disk is full: nothing was stored; try again later') =>
  new TendrilError('disk_full', message)
