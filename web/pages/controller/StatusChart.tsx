// One status sequence of a controller as a small uPlot chart: the last hours from ?buckets= (means,
// aggregated by the server), then each value announced live appended. uPlot is loaded as a chunk of
// its own when the first chart is drawn, so the folder page does not carry it.
import { useSignal } from '@preact/signals'
import { useEffect, useRef } from 'preact/hooks'
import type uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'
import { api, resourceUrl, type Listed } from '../../api.ts'
import { formatValue, localTime, timeAgo } from '../../format.ts'
import { follow } from '../../live.ts'
import { displayLines } from './lines.ts'

const HOURS = 6
const BUCKETS = 72
const HEIGHT = 120
/** Points kept per chart (buckets plus live values): bounded however long the page stays open. */
const MAX_POINTS = 1000

interface Buckets {
  buckets: { start: string; count: number; mean: number | null }[]
}

const cssVar = (name: string) => getComputedStyle(document.documentElement).getPropertyValue(name).trim()

function chartOptions(width: number, label: string): uPlot.Options {
  // (a fresh object per axis: uPlot fills its defaults into the options it is given)
  const axis = () => ({
    stroke: cssVar('--muted'),
    grid: { stroke: cssVar('--border'), width: 1 },
    ticks: { stroke: cssVar('--border'), width: 1 },
    font: '11px system-ui, sans-serif',
  })
  return {
    width,
    height: HEIGHT,
    legend: { show: false },
    cursor: { show: false },
    scales: { x: { time: true } },
    axes: [
      { ...axis(), size: 26, space: 50, values: '{H}:{mm}' },
      { ...axis(), size: 44, space: 18 },
    ],
    series: [
      {},
      { label, stroke: cssVar('--accent'), width: 2, spanGaps: true, points: { size: 5, fill: cssVar('--accent') } },
    ],
  }
}

export function StatusChart({ path, item }: { path: string; item: Listed }) {
  const box = useRef<HTMLDivElement>(null)
  const latest = useSignal({ value: item.last_value ?? null, timestamp: item.last_value_timestamp ?? null })
  const summary = useSignal('')
  const empty = useSignal(false)
  const settings = item.system_attributes ?? {}
  const units = typeof settings.units === 'string' ? settings.units : ''

  useEffect(() => {
    let chart: uPlot | undefined
    let gone = false
    const xs: number[] = []
    const ys: (number | null)[] = []
    const redraw = () => {
      const known = ys.filter((y): y is number => y !== null)
      const shown = (n: number) => `${formatValue(String(n), settings)}${units ? ` ${units}` : ''}`
      empty.value = known.length === 0
      summary.value = known.length
        ? `${item.name}: from ${shown(Math.min(...known))} to ${shown(Math.max(...known))} over the last ${HOURS} hours`
        : `${item.name}: no values in the last ${HOURS} hours`
      chart?.setData([xs, ys])
    }
    const end = new Date()
    const start = new Date(end.getTime() - HOURS * 3600_000)
    const loading = Promise.all([
      import('uplot'),
      api<Buckets>(
        resourceUrl(
          path,
          `buckets=${BUCKETS}&start_timestamp=${start.toISOString()}&end_timestamp=${end.toISOString()}`,
        ),
      ),
    ]).then(([{ default: UPlot }, { buckets }]) => {
      if (gone || !box.current) return
      for (const b of buckets) {
        xs.push(Date.parse(b.start) / 1000)
        ys.push(b.count > 0 ? b.mean : null)
      }
      chart = new UPlot(chartOptions(box.current.clientWidth || 240, item.name), [xs, ys], box.current)
      redraw()
    })
    loading.catch(() => (summary.value = `${item.name}: the chart could not be loaded`))
    const resize = new ResizeObserver(
      () => chart && box.current && chart.setSize({ width: box.current.clientWidth, height: HEIGHT }),
    )
    if (box.current) resize.observe(box.current)
    const topic = path.slice(1, path.lastIndexOf('/'))
    const stop = follow([topic], (_topic, payload) => {
      for (const line of displayLines(payload)) {
        if (line.name !== item.name) continue
        latest.value = { value: line.value, timestamp: line.timestamp }
        const y = Number(line.value)
        const x = Date.parse(line.timestamp) / 1000
        if (!Number.isFinite(y) || !Number.isFinite(x) || (xs.length && x < xs[xs.length - 1]!)) continue
        xs.push(x)
        ys.push(y)
        if (xs.length > MAX_POINTS) {
          xs.splice(0, xs.length - MAX_POINTS)
          ys.splice(0, ys.length - MAX_POINTS)
        }
        redraw()
      }
    })
    return () => {
      gone = true
      stop()
      resize.disconnect()
      chart?.destroy()
    }
  }, [path])

  const { value, timestamp } = latest.value
  return (
    <figure class="status-chart" data-name={item.name}>
      <figcaption>
        <span class="chart-name">{item.name.replace(/_/g, ' ')}</span>{' '}
        <strong data-testid="value">
          {formatValue(value, settings)}
          {units && value !== null ? ` ${units}` : ''}
        </strong>{' '}
        {timestamp && (
          <time class="muted" dateTime={timestamp} title={localTime(timestamp)}>
            {timeAgo(timestamp)}
          </time>
        )}
      </figcaption>
      {empty.value && <p class="muted no-values">No values in the last {HOURS} hours</p>}
      <div
        ref={box}
        class={empty.value ? 'chart empty' : 'chart'}
        role="img"
        aria-label={summary.value || `${item.name}, loading`}
      />
    </figure>
  )
}
