// A numeric sequence's last hours as a small line (inline SVG: a tile needs no chart library), from
// ?buckets= (aggregated on the server), fetched once the tile is on screen and again as values arrive.
import { useSignal } from '@preact/signals'
import { useEffect, useRef } from 'preact/hooks'
import { api, resourceUrl } from '../api.ts'

const HOURS = 6
const BUCKETS = 48
const REFRESH_MS = 60_000

interface Buckets {
  buckets: { start: string; count: number; mean: number | null }[]
}

export function Sparkline({ path, changed }: { path: string; changed: string | null }) {
  const ref = useRef<SVGSVGElement>(null)
  const points = useSignal<string>('')
  const visible = useSignal(false)
  const fetchedAt = useRef(0)

  useEffect(() => {
    const observer = new IntersectionObserver(([entry]) => (visible.value = !!entry?.isIntersecting))
    if (ref.current) observer.observe(ref.current)
    return () => observer.disconnect()
  }, [])

  useEffect(() => {
    if (!visible.value || Date.now() - fetchedAt.current < REFRESH_MS) return
    fetchedAt.current = Date.now()
    const end = new Date()
    const start = new Date(end.getTime() - HOURS * 3600_000)
    api<Buckets>(
      resourceUrl(path, `buckets=${BUCKETS}&start_timestamp=${start.toISOString()}&end_timestamp=${end.toISOString()}`),
    )
      .then(({ buckets }) => (points.value = polyline(buckets.map((b) => (b.count > 0 ? b.mean : null)))))
      .catch(() => (points.value = ''))
  }, [visible.value, changed, path])

  return (
    <svg
      ref={ref}
      class="sparkline"
      viewBox="0 0 100 24"
      preserveAspectRatio="none"
      aria-hidden="true"
      focusable="false"
    >
      {points.value && (
        <polyline
          points={points.value}
          fill="none"
          stroke="currentColor"
          stroke-width="1.5"
          vector-effect="non-scaling-stroke"
        />
      )}
    </svg>
  )
}

/** The means as SVG points across 0-100 × 2-22, gaps (empty buckets) skipped. */
function polyline(means: (number | null)[]): string {
  const known = means.filter((m): m is number => m !== null)
  if (known.length < 2) return ''
  const min = Math.min(...known)
  const span = Math.max(...known) - min || 1
  return means
    .map((m, i) =>
      m === null ? null : `${((i / (means.length - 1)) * 100).toFixed(1)},${(22 - ((m - min) / span) * 20).toFixed(1)}`,
    )
    .filter(Boolean)
    .join(' ')
}
