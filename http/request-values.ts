// The one place a route reads its request's parameters. rhizo-server read Flask's request.values
// (query string and form body together) for every method, and rhizo's Python client sends its
// parameters as an application/x-www-form-urlencoded body on every request, GET included
// (rhizo/resources.py send_request). So a GET's form body counts like its query string; a field
// given in both is taken from the body. JSON bodies merge the same way.
import type { Request, RequestHandler } from 'express'
import { invalid } from '../core/errors.ts'
import { hasNul } from '../core/text.ts'
import { z } from 'zod'

export type Values = Record<string, unknown>

export function requestValues(req: Request): Values {
  const merged: Values = {}
  // a repeated query field counts once, by its first value (as Flask's request.values.get)
  for (const [key, value] of Object.entries(req.query)) merged[key] = Array.isArray(value) ? value[0] : value
  const body = req.body as unknown
  if (body && typeof body === 'object' && !Array.isArray(body) && !Buffer.isBuffer(body)) Object.assign(merged, body)
  return merged
}

/**
 * An id of a database row (a key, a user, a resource): ids are 32-bit in the database, and PostgreSQL refuses a larger
 * number in a query.
 */
export const databaseId = z.coerce
  .number()
  .int()
  .positive()
  .max(2 ** 31 - 1)

const OFF = ['', '0', 'false', 'no', 'off']
const ON = ['1', 'true', 'yes', 'on']
const word = (value: unknown) => String(value).trim().toLowerCase()

/**
 * A yes/no option (recursive, meta, download…): absent, "", "0", "false", "no", "off" are off; any other value is on,
 * as rhizo read them.
 */
export function flag(value: unknown): boolean {
  if (value === undefined || value === null || value === false) return false
  return !OFF.includes(word(value))
}

/**
 * `extended` as rhizo-server read it: on whenever given (Flask's request.values.get('extended', False)),
 * "0" included, since rhizo's client sends extended=0 on every listing and reads the extended fields.
 */
export function presenceFlag(value: unknown): boolean {
  return value !== undefined && value !== null && value !== false && value !== ''
}

/**
 * A yes/no field that grants something (is_admin, system_admin): only the known words and booleans, so a typo grants
 * nothing.
 */
export const strictFlag = z.unknown().transform((value, ctx) => {
  if (typeof value === 'boolean') return value
  if ((typeof value === 'string' || typeof value === 'number') && value !== '') {
    if (ON.includes(word(value))) return true
    if (OFF.includes(word(value))) return false
  }
  ctx.addIssue({ code: 'custom', message: 'expected 1 or 0 (true or false)' })
  return z.NEVER
})

/**
 * A sequence value's own text (value, contents; values of PUT /api/v1/resources): stored as bytes, so it may hold any
 * character.
 */
const VALUE_FIELDS = new Set(['value', 'contents', 'values'])

/**
 * No field of a query string or a parsed body may hold a NUL character (core/text.ts), on either
 * database alike (on PostgreSQL it failed mid-query: a 500); a sequence value may.
 */
export const refuseNul: RequestHandler = (req, _res, next) => {
  if (hasNul(req.query) || hasNul(req.body, VALUE_FIELDS))
    throw invalid('text must not contain a NUL character (\\u0000)')
  next()
}
