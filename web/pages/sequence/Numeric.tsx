// A numeric sequence: the range picker, the chart, latest value and figures of the visible range,
// a paged table of its points, and the CSV of exactly that range. Following "now" while the range
// ends there: values arriving on the folder's topic are appended, the window slides.
import { useSignal } from '@preact/signals'
import { useEffect, useRef } from 'preact/hooks'
import { ApiError, resourceUrl, type Described } from '../../api.ts'
import { follow } from '../../live.ts'
import { here, navigate, setQuery } from '../../router.ts'
import { Chart } from './Chart.tsx'
import { appendValue, loadSeries, statsOf, type Series } from './data.ts'
import { PointsTable } from './PointsTable.tsx'
import {
  checkRange,
  fixedQuery,
  formatTime,
  fromInput,
  inputValue,
  liveQuery,
  PRESETS,
  readRange,
  type Range,
} from './range.ts'

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

export function NumericView({ path, meta }: { path: string; meta: Described }) {
  const settings = meta.system_attributes ?? {}
  const units = typeof settings.units === 'string' ? settings.units : ''
  const places = typeof settings.decimal_places === 'number' ? settings.decimal_places : null
  const format = (n: number) => (places !== null ? n.toFixed(places) : String(Math.round(n * 1e6) / 1e6))
  const query = here.value.query
  const range = readRange(query)
  const utc = query.get('tz') === 'utc'
  const series = useSignal<Series | null>(null)
  const version = useSignal(0)
  const error = useSignal('')
  const loading = useSignal(false)
  const latest = useSignal<{ at: number; value: string } | null | undefined>(undefined)
  const chartWidth = useRef(800)
  const area = useRef<HTMLDivElement>(null)
  const appended = useRef(0)
  const reload = useSignal(0)
  const key = query.toString().replace(/(^|&)tz=[^&]*/, '')

  // the latest value, once, then from the live messages
  useEffect(() => {
    // (count=1 alone answers the bare latest value; with a range it is history, with its time)
    api(`count=1&end_timestamp=${new Date(Date.now() + 365 * 86400_000).toISOString()}`)
      .then(
        (h: { timestamps: string[]; values: string[] }) =>
          (latest.value = h.values.length ? { at: Date.parse(h.timestamps[0]!), value: h.values[0]! } : null),
      )
      .catch(() => (latest.value = null))
  }, [path])

  function api(q: string) {
    return fetch(resourceUrl(path, q), { credentials: 'same-origin', headers: { accept: 'application/json' } }).then(
      (r) => (r.ok ? r.json() : Promise.reject(new Error(r.statusText))),
    )
  }

  // the range's data: fetched again when the range (the address) changes
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
  }, [path, key, reload.value])

  // live follow: only while the range ends at now
  const following = range.kind === 'live'
  const now = useRef({ following, range })
  now.current = { following, range }
  // one subscription for the page's life (a new one per range could miss values while being granted)
  useEffect(() => {
    const folder = path.slice(1, path.lastIndexOf('/'))
    return follow([folder], (_topic, payload) => {
      for (const message of parseValueLines(payload)) if (message.name === meta.name) onValue(message)
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

  const zoomTo = (start: number, end: number) => {
    if (end - start < 1) return
    const depth = range.kind === 'fixed' ? range.zoom + 1 : 1
    navigate(`${location.pathname}?${fixedQuery(query, start, end, depth)}`)
  }
  const zoomOut = () => {
    if (range.kind === 'fixed' && range.zoom > 0) history.back()
  }

  const s = series.value
  const stats = s ? statsOf(s) : null
  const csvQuery = (() => {
    if (!s) return 'download=1'
    const start =
      range.kind === 'live' && range.span === null ? '' : `&start_timestamp=${new Date(s.start).toISOString()}`
    return `download=1${start}&end_timestamp=${new Date(range.kind === 'live' ? Date.now() : s.end).toISOString()}`
  })()
  const summary = s && stats ? summaryText(meta.name, s, stats, format, units, utc) : ''

  return (
    <div class="explorer">
      <RangePicker range={range} query={query} utc={utc} />
      <div class="explorer-grid">
        <section class="chart-area" aria-label="Chart" ref={area}>
          <div class="chart-state">
            {following ? (
              <span class="following" role="status">
                <span class="dot" aria-hidden="true" /> Following live
              </span>
            ) : (
              <>
                <span class="paused">Paused: showing a fixed range</span>
                <button
                  type="button"
                  class="primary"
                  onClick={() =>
                    navigate(
                      `${location.pathname}?${liveQuery(query, (PRESETS.find((p) => p[0] === query.get('range')) ?? PRESETS[2])[0])}`,
                    )
                  }
                >
                  Live
                </button>
              </>
            )}
            {range.kind === 'fixed' && range.zoom > 0 && (
              <button type="button" onClick={zoomOut}>
                Zoom out
              </button>
            )}
            {loading.value && (
              <span class="muted" aria-busy="true">
                Loading…
              </span>
            )}
          </div>
          {range.kind === 'bad' && (
            <p class="error" role="alert">
              {range.message}
            </p>
          )}
          {error.value && (
            <p class="error" role="alert">
              {error.value}
            </p>
          )}
          {s && stats && stats.count === 0 && (
            <p class="empty-range" role="status">
              {latest.value === null
                ? 'This sequence has no values yet.'
                : 'No values in this range. Choose a longer range, or All.'}
            </p>
          )}
          {s && s.notNumbers > 0 && (
            <p class="warning" role="status">
              {s.notNumbers} {s.notNumbers === 1 ? 'value is' : 'values are'} not a number
              {s.example !== undefined && ` (for example “${s.example.slice(0, 40)}”)`} and{' '}
              {s.notNumbers === 1 ? 'is' : 'are'} not drawn.
            </p>
          )}
          {s && range.kind !== 'bad' && (
            <Chart
              name={meta.name}
              series={s}
              version={version.value}
              utc={utc}
              format={format}
              onZoom={zoomTo}
              onZoomOut={zoomOut}
            />
          )}
          {summary && (
            <p class="chart-summary" data-testid="chart-summary">
              {summary}
            </p>
          )}
        </section>
        <aside class="side" aria-label="Figures">
          <section class="card latest">
            <h2>Latest value</h2>
            {latest.value ? (
              <>
                <p class="big" data-testid="latest-value">
                  {Number.isFinite(Number(latest.value.value))
                    ? format(Number(latest.value.value))
                    : latest.value.value}
                  {units && <span class="units"> {units}</span>}
                </p>
                <p class="muted">
                  <time dateTime={new Date(latest.value.at).toISOString()}>{formatTime(latest.value.at, utc)}</time>
                </p>
              </>
            ) : (
              <p class="muted">{latest.value === null ? 'No value yet' : 'Loading…'}</p>
            )}
          </section>
          <section class="card">
            <h2>This range</h2>
            <dl class="figures">
              <dt>Values</dt>
              <dd data-testid="stat-count">{stats ? stats.count.toLocaleString() : '…'}</dd>
              <dt>Minimum</dt>
              <dd>{stats?.min != null ? `${format(stats.min)} ${units}` : '—'}</dd>
              <dt>Mean</dt>
              <dd>{stats?.mean != null ? `${format(stats.mean)} ${units}` : '—'}</dd>
              <dt>Maximum</dt>
              <dd data-testid="stat-max">{stats?.max != null ? `${format(stats.max)} ${units}` : '—'}</dd>
            </dl>
            <p class="muted small">
              {s ? (s.mode === 'raw' ? 'Every value drawn.' : 'Each column: min–max band and mean of its values.') : ''}
            </p>
            <a class="button" href={resourceUrl(path, csvQuery)} download>
              Download CSV of this range
            </a>
          </section>
          <section class="card">
            <h2>Time zone</h2>
            <label class="inline">
              <input
                type="checkbox"
                checked={utc}
                onChange={(e) => setQuery({ tz: e.currentTarget.checked ? 'utc' : null })}
              />{' '}
              Show times in UTC
            </label>
            <p class="muted small">
              {utc
                ? 'Times are UTC.'
                : `Times are in your time zone (${Intl.DateTimeFormat().resolvedOptions().timeZone}).`}
            </p>
          </section>
        </aside>
      </div>
      {s && <PointsTable series={s} version={version.value} utc={utc} format={format} units={units} />}
    </div>
  )
}

function summaryText(
  name: string,
  s: Series,
  stats: ReturnType<typeof statsOf>,
  format: (n: number) => string,
  units: string,
  utc: boolean,
): string {
  const span = `${formatTime(s.start, utc)} to ${formatTime(s.end, utc)}`
  if (stats.count === 0) return `${name}, ${span}: no values.`
  const peak = stats.maxAt !== null ? ` at ${formatTime(stats.maxAt, utc)}` : ''
  return `${name}, ${span}: ${stats.count.toLocaleString()} values, from ${format(stats.min!)} to ${format(stats.max!)} ${units} (highest${peak}), mean ${format(stats.mean!)} ${units}.`
}

function RangePicker({ range, query, utc }: { range: Range; query: URLSearchParams; utc: boolean }) {
  const from = useSignal(range.kind === 'fixed' ? inputValue(range.start, utc) : '')
  const to = useSignal(range.kind === 'fixed' ? inputValue(range.end, utc) : '')
  const problem = useSignal('')
  const apply = (e: Event) => {
    e.preventDefault()
    const start = fromInput(from.value, utc)
    const end = fromInput(to.value, utc)
    if (Number.isNaN(start) || Number.isNaN(end))
      return void (problem.value = 'Enter both a start and an end date and time.')
    const bad = checkRange(start, end)
    if (bad) return void (problem.value = bad)
    problem.value = ''
    navigate(`${location.pathname}?${fixedQuery(query, start, end, 0)}`)
  }
  return (
    <div class="range-picker">
      <div class="toggle" role="group" aria-label="Range">
        {PRESETS.map(([id, label]) => (
          <button
            key={id}
            type="button"
            aria-pressed={range.kind === 'live' && range.preset === id}
            onClick={() => navigate(`${location.pathname}?${liveQuery(query, id)}`)}
          >
            {label}
          </button>
        ))}
      </div>
      <form class="custom-range" onSubmit={apply} aria-label="Custom range">
        <label>
          From <input type="datetime-local" value={from.value} onInput={(e) => (from.value = e.currentTarget.value)} />
        </label>
        <label>
          To <input type="datetime-local" value={to.value} onInput={(e) => (to.value = e.currentTarget.value)} />
        </label>
        <button type="submit">Show range</button>
        {problem.value && (
          <p class="error" role="alert">
            {problem.value}
          </p>
        )}
      </form>
    </div>
  )
}
