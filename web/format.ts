// How times, sizes and values read on the page.
import { signal } from '@preact/signals'

/** The clock that "3 min ago" texts follow; ticks often enough for minutes, rarely enough to cost nothing. */
export const now = signal(Date.now())
setInterval(() => (now.value = Date.now()), 10_000)

export function timeAgo(iso: string | null | undefined, at = now.value): string {
  if (!iso) return 'never'
  const seconds = Math.max(0, Math.round((at - Date.parse(iso)) / 1000))
  if (seconds < 10) return 'just now'
  if (seconds < 60) return `${seconds} s ago`
  const minutes = Math.round(seconds / 60)
  if (minutes < 60) return `${minutes} min ago`
  const hours = Math.round(minutes / 60)
  if (hours < 48) return `${hours} h ago`
  return `${Math.round(hours / 24)} days ago`
}

export const localTime = (iso: string) => new Date(iso).toLocaleString()

export function bytes(n: number | undefined): string {
  if (n === undefined) return ''
  if (n < 1024) return `${n} B`
  const units = ['KB', 'MB', 'GB', 'TB']
  let value = n / 1024
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`
}

/** A sequence value as a tile shows it: numbers with the sequence's decimal places. */
export function formatValue(value: string | null | undefined, settings: Record<string, unknown>): string {
  if (value === null || value === undefined) return '—'
  const places = settings.decimal_places
  const number = Number(value)
  if (settings.data_type === 1 && value.trim() !== '' && Number.isFinite(number) && typeof places === 'number')
    return number.toFixed(places)
  return value
}
