// Reading the resources API's values (merged by http/request-values.ts): text, ids, timestamps,
// base64 uploads, and which fields of a PUT change the resource itself.
import { compactBase64 } from '../../../core/base64.ts'
import { invalid, tooLarge } from '../../../core/errors.ts'
import { SEQUENCE_SETTINGS } from '../../../core/resources/attributes.ts'
import { parseTimestamp } from '../../../core/messages/timestamps.ts'
import { z } from 'zod'
import type { Values } from '../../request-values.ts'

export type { Values }

export const MAX_ID = 2 ** 31 - 1

/**
 * Fields of a PUT that change the resource itself (see updateOf in resources.ts); a sequence value alone changes none.
 */
export const CHANGE_FIELDS = [
  'name',
  'parent',
  'user_attributes',
  'system_attributes',
  'full_name',
  'permissions',
  'status',
  ...SEQUENCE_SETTINGS,
] as const

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
  if (Math.floor((compact.length * 3) / 4) - 2 > maxBytes)
    throw tooLarge(`the upload is larger than the limit of ${maxBytes} bytes`)
  const bytes = Buffer.from(compact, 'base64')
  if (bytes.length > maxBytes) throw tooLarge(`the upload is larger than the limit of ${maxBytes} bytes`)
  return bytes
}

/** The body limit for JSON and form requests: a base64 upload of uploadLimit bytes plus room for the other fields. */
export const encodedBodyLimit = (uploadLimit: number) => Math.ceil(uploadLimit / 3) * 4 + 64 * 1024

// ---- the fields of the resources API, as zod schemas for its OpenAPI document (http/openapi.ts) ----
// The routes read them with the helpers above (text, wholeNumber, timestamp, base64Bytes, flag), so a
// field added there is added here too; http/openapi.ts documents these.
const word = z.union([z.string(), z.number(), z.boolean()])
const textOrNumber = z.union([z.string(), z.number()])
const idText = z.union([z.string().regex(/^\d+$/), z.number().int().min(0).max(MAX_ID)])
const jsonObjectField = z.union([z.string().describe('a JSON object'), z.record(z.string(), z.unknown())])
const sequenceSettings = {
  data_type: z
    .union([z.literal(1), z.literal(2), z.literal(3), z.string()])
    .optional()
    .describe('1 numeric, 2 text, 3 image'),
  decimal_places: textOrNumber.optional(),
  units: z.string().optional(),
  max_history: textOrNumber.optional(),
  min_storage_interval: textOrNumber.optional(),
}

/** GET /api/v1/resources/<path> on a folder or file (a sequence's own options: sequences.ts readQuery). */
export const resourceQuery = z.object({
  meta: word.optional().describe('1: the resource as JSON'),
  download: word.optional().describe('1: as an attachment (CSV for a sequence, a zip with ids for a folder)'),
  ids: z.string().optional().describe('comma-separated resource ids for a folder zip'),
  recursive: word.optional(),
  type: textOrNumber.optional(),
  filter: textOrNumber.optional().describe('names matching, with *'),
  extended: word.optional().describe('on whenever given, even 0 (as rhizo read it)'),
  revisions: word.optional(),
  rev: idText.optional(),
  thumbnail: word.optional(),
})

/** POST /api/v1/resources: create a resource (multipart: the same fields and a part named file). */
export const createResourceBody = z.object({
  path: textOrNumber.optional().describe('the parent folder'),
  parent: textOrNumber.optional().describe('rhizo’s other name for path'),
  name: textOrNumber.optional().describe('required unless a file part names it'),
  type: textOrNumber
    .optional()
    .describe('10 folder, 12 controller folder, 13 remote folder, 20 file, 21 sequence, 22 app'),
  system_attributes: jsonObjectField.optional(),
  user_attributes: jsonObjectField.optional(),
  data: z.string().optional().describe('base64 content'),
  contents: z.string().optional().describe('base64 content'),
  creation_timestamp: textOrNumber.optional(),
  creationTimestamp: textOrNumber.optional().describe('rhizo’s other name for creation_timestamp'),
  ...sequenceSettings,
})

/** POST /api/v1/resources/<path>: rhizo's legacy write (a new file revision, or a sequence value). */
export const writeResourceBody = z.object({
  data: z.string().optional().describe('base64'),
  contents: z.string().optional(),
  value: textOrNumber.optional(),
  timestamp: textOrNumber.optional(),
  modification_timestamp: textOrNumber
    .optional()
    .describe('the new revision’s time (creation_timestamp too, on the legacy POST)'),
  modificationTimestamp: textOrNumber.optional().describe('rhizo’s other name for modification_timestamp'),
  creation_timestamp: textOrNumber.optional(),
  creationTimestamp: textOrNumber.optional(),
})

/** PUT /api/v1/resources/<path>: change the resource, give a file new content, or a sequence a value. */
export const updateResourceBody = writeResourceBody.extend({
  name: textOrNumber.optional(),
  parent: textOrNumber.optional().describe('move under this folder path'),
  user_attributes: jsonObjectField.optional(),
  system_attributes: jsonObjectField.optional(),
  full_name: textOrNumber.optional(),
  permissions: z
    .union([z.string(), z.array(z.unknown()), z.null()])
    .optional()
    .describe('[[type, principal, level], …], or null to inherit'),
  status: jsonObjectField.optional().describe('a controller’s status, merged'),
  if_revision: idText.optional().describe('409 when the file’s latest revision is no longer this'),
  ...sequenceSettings,
})

/** DELETE /api/v1/resources/<path> */
export const deleteResourceQuery = z.object({ data_only: word.optional().describe('1: delete only its revisions') })
