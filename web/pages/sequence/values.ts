// Pure helpers of the numeric view: live messages parsed, numbers formatted as the sequence asks,
// the chart's one-line summary (for screen readers) and the CSV query of what is shown.
import type { Described } from '../../api.ts'
import type { Series, Stats } from './data.ts'
import { formatTime, type Range } from './range.ts'

/** the live values of a folder topic's message: lines of "d,<name>,<timestamp>,<value>" */
export function parseValueLines(payload: string): { name: string; at: number; value: string }[] {
  if (!payload.startsWith('d,')) return []
  return payload
    .split('\n')
    .map(parseValueMessage)
    .filter((m) => m !== null)
}

function parseValueMessage(payload: string): { name: string; at: number; value: string } | null {
  if (!payload.startsWith('d,')) return null
  const a = payload.indexOf(',', 2)
  const b = payload.indexOf(',', a + 1)
  if (a < 0 || b < 0) return null
  const at = Date.parse(payload.slice(a + 1, b))
  return Number.isNaN(at) ? null : { name: payload.slice(2, a), at, value: payload.slice(b + 1) }
}

/** the sequence's units and a formatter that keeps its decimal places (or up to six) */
export function numberStyle(meta: Described): { units: string; format: (n: number) => string } {
  const settings = meta.system_attributes ?? {}
  const units = typeof settings.units === 'string' ? settings.units : ''
  const places = typeof settings.decimal_places === 'number' ? settings.decimal_places : null
  const format = (n: number) => (places !== null ? n.toFixed(places) : String(Math.round(n * 1e6) / 1e6))
  return { units, format }
}

/** download=1 with the shown range's bounds; a live range ends now, "All" has no start */
export function csvQuery(range: Range, s: Series | null): string {
  if (!s) return 'download=1'
  const start =
    range.kind === 'live' && range.span === null ? '' : `&start_timestamp=${new Date(s.start).toISOString()}`
  return `download=1${start}&end_timestamp=${new Date(range.kind === 'live' ? Date.now() : s.end).toISOString()}`
}

export function summaryText(
  name: string,
  s: Series,
  stats: Stats,
  format: (n: number) => string,
  units: string,
  utc: boolean,
): string {
  const span = `${formatTime(s.start, utc)} to ${formatTime(s.end, utc)}`
  if (stats.count === 0) return `${name}, ${span}: no values.`
  const peak = stats.maxAt !== null ? ` at ${formatTime(stats.maxAt, utc)}` : ''
  return `${name}, ${span}: ${stats.count.toLocaleString()} values, from ${format(stats.min!)} to ${format(stats.max!)} ${units} (highest${peak}), mean ${format(stats.mean!)} ${units}.`
}
