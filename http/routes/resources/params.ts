// Reading the resources API's values (merged by http/request-values.ts): text, ids, timestamps,
// base64 uploads, and which fields of a PUT change the resource itself.
import { compactBase64 } from '../../../core/base64.ts'
import { invalid, tooLarge } from '../../../core/errors.ts'
import { SEQUENCE_SETTINGS } from '../../../core/resources/attributes.ts'
import { parseTimestamp } from '../../../core/messages/timestamps.ts'
import type { Values } from '../../request-values.ts'

export type { Values }

export const MAX_ID = 2 ** 31 - 1

/** Fields of a PUT that change the resource itself (see updateOf in resources.ts); a sequence value alone changes none. */
const CHANGE_FIELDS = ['name', 'parent', 'user_attributes', 'system_attributes', 'full_name', 'permissions', 'status', ...SEQUENCE_SETTINGS] as const

/** True when a PUT to a sequence only sends it a value (also the value lane's test, http/value-lane.ts). */
export const isValueOnly = (values: Values) => CHANGE_FIELDS.every((k) => values[k] === undefined)

export function text(value: unknown, name: string): string | undefined {
  if (value === undefined || value === null) return undefined
  if (typeof value === 'string') return value
  if (typeof value === 'number') return String(value)
  throw invalid(`${name} must be text`)
}

export function wholeNumber(value: unknown, name: string): number | undefined {
  if (value === undefined || value === null || value === '') return undefined
  const n = Number(value)
  // ids are 32-bit in the database; a larger number is no id at all (and PostgreSQL would refuse it)
  if (!Number.isSafeInteger(n) || n < 0 || n > MAX_ID) throw invalid(`${name} must be a whole number up to ${MAX_ID}`)
  return n
}

export function timestamp(values: Values, ...names: string[]): Date | undefined {
  for (const name of names) if (values[name] !== undefined && values[name] !== '') return parseTimestamp(values[name])
  return undefined
}

/** Strict base64 (standard or URL-safe alphabet, white space ignored), refused past maxBytes decoded. */
export function base64Bytes(value: unknown, name: string, maxBytes: number): Buffer {
  if (typeof value !== 'string') throw invalid(`${name} must be base64 text`)
  const compact = compactBase64(value)
  if (compact === null) throw invalid(`${name} is not valid base64`)
  if (Math.floor((compact.length * 3) / 4) - 2 > maxBytes) throw tooLarge(`the upload is larger than the limit of ${maxBytes} bytes`)
  const bytes = Buffer.from(compact, 'base64')
  if (bytes.length > maxBytes) throw tooLarge(`the upload is larger than the limit of ${maxBytes} bytes`)
  return bytes
}

/** The body limit for JSON and form requests: a base64 upload of uploadLimit bytes plus room for the other fields. */
export const encodedBodyLimit = (uploadLimit: number) => Math.ceil(uploadLimit / 3) * 4 + 64 * 1024
