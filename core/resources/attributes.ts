// What callers may put in a resource's system and user attributes. Sequences' settings are checked
// here, once, for creation and updates alike, so a stored sequence always has rules that make sense.
import { z } from 'zod'
import { invalid } from '../errors.ts'
import { MAX_DECIMAL_PLACES } from './sequence-values.ts'
import { SequenceDataType } from './types.ts'

/** JSON attributes are small: they travel with every meta=1 and extended listing. */
export const MAX_ATTRIBUTES_BYTES = 64 * 1024

const whole = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max)

/** Sequence settings as rhizo named them; numbers may arrive as strings from form posts. */
export const sequenceSettingsSchema = z
  .object({
    data_type: z.coerce
      .number()
      .pipe(
        z.union([
          z.literal(SequenceDataType.numeric),
          z.literal(SequenceDataType.text),
          z.literal(SequenceDataType.image),
        ]),
      ),
    decimal_places: whole(0, MAX_DECIMAL_PLACES),
    units: z.string().max(100),
    max_history: whole(1),
    min_storage_interval: z.coerce
      .number()
      .min(0)
      .max(10 * 365 * 86400),
  })
  .partial()

export const SEQUENCE_SETTINGS = [
  'data_type',
  'decimal_places',
  'units',
  'max_history',
  'min_storage_interval',
] as const

/** A JSON object given as an object (JSON bodies) or as JSON text (form fields, as rhizo's client sends). */
export function jsonObject(value: unknown, name: string): Record<string, unknown> {
  let parsed = value
  if (typeof value === 'string') {
    if (value.length > MAX_ATTRIBUTES_BYTES)
      throw invalid(`${name} must be at most ${MAX_ATTRIBUTES_BYTES} bytes of JSON`)
    try {
      parsed = JSON.parse(value)
    } catch {
      throw invalid(`${name} must be a JSON object`)
    }
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw invalid(`${name} must be a JSON object`)
  if (JSON.stringify(parsed).length > MAX_ATTRIBUTES_BYTES)
    throw invalid(`${name} must be at most ${MAX_ATTRIBUTES_BYTES} bytes of JSON`)
  return parsed as Record<string, unknown>
}

/** A JSON column's value as an object: {} when it holds none (null, an array, a scalar). */
export function asObject(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {}
}

/**
 * existing with the patch's keys set; with removeNulls a key given null is removed. Refused (nothing
 * changed) when the result would be larger than maxBytes of JSON.
 */
export function mergeObject(
  existing: unknown,
  patch: Record<string, unknown>,
  options: { what: string; maxBytes: number; removeNulls?: boolean },
): Record<string, unknown> {
  const merged = { ...asObject(existing) }
  for (const [key, value] of Object.entries(patch)) {
    if (value === null && options.removeNulls) delete merged[key]
    else merged[key] = value
  }
  if (JSON.stringify(merged).length > options.maxBytes)
    throw invalid(`${options.what} would be larger than ${options.maxBytes} bytes of JSON`)
  return merged
}

/** Merges given sequence settings into existing ones, checking each; empty strings mean "leave as is" (rhizo). */
export function mergeSequenceSettings(existing: unknown, given: Record<string, unknown>): Record<string, unknown> {
  const picked: Record<string, unknown> = {}
  for (const key of SEQUENCE_SETTINGS) if (given[key] !== undefined && given[key] !== '') picked[key] = given[key]
  const parsed = sequenceSettingsSchema.safeParse(picked)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    throw invalid(`invalid sequence setting ${String(issue.path[0])}: ${issue.message}`)
  }
  const merged = { ...asObject(existing), ...parsed.data }
  if (merged.data_type === undefined) throw invalid('a sequence needs data_type (1 numeric, 2 text, 3 image)')
  return merged
}
