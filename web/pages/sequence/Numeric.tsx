// A numeric sequence: the range picker, the chart, latest value and figures of the visible range,
// a paged table of its points, and the CSV of exactly that range. Following "now" while the range
// ends there: values arriving on the folder's topic are appended, the window slides.
import { useSignal } from '@preact/signals'
import { useRef } from 'preact/hooks'
import { resourceUrl, type Described } from '../../api.ts'
import { here, navigate, setQuery } from '../../router.ts'
import { Chart } from './Chart.tsx'
import { statsOf, type Series, type Stats } from './data.ts'
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
import { useLatest, useLiveSeries, useRangeSeries, type Latest, type RangeSeries } from './useSeries.ts'
import { csvQuery, numberStyle, summaryText } from './values.ts'
import { ErrorAlert } from '../../components/ErrorAlert.tsx'

export function NumericView({ path, meta }: { path: string; meta: Described }) {
  const { units, format } = numberStyle(meta)
  const query = here.value.query
  const range = readRange(query)
  const utc = query.get('tz') === 'utc'
  const area = useRef<HTMLDivElement>(null)
  const key = query.toString().replace(/(^|&)tz=[^&]*/, '')
  const latest = useLatest(path)
  const data = useRangeSeries(path, range, key, area)
  const following = useLiveSeries(path, meta.name, range, key, latest, data)

  const zoomTo = (start: number, end: number) => {
    if (end - start < 1) return
    const depth = range.kind === 'fixed' ? range.zoom + 1 : 1
    navigate(`${location.pathname}?${fixedQuery(query, start, end, depth)}`)
  }
  const zoomOut = () => {
    if (range.kind === 'fixed' && range.zoom > 0) history.back()
  }

  const s = data.series.value
  const stats = s ? statsOf(s) : null
  const summary = s && stats ? summaryText(meta.name, s, stats, format, units, utc) : ''

  return (
    <div class="explorer">
      <RangePicker range={range} query={query} utc={utc} />
      <div class="explorer-grid">
        <section class="chart-area" aria-label="Chart" ref={area}>
          <ChartState
            range={range}
            query={query}
            following={following}
            loading={data.loading.value}
            onZoomOut={zoomOut}
          />
          <RangeNotes range={range} data={data} stats={stats} latest={latest.value} />
          {s && range.kind !== 'bad' && (
            <Chart
              name={meta.name}
              series={s}
              version={data.version.value}
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
          <LatestCard latest={latest.value} format={format} units={units} utc={utc} />
          <RangeCard s={s} stats={stats} format={format} units={units} csvUrl={resourceUrl(path, csvQuery(range, s))} />
          <TimeZoneCard utc={utc} />
        </aside>
      </div>
      {s && <PointsTable series={s} version={data.version.value} utc={utc} format={format} units={units} />}
    </div>
  )
}

interface ChartStateProps {
  range: Range
  query: URLSearchParams
  following: boolean
  loading: boolean
  onZoomOut: () => void
}

/** following live or paused (with the way back to live), zoom out, loading */
function ChartState({ range, query, following, loading, onZoomOut }: ChartStateProps) {
  const backToLive = () =>
    navigate(
      `${location.pathname}?${liveQuery(query, (PRESETS.find((p) => p[0] === query.get('range')) ?? PRESETS[2])[0])}`,
    )
  return (
    <div class="chart-state">
      {following ? (
        <span class="following" role="status">
          <span class="dot" aria-hidden="true" /> Following live
        </span>
      ) : (
        <>
          <span class="paused">Paused: showing a fixed range</span>
          <button type="button" class="primary" onClick={backToLive}>
            Live
          </button>
        </>
      )}
      {range.kind === 'fixed' && range.zoom > 0 && (
        <button type="button" onClick={onZoomOut}>
          Zoom out
        </button>
      )}
      {loading && (
        <span class="muted" aria-busy="true">
          Loading…
        </span>
      )}
    </div>
  )
}

/** why the chart is empty or incomplete: a bad range, a refused fetch, no values, values not numbers */
function RangeNotes({
  range,
  data,
  stats,
  latest,
}: {
  range: Range
  data: RangeSeries
  stats: Stats | null
  latest: Latest
}) {
  const s = data.series.value
  return (
    <>
      {range.kind === 'bad' && (
        <p class="error" role="alert">
          {range.message}
        </p>
      )}
      <ErrorAlert message={data.error.value} />
      {s && stats && stats.count === 0 && (
        <p class="empty-range" role="status">
          {latest === null
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
    </>
  )
}

interface Style {
  format: (n: number) => string
  units: string
}

function LatestCard({ latest, format, units, utc }: Style & { latest: Latest; utc: boolean }) {
  return (
    <section class="card latest">
      <h2>Latest value</h2>
      {latest ? (
        <>
          <p class="big" data-testid="latest-value">
            {Number.isFinite(Number(latest.value)) ? format(Number(latest.value)) : latest.value}
            {units && <span class="units"> {units}</span>}
          </p>
          <p class="muted">
            <time dateTime={new Date(latest.at).toISOString()}>{formatTime(latest.at, utc)}</time>
          </p>
        </>
      ) : (
        <p class="muted">{latest === null ? 'No value yet' : 'Loading…'}</p>
      )}
    </section>
  )
}

function RangeCard({
  s,
  stats,
  format,
  units,
  csvUrl,
}: Style & { s: Series | null; stats: Stats | null; csvUrl: string }) {
  return (
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
      <a class="button" href={csvUrl} download>
        Download CSV of this range
      </a>
    </section>
  )
}

function TimeZoneCard({ utc }: { utc: boolean }) {
  return (
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
        {utc ? 'Times are UTC.' : `Times are in your time zone (${Intl.DateTimeFormat().resolvedOptions().timeZone}).`}
      </p>
    </section>
  )
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
        <ErrorAlert message={problem.value} />
      </form>
    </div>
  )
}
