// The uPlot side of the chart, apart from the component: its options (band, mean line, axes, zoom
// by selection), touch zoom, and the keyboard cursor's moves and words. Options read the latest
// props through a ref, so a plot made once follows new series, formats and callbacks.
import type { RefObject } from 'preact'
import type uPlot from 'uplot'
import type { Series } from './data.ts'
import { formatTime } from './range.ts'

export const HEIGHT = 320

/** what the plot's options read, always the latest (the chart's props) */
export interface PlotInputs {
  series: Series
  utc: boolean
  format: (n: number) => string
  onZoom: (start: number, end: number) => void
}

let loading: Promise<typeof uPlot> | undefined
export const loadUplot = () => (loading ??= import('uplot').then((m) => m.default))

export function dataOf(s: Series): uPlot.AlignedData {
  return [s.x, s.min, s.mean, s.max] as uPlot.AlignedData
}

const themeColour = (name: string, fallback: string) =>
  getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback

export function chartOptions(
  U: typeof uPlot,
  width: number,
  latest: RefObject<PlotInputs>,
  onPoint: (idx: number) => void,
): uPlot.Options {
  const accent = themeColour('--accent', '#0b6bcb')
  const muted = themeColour('--muted', '#57606a')
  const border = themeColour('--border', '#d0d7de')
  const axis = { stroke: muted, grid: { stroke: border, width: 1 }, ticks: { stroke: border, width: 1 } }
  return {
    width: Math.max(200, width),
    height: HEIGHT,
    legend: { show: false },
    tzDate: latest.current.utc ? (ts) => U.tzDate(new Date(ts * 1000), 'Etc/UTC') : (ts) => new Date(ts * 1000),
    scales: {
      x: {
        time: true,
        auto: false,
        range: () => [latest.current.series.start / 1000, latest.current.series.end / 1000],
      },
    },
    cursor: { drag: { x: true, y: false, setScale: false }, points: { size: 8 } },
    series: [
      {},
      { label: 'min', stroke: accent, width: 1, alpha: 0.6, spanGaps: false },
      {
        label: 'mean',
        stroke: accent,
        width: 2,
        spanGaps: false,
        points: { show: (u) => latest.current.series.mode === 'raw' && u.data[0].length < 300 },
      },
      { label: 'max', stroke: accent, width: 1, alpha: 0.6, spanGaps: false },
    ],
    bands: [{ series: [3, 1], fill: `color-mix(in srgb, ${accent} 22%, transparent)` }],
    axes: [
      axis,
      {
        ...axis,
        size: (_u, values) => 16 + 8 * Math.max(4, ...(values ?? []).map((v) => String(v).length)),
        values: (_u, ticks) => ticks.map((t) => latest.current.format(t)),
      },
    ],
    hooks: {
      setSelect: [
        (u) => {
          const { left, width: w } = u.select
          if (w < 4) return
          const a = u.posToVal(left, 'x') * 1000
          const b = u.posToVal(left + w, 'x') * 1000
          u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false)
          latest.current.onZoom(a, b)
        },
      ],
      // the last value pointed at stays shown when the pointer (or finger) leaves: a tap keeps its value
      setCursor: [(u) => void (u.cursor.idx != null && onPoint(u.cursor.idx))],
    },
  }
}

/** a finger dragging sideways zooms; a vertical swipe scrolls the page (touch-action: pan-y); a tap shows the value */
export function attachTouch(u: uPlot, onZoom: (start: number, end: number) => void) {
  let from: { x: number; y: number } | null = null
  let dragging = false
  const over = u.over
  over.addEventListener('pointerdown', (e) => {
    if (e.pointerType === 'mouse') return
    const r = over.getBoundingClientRect()
    from = { x: e.clientX - r.left, y: e.clientY - r.top }
    dragging = false
  })
  over.addEventListener('pointermove', (e) => {
    if (!from || e.pointerType === 'mouse') return
    const x = e.clientX - over.getBoundingClientRect().left
    if (!dragging && Math.abs(x - from.x) > 10) dragging = true
    if (dragging)
      u.setSelect({ left: Math.min(from.x, x), width: Math.abs(x - from.x), top: 0, height: over.clientHeight }, false)
  })
  over.addEventListener('pointerup', (e) => {
    if (!from || e.pointerType === 'mouse') return
    const x = e.clientX - over.getBoundingClientRect().left
    if (dragging) {
      u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false)
      onZoom(u.posToVal(Math.min(from.x, x), 'x') * 1000, u.posToVal(Math.max(from.x, x), 'x') * 1000)
    } else u.setCursor({ left: from.x, top: from.y })
    from = null
  })
}

/** the words for point i: its time and value, or mean, min, max and count of a bucket */
export function describePoint(s: Series, i: number, f: (n: number) => string, utc: boolean): string {
  if (i < 0 || i >= s.x.length || s.mean[i] === null) return ''
  const at = formatTime(s.x[i]! * 1000, utc)
  if (s.mode === 'raw' || s.counts[i] === 1) return `${at}: ${f(s.mean[i]!)}`
  return `${at}: mean ${f(s.mean[i]!)}, min ${f(s.min[i]!)}, max ${f(s.max[i]!)} (${s.counts[i]} values)`
}

/** where a key moves the cursor from i (over empty buckets), or undefined for a key it ignores */
export function cursorMove(s: Series, i: number, key: string, shift: boolean): number | undefined {
  const filled = (j: number, step: number) => {
    while (j >= 0 && j < s.x.length && s.mean[j] === null) j += step
    return j >= 0 && j < s.x.length ? j : i
  }
  if (key === 'ArrowRight') return filled(i < 0 ? 0 : i + (shift ? 10 : 1), 1)
  if (key === 'ArrowLeft') return filled(i < 0 ? s.x.length - 1 : i - (shift ? 10 : 1), -1)
  if (key === 'Home') return filled(0, 1)
  if (key === 'End') return filled(s.x.length - 1, -1)
  return undefined
}
