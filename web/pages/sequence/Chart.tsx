// The uPlot chart of a numeric range: the min–max band with the mean line (or raw values), drag
// (mouse, or a horizontal finger drag) to zoom, double-click to zoom out, and a keyboard cursor
// whose value is announced politely. uPlot is its own chunk, loaded when a chart is first shown.
import { useSignal } from '@preact/signals'
import { useEffect, useRef } from 'preact/hooks'
import type uPlot from 'uplot'
import {
  attachTouch,
  chartOptions,
  cursorMove,
  dataOf,
  describePoint,
  HEIGHT,
  loadUplot,
  type PlotInputs,
} from './chart-plot.ts'

export interface ChartProps extends PlotInputs {
  name: string
  /** bumped when live values were appended in place */
  version: number
  onZoomOut: () => void
}

export function Chart(props: ChartProps) {
  const box = useRef<HTMLDivElement>(null)
  const plot = useRef<uPlot | null>(null)
  const latest = useRef(props)
  latest.current = props
  const cursor = useRef(-1)
  const announced = useSignal('')
  const readout = useSignal('')
  const describe = (i: number) => describePoint(latest.current.series, i, latest.current.format, latest.current.utc)

  useEffect(() => {
    let gone = false
    void loadUplot().then((U) => {
      if (gone || !box.current) return
      const options = chartOptions(U, box.current.clientWidth, latest, (i) => (readout.value = describe(i)))
      plot.current = new U(options, dataOf(latest.current.series), box.current)
      attachTouch(plot.current, (start, end) => latest.current.onZoom(start, end))
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

  function onKey(e: KeyboardEvent) {
    const u = plot.current
    const s = latest.current.series
    if (!u || s.x.length === 0) return
    const i = cursorMove(s, cursor.current, e.key, e.shiftKey)
    if (i === undefined) return
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
