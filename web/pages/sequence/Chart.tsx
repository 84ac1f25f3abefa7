// The uPlot chart of a numeric range: the min–max band with the mean line (or raw values), drag
// (mouse, or a horizontal finger drag) to zoom, double-click to zoom out, and a keyboard cursor
// whose value is announced politely. uPlot is its own chunk, loaded when a chart is first shown.
import { useSignal } from '@preact/signals'
import { useEffect, useRef } from 'preact/hooks'
import type uPlot from 'uplot'
import type { Series } from './data.ts'
import { formatTime } from './range.ts'

export interface ChartProps {
  name: string
  series: Series
  /** bumped when live values were appended in place */
  version: number
  utc: boolean
  format: (n: number) => string
  onZoom: (start: number, end: number) => void
  onZoomOut: () => void
}

let loading: Promise<typeof uPlot> | undefined
const loadUplot = () => (loading ??= import('uplot').then((m) => m.default))

const HEIGHT = 320

export function Chart(props: ChartProps) {
  const box = useRef<HTMLDivElement>(null)
  const plot = useRef<uPlot | null>(null)
  const latest = useRef(props)
  latest.current = props
  const cursor = useRef(-1)
  const announced = useSignal('')
  const readout = useSignal('')

  useEffect(() => {
    let gone = false
    void loadUplot().then((U) => {
      if (gone || !box.current) return
      plot.current = new U(options(U, box.current.clientWidth), dataOf(latest.current.series), box.current)
      attachTouch(plot.current)
      plot.current.over.addEventListener('dblclick', () => latest.current.onZoomOut())
      box.current.dataset.drawn = String(Date.now())
    })
    const resize = new ResizeObserver(
      () => plot.current && box.current && plot.current.setSize({ width: box.current.clientWidth, height: HEIGHT }),
    )
    if (box.current) resize.observe(box.current)
    return () => {
      gone = true
      resize.disconnect()
      plot.current?.destroy()
      plot.current = null
    }
  }, [props.utc])

  useEffect(() => {
    const u = plot.current
    if (!u) return
    u.setData(dataOf(props.series), false)
    u.setScale('x', { min: props.series.start / 1000, max: props.series.end / 1000 })
    cursor.current = Math.min(cursor.current, props.series.x.length - 1)
    if (box.current) box.current.dataset.drawn = String(Date.now())
  }, [props.series, props.version])

  function options(U: typeof uPlot, width: number): uPlot.Options {
    const accent = getComputedStyle(document.documentElement).getPropertyValue('--accent').trim() || '#0b6bcb'
    const muted = getComputedStyle(document.documentElement).getPropertyValue('--muted').trim() || '#57606a'
    const border = getComputedStyle(document.documentElement).getPropertyValue('--border').trim() || '#d0d7de'
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
        setCursor: [(u) => void (u.cursor.idx != null && (readout.value = describe(u.cursor.idx)))],
      },
    }
  }

  /** a finger dragging sideways zooms; a vertical swipe scrolls the page (touch-action: pan-y); a tap shows the value */
  function attachTouch(u: uPlot) {
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
        u.setSelect(
          { left: Math.min(from.x, x), width: Math.abs(x - from.x), top: 0, height: over.clientHeight },
          false,
        )
    })
    over.addEventListener('pointerup', (e) => {
      if (!from || e.pointerType === 'mouse') return
      const x = e.clientX - over.getBoundingClientRect().left
      if (dragging) {
        u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false)
        latest.current.onZoom(u.posToVal(Math.min(from.x, x), 'x') * 1000, u.posToVal(Math.max(from.x, x), 'x') * 1000)
      } else u.setCursor({ left: from.x, top: from.y })
      from = null
    })
  }

  function describe(i: number): string {
    const s = latest.current.series
    if (i < 0 || i >= s.x.length || s.mean[i] === null) return ''
    const f = latest.current.format
    const at = formatTime(s.x[i]! * 1000, latest.current.utc)
    if (s.mode === 'raw' || s.counts[i] === 1) return `${at}: ${f(s.mean[i]!)}`
    return `${at}: mean ${f(s.mean[i]!)}, min ${f(s.min[i]!)}, max ${f(s.max[i]!)} (${s.counts[i]} values)`
  }

  function onKey(e: KeyboardEvent) {
    const u = plot.current
    const s = latest.current.series
    if (!u || s.x.length === 0) return
    const filled = (i: number, step: number) => {
      while (i >= 0 && i < s.x.length && s.mean[i] === null) i += step
      return i >= 0 && i < s.x.length ? i : cursor.current
    }
    let i = cursor.current
    if (e.key === 'ArrowRight') i = filled(i < 0 ? 0 : i + (e.shiftKey ? 10 : 1), 1)
    else if (e.key === 'ArrowLeft') i = filled(i < 0 ? s.x.length - 1 : i - (e.shiftKey ? 10 : 1), -1)
    else if (e.key === 'Home') i = filled(0, 1)
    else if (e.key === 'End') i = filled(s.x.length - 1, -1)
    else return
    e.preventDefault()
    cursor.current = i
    if (i < 0) return
    u.setCursor({ left: u.valToPos(s.x[i]!, 'x'), top: u.valToPos(s.mean[i]!, 'y') })
    announced.value = describe(i)
  }

  return (
    <div class="chart-wrap">
      <div
        ref={box}
        class="chart"
        tabIndex={0}
        role="img"
        aria-roledescription="chart"
        aria-label={`Chart of ${props.name}. Arrow keys move a cursor through the values; drag across it to zoom in, double-click to zoom out.`}
        onKeyDown={onKey}
        data-testid="chart"
        data-mode={props.series.mode}
        data-start={props.series.start}
        data-end={props.series.end}
      />
      <p class="readout" aria-hidden="true">
        {readout.value || '\u00a0'}
      </p>
      <p class="sr-only" aria-live="polite" data-testid="cursor-value">
        {announced.value}
      </p>
    </div>
  )
}

function dataOf(s: Series): uPlot.AlignedData {
  return [s.x, s.min, s.mean, s.max] as uPlot.AlignedData
}
