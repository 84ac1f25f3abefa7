// The range a sequence page shows, read from and written to the address (shareable, Back works):
// ?range=1h|6h|24h|7d|30d|all follows "now"; ?start=…&end=… (custom dates or a zoom) is fixed.
export const PRESETS = [
  ['1h', '1 h', 3600_000],
  ['6h', '6 h', 6 * 3600_000],
  ['24h', '24 h', 24 * 3600_000],
  ['7d', '7 d', 7 * 86400_000],
  ['30d', '30 d', 30 * 86400_000],
  ['all', 'All', null],
] as const

export type Preset = (typeof PRESETS)[number][0]

export type Range =
  | { kind: 'live'; preset: Preset; span: number | null }
  | { kind: 'fixed'; start: number; end: number; zoom: number }
  | { kind: 'bad'; message: string }

/** The earliest and latest instants the server takes (ISO 8601 years 1970-9999). */
export const MIN_TIME = Date.UTC(1970, 0, 1)
export const MAX_TIME = Date.UTC(9999, 11, 31, 23, 59, 59)

export function readRange(query: URLSearchParams): Range {
  const start = query.get('start')
  const end = query.get('end')
  if (start !== null || end !== null) {
    const s = Date.parse(start ?? '')
    const e = Date.parse(end ?? '')
    if (Number.isNaN(s) || Number.isNaN(e))
      return { kind: 'bad', message: 'The range in the address is not a pair of valid dates.' }
    const bad = checkRange(s, e)
    if (bad) return { kind: 'bad', message: bad }
    return { kind: 'fixed', start: s, end: e, zoom: Number(query.get('zoom') ?? 0) || 0 }
  }
  const preset = PRESETS.find((p) => p[0] === query.get('range')) ?? PRESETS[2]
  return { kind: 'live', preset: preset[0], span: preset[2] }
}

/** Why a custom range cannot be shown, or '' when it can. */
export function checkRange(start: number, end: number): string {
  if (start < MIN_TIME || end > MAX_TIME || start > MAX_TIME || end < MIN_TIME)
    return 'Dates must lie between 1970 and 9999.'
  if (end <= start) return 'The end of the range is before (or at) its start: choose an end after the start.'
  return ''
}

/** The query for a fixed range (custom or zoomed), keeping the page's other settings (tz). */
export function fixedQuery(query: URLSearchParams, start: number, end: number, zoom: number): string {
  const next = new URLSearchParams(query)
  // (range stays: the preset the Live button goes back to)
  next.set('start', new Date(Math.round(start)).toISOString())
  next.set('end', new Date(Math.round(end)).toISOString())
  if (zoom > 0) next.set('zoom', String(zoom))
  else next.delete('zoom')
  return next.toString()
}

export function liveQuery(query: URLSearchParams, preset: Preset): string {
  const next = new URLSearchParams(query)
  for (const key of ['start', 'end', 'zoom']) next.delete(key)
  next.set('range', preset)
  return next.toString()
}

/** A time as the viewer reads it: their own zone, or UTC when they chose so. */
export function formatTime(ms: number, utc: boolean): string {
  if (utc)
    return new Date(ms)
      .toISOString()
      .replace('T', ' ')
      .replace(/\.\d+Z$/, ' UTC')
      .replace('Z', ' UTC')
  return new Date(ms).toLocaleString(undefined, {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  })
}

/** "2024-05-01T12:00" for a datetime-local input, in the viewer's zone or UTC. */
export function inputValue(ms: number, utc: boolean): string {
  const d = new Date(utc ? ms : ms - new Date(ms).getTimezoneOffset() * 60_000)
  return d.toISOString().slice(0, 16)
}

/** The instant a datetime-local input names (NaN when empty or invalid). */
export function fromInput(value: string, utc: boolean): number {
  if (!/^\d{4,}-\d\d-\d\dT\d\d:\d\d/.test(value)) return NaN
  return utc ? Date.parse(value + 'Z') : new Date(value).getTime()
}
