// Timestamps on the wire. Tendril writes ISO 8601 UTC with a trailing "Z" (docs/architecture.md) and reads
// every form rhizo produced:
//   rhizo-client rhizo/sequences.py      datetime.utcnow().isoformat() + ' Z'  → "2024-05-01T12:00:00.123456 Z"
//                                         (no fraction when microsecond == 0: "2024-05-01T12:00:00 Z")
//   rhizo-server main/resources/resource_util.py  isoformat() + 'Z'            → "2024-05-01T12:00:00.123456Z"
//   rhizo-server main/util.py parse_json_datetime accepted exactly "…SS[.ffffff]Z" and "…SS[.ffffff] Z".
// Beyond rhizo we accept what other clients commonly send: JavaScript's toISOString() (milliseconds),
// nanosecond fractions, numeric UTC offsets (converted), no zone at all (read as UTC, as rhizo's naive
// datetimes were) and a JSON number of Unix seconds (the form rhizo's REST API returned history in).
// Anything else — dates without a time, numeric strings, week dates, junk — is refused.
import { invalid } from '../errors.ts'

/** Earliest and latest instant accepted, in milliseconds since the Unix epoch (1970-01-01 .. 9999-12-31 UTC). */
export const TIMESTAMP_RANGE = { min: 0, max: Date.UTC(9999, 11, 31, 23, 59, 59, 999) } as const

// date, "T" or " ", time with seconds, optional fraction, then "Z", " Z" (rhizo-client), "±hh:mm", "±hhmm" or nothing
const ISO_8601 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?(?: ?([Zz])|([+-])(\d{2}):?(\d{2}))?$/

const EXPECTED =
  'expected ISO 8601 UTC such as "2024-05-01T12:00:00Z" (rhizo\'s "2024-05-01T12:00:00.123456 Z" also works)'

export function parseTimestamp(value: unknown): Date {
  if (value instanceof Date) return checkRange(value.getTime(), 'a Date')
  if (typeof value === 'number') return parseUnixSeconds(value)
  if (typeof value !== 'string') throw invalid(`a timestamp must be a string, not ${describeType(value)}; ${EXPECTED}`)
  return parseIsoString(value)
}

export function formatTimestamp(d: Date): string {
  if (!(d instanceof Date) || Number.isNaN(d.getTime())) throw invalid('cannot format an invalid date')
  if (d.getTime() < TIMESTAMP_RANGE.min || d.getTime() > TIMESTAMP_RANGE.max) {
    throw invalid('cannot format a date outside 1970-01-01..9999-12-31 UTC')
  }
  return d.toISOString()
}

function parseUnixSeconds(seconds: number): Date {
  if (!Number.isFinite(seconds)) throw invalid('a numeric timestamp must be a finite number of Unix seconds')
  return checkRange(Math.round(seconds * 1000), `Unix time ${seconds}`)
}

function parseIsoString(text: string): Date {
  const m = ISO_8601.exec(text)
  if (!m) throw invalid(`invalid timestamp ${quote(text)}: ${EXPECTED}`)
  const year = Number(m[1])
  const month = Number(m[2])
  const day = Number(m[3])
  const hour = Number(m[4])
  const minute = Number(m[5])
  const second = Number(m[6])
  // the fields must name a real date and time of day (Date.UTC would roll 02-30 over into March)
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || minute > 59 || second > 59) {
    throw invalid(`invalid timestamp ${quote(text)}: no such date or time of day`)
  }
  // Date has millisecond precision: rhizo's microseconds (and any nanoseconds) are truncated.
  const fraction = m[7]
  const millis = fraction === undefined ? 0 : Number((fraction + '00').slice(0, 3))
  // (Date.UTC reads years 0-99 as 1900-1999: those are out of range, as is every year before 1970 in UTC)
  const ms = year < 100 ? NaN : Date.UTC(year, month - 1, day, hour, minute, second, millis) - offsetMillis(m, text)
  if (!(ms >= TIMESTAMP_RANGE.min && ms <= TIMESTAMP_RANGE.max)) checkRange(ms, quote(text))
  return new Date(ms)
}

/** Days in a month of the proleptic Gregorian calendar. */
function daysIn(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31
}

function offsetMillis(m: RegExpExecArray, text: string): number {
  const sign = m[9]
  if (sign === undefined) return 0 // "Z", " Z" or no zone: UTC
  const hours = Number(m[10])
  const minutes = Number(m[11])
  if (hours > 23 || minutes > 59) throw invalid(`invalid timestamp ${quote(text)}: bad UTC offset`)
  return (sign === '-' ? -1 : 1) * (hours * 60 + minutes) * 60_000
}

function checkRange(ms: number, what: string): Date {
  if (Number.isNaN(ms) || ms < TIMESTAMP_RANGE.min || ms > TIMESTAMP_RANGE.max) {
    throw invalid(`timestamp out of range (${what}): must be between 1970-01-01 and 9999-12-31 UTC`)
  }
  return new Date(ms)
}

function quote(text: string): string {
  return JSON.stringify(text.length > 60 ? text.slice(0, 60) + '…' : text)
}

function describeType(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`
}
