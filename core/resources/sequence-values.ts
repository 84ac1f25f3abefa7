// What a sequence value is, by the sequence's settings (its system attributes: data_type,
// decimal_places, units, max_history, min_storage_interval — docs/architecture.md, data model).
// Pure functions: the one place where a value is parsed, rounded and turned into revision bytes.
import { decodeBase64 } from '../base64.ts'
import { invalid } from '../errors.ts'
import { SequenceDataType } from './types.ts'

export type SequenceDataTypeNumber = (typeof SequenceDataType)[keyof typeof SequenceDataType]

export interface SequenceRules {
  dataType: SequenceDataTypeNumber
  /** numeric values are rounded to this many places (and written without padding: 60.5 stays "60.5") */
  decimalPlaces?: number
  units?: string
  /** keep only the newest N revisions */
  maxHistory?: number
  /** a value closer than this to a stored value of the sequence is skipped; 0 = store everything */
  minStorageIntervalMs: number
}

/** toFixed's range; more places than a double holds are meaningless anyway. */
export const MAX_DECIMAL_PLACES = 20

/**
 * Reads the settings leniently, as rhizo stored them: numbers, or numeric strings from form posts.
 * An unusable setting is ignored rather than blocking ingestion; data_type alone must make sense.
 * Note: rhizo-server defaulted a missing min_storage_interval to 50 s for numeric and image
 * sequences (resource_util.update_sequence_value); Tendril stores everything unless it is set.
 */
export function sequenceRules(systemAttributes: unknown): SequenceRules {
  const attrs = (systemAttributes && typeof systemAttributes === 'object' ? systemAttributes : {}) as Record<
    string,
    unknown
  >
  const dataType = wholeNumber(attrs.data_type)
  if (
    dataType !== SequenceDataType.numeric &&
    dataType !== SequenceDataType.text &&
    dataType !== SequenceDataType.image
  ) {
    throw invalid(
      `the sequence has no valid data_type (1 numeric, 2 text, 3 image): ${JSON.stringify(attrs.data_type ?? null)}`,
    )
  }
  const rules: SequenceRules = { dataType, minStorageIntervalMs: 0 }
  const places = wholeNumber(attrs.decimal_places)
  if (places !== undefined && places >= 0 && places <= MAX_DECIMAL_PLACES) rules.decimalPlaces = places
  if (typeof attrs.units === 'string' && attrs.units !== '') rules.units = attrs.units
  const maxHistory = wholeNumber(attrs.max_history)
  if (maxHistory !== undefined && maxHistory >= 1) rules.maxHistory = maxHistory
  const interval = Number(attrs.min_storage_interval)
  if (
    attrs.min_storage_interval !== null &&
    attrs.min_storage_interval !== '' &&
    Number.isFinite(interval) &&
    interval > 0
  ) {
    rules.minStorageIntervalMs = Math.round(interval * 1000)
  }
  return rules
}

function wholeNumber(value: unknown): number | undefined {
  if (value === null || value === undefined || value === '') return undefined
  const n = Number(value)
  return Number.isSafeInteger(n) ? n : undefined
}

/** A value ready to be kept: its bytes, its text (for announcements and history) and, if numeric, its number. */
export interface EncodedValue {
  bytes: Buffer
  /** the value as text; null for image sequences (rhizo announced images without their bytes) */
  text: string | null
  numericValue: number | null
}

export function encodeSequenceValue(rules: SequenceRules, value: string | Buffer): EncodedValue {
  switch (rules.dataType) {
    case SequenceDataType.numeric: {
      const sent = asText(value)
      const number = roundTo(parseNumericValue(sent), rules.decimalPlaces)
      const text = formatNumber(number, sent)
      return { bytes: Buffer.from(text, 'utf8'), text, numericValue: number }
    }
    case SequenceDataType.text: {
      const text = asText(value)
      return { bytes: Buffer.from(text, 'utf8'), text, numericValue: null }
    }
    case SequenceDataType.image: {
      if (!Buffer.isBuffer(value)) throw invalid('an image value must be bytes (decode base64 before storing)')
      if (value.length === 0) throw invalid('an image value must not be empty')
      // a copy, so a caller reusing its buffer cannot change what is stored
      return { bytes: Buffer.from(value), text: null, numericValue: null }
    }
  }
}

/**
 * An image value given as text is base64 of the image bytes, whichever door it came through (REST's
 * `value`, update_sequence, a CSV line), as rhizo-server's socket_receiver.py b64decoded it.
 */
export function imageValueBytes(value: string | Buffer): Buffer {
  if (Buffer.isBuffer(value)) return value
  const bytes = decodeBase64(value)
  if (!bytes || bytes.length === 0) throw invalid('an image value must be base64 of the image bytes')
  return bytes
}
const utf8 = new TextDecoder('utf-8', { fatal: true })

function asText(value: string | Buffer): string {
  if (typeof value === 'string') return value
  if (!Buffer.isBuffer(value)) throw invalid('a sequence value must be text or bytes')
  try {
    return utf8.decode(value)
  } catch {
    throw invalid('a text or numeric value must be valid UTF-8')
  }
}

// decimal or exponent notation, nothing else: no hex, no "Infinity", no trailing junk
const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/

/** Strict: a finite decimal number, surrounding white space allowed (as Python's float() did for rhizo). */
export function parseNumericValue(text: string): number {
  const trimmed = text.trim()
  const shown = JSON.stringify(text.length > 40 ? text.slice(0, 40) + '…' : text)
  if (!NUMBER.test(trimmed))
    throw invalid(`${shown} is not a number; a numeric sequence takes values such as 12.5, -3 or 1e3`)
  const number = Number(trimmed)
  if (!Number.isFinite(number)) throw invalid(`${shown} is out of range for a numeric sequence`)
  return number
}

/** Rounds half away from zero in decimal (1.005 → 1.01, which binary toFixed gets wrong). */
export function roundTo(value: number, places: number | undefined): number {
  if (places === undefined) return value
  const shifted = Math.round(Number(shiftDecimal(Math.abs(value), places)))
  const rounded = Number(shiftDecimal(shifted, -places))
  return value < 0 && rounded !== 0 ? -rounded : rounded
}

/** The decimal text of value × 10^places, by moving the exponent instead of multiplying. */
function shiftDecimal(value: number, places: number): string {
  const [mantissa, exponent = '0'] = String(value).split('e')
  return `${mantissa}e${Number(exponent) + places}`
}

/**
 * The shortest text of a stored number, never padded to decimal_places; or the sender's own text when
 * it only adds trailing zeros to that (Python's str(60.0) is "60.0"). rhizo's client reads a value
 * back and writes it again until the text matches what it sent (rhizo-client sequences.update).
 */
export function formatNumber(value: number, sent?: string): string {
  const shortest = String(Object.is(value, -0) ? 0 : value)
  const given = sent?.trim()
  if (given && /^-?\d+\.\d+$/.test(given) && given.replace(/\.?0*$/, '') === shortest) return given
  return shortest
}
