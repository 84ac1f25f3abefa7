// The numeric view's data: the latest value, the range's series (fetched again when the range
// changes) and, while the range ends at now, live values appended and the window sliding.
import { useSignal, type Signal } from '@preact/signals'
import type { RefObject } from 'preact'
import { useEffect, useRef } from 'preact/hooks'
import { ApiError, resourceUrl } from '../../api.ts'
import { follow } from '../../live.ts'
import { appendValue, loadSeries, type Series } from './data.ts'
import type { Range } from './range.ts'
import { parseValueLines } from './values.ts'

export type Latest = { at: number; value: string } | null | undefined

function history(path: string, q: string) {
  return fetch(resourceUrl(path, q), { credentials: 'same-origin', headers: { accept: 'application/json' } }).then(
    (r) => (r.ok ? r.json() : Promise.reject(new Error(r.statusText))),
  )
}

/** the latest value, once (undefined while loading, null when there is none); live values update it */
export function useLatest(path: string): Signal<Latest> {
  const latest = useSignal<Latest>(undefined)
  useEffect(() => {
    // (count=1 alone answers the bare latest value; with a range it is history, with its time)
    history(path, `count=1&end_timestamp=${new Date(Date.now() + 365 * 86400_000).toISOString()}`)
      .then(
        (h: { timestamps: string[]; values: string[] }) =>
          (latest.value = h.values.length ? { at: Date.parse(h.timestamps[0]!), value: h.values[0]! } : null),
      )
      .catch(() => (latest.value = null))
  }, [path])
  return latest
}

export interface RangeSeries {
  series: Signal<Series | null>
  /** bumped when the series changes in place (live values), so the chart redraws */
  version: Signal<number>
  error: Signal<string>
  loading: Signal<boolean>
  /** bumped to fetch the range afresh */
  reload: Signal<number>
  chartWidth: RefObject<number>
  /** live values appended since the last fetch */
  appended: RefObject<number>
}

/** the range's data, as wide as the chart area: fetched again when the range (the address) changes */
export function useRangeSeries(
  path: string,
  range: Range,
  key: string,
  area: RefObject<HTMLElement | null>,
): RangeSeries {
  const data: RangeSeries = {
    series: useSignal<Series | null>(null),
    version: useSignal(0),
    error: useSignal(''),
    loading: useSignal(false),
    reload: useSignal(0),
    chartWidth: useRef(800),
    appended: useRef(0),
  }
  const { series, error, loading, chartWidth, appended } = data
  useEffect(() => {
    if (range.kind === 'bad') return
    const abort = new AbortController()
    const width = area.current?.clientWidth || chartWidth.current
    chartWidth.current = width
    const end = range.kind === 'fixed' ? range.end : Date.now()
    const start = range.kind === 'fixed' ? range.start : range.span === null ? null : end - range.span
    loading.value = true
    error.value = ''
    const t0 = performance.now()
    loadSeries(path, start, end, width, abort.signal)
      .then((s) => {
        appended.current = 0
        series.value = s
        performance.mark?.('tendril:series', { detail: { ms: performance.now() - t0, mode: s.mode } })
      })
      .catch((err: unknown) => {
        if ((err as Error).name === 'AbortError') return
        error.value =
          err instanceof ApiError
            ? `The server refused this range: ${err.message}`
            : `Could not load the values: ${(err as Error).message}`
      })
      .finally(() => (loading.value = false))
    return () => abort.abort()
  }, [path, key, data.reload.value])
  return data
}

/** live follow: the latest value always, the series only while the range ends at now */
export function useLiveSeries(
  path: string,
  name: string,
  range: Range,
  key: string,
  latest: Signal<Latest>,
  data: RangeSeries,
) {
  const following = range.kind === 'live'
  const now = useRef({ following, range })
  now.current = { following, range }
  const { series, version, reload, chartWidth, appended } = data
  // one subscription for the page's life (a new one per range could miss values while being granted)
  useEffect(() => {
    const folder = path.slice(1, path.lastIndexOf('/'))
    return follow([folder], (_topic, payload) => {
      for (const message of parseValueLines(payload)) if (message.name === name) onValue(message)
    })
    function onValue(message: { at: number; value: string }) {
      const { following, range } = now.current
      latest.value = { at: message.at, value: message.value }
      const s = series.value
      const n = Number(message.value)
      if (!following || !s || !Number.isFinite(n) || message.value.trim() === '') return
      const windowStart =
        range.kind === 'live' && range.span !== null ? Math.max(Date.now(), message.at) - range.span : null
      appendValue(s, message.at, n, windowStart)
      s.end = Math.max(s.end, Date.now())
      version.value++
      // memory stays bounded: after a chart's width of live points, the range is fetched (bucketed) afresh
      if (++appended.current > chartWidth.current) reload.value++
    }
  }, [path])

  // the window of a live range slides with the clock, even when no value arrives
  useEffect(() => {
    if (!following) return
    const timer = setInterval(() => {
      const s = series.value
      if (!s || range.kind !== 'live') return
      s.end = Date.now()
      if (range.span !== null) s.start = s.end - range.span
      version.value++
    }, 5000)
    return () => clearInterval(timer)
  }, [following, key])
  return following
}
