// A numeric sequence's range as the chart draws it: buckets (min, mean, max per pixel column,
// aggregated by the server) or, when the range holds at most about two points per pixel, the raw
// values themselves. Both are asked for at once; the raw answer wins when it is the whole range.
import { api, resourceUrl } from '../../api.ts'

export interface Series {
  mode: 'raw' | 'buckets'
  /** the range drawn, ms */
  start: number
  end: number
  /** x in seconds (uPlot's time unit), then min, mean, max; raw values have min = max = null */
  x: number[]
  min: (number | null)[]
  mean: (number | null)[]
  max: (number | null)[]
  /** per point: how many values it stands for (1 for a raw value) */
  counts: number[]
  /** raw values that are not numbers (not drawn), and the first of them */
  notNumbers: number
  example?: string
}

export interface Stats {
  count: number
  min: number | null
  mean: number | null
  max: number | null
  /** when the maximum lies (ms; a bucket's middle) */
  maxAt: number | null
}

interface BucketAnswer {
  not_numeric?: number
  start_timestamp: string | null
  end_timestamp: string | null
  buckets: { start: string; count: number; min: number | null; mean: number | null; max: number | null }[]
}

interface HistoryAnswer {
  timestamps: string[]
  values: string[]
  truncated?: boolean
}

const bounds = (start: number | null, end: number) =>
  `${start === null ? '' : `&start_timestamp=${new Date(start).toISOString()}`}&end_timestamp=${new Date(end).toISOString()}`

/**
 * The range [start, end] (start null: from the first value) at `width` columns. Both answers are
 * asked for at once; when the raw one holds the whole range the buckets are abandoned (on
 * PostgreSQL 900 buckets cost ~170 ms even over a day's few thousand values).
 */
export async function loadSeries(
  path: string,
  start: number | null,
  end: number,
  width: number,
  signal?: AbortSignal,
): Promise<Series> {
  const columns = Math.max(10, Math.min(4000, Math.round(width)))
  const rawLimit = columns * 2
  const bucketsAbort = new AbortController()
  signal?.addEventListener('abort', () => bucketsAbort.abort())
  const get = <T>(query: string, s: AbortSignal | undefined) => api<T>(resourceUrl(path, query.slice(1)), { signal: s })
  const buckets = get<BucketAnswer>(`&buckets=${columns}${bounds(start, end)}`, bucketsAbort.signal)
  buckets.catch(() => {}) // abandoned, or its error is thrown where it is awaited
  const raw = await get<HistoryAnswer>(`&count=${rawLimit + 1}${bounds(start, end)}`, signal)
  if (!raw.truncated && raw.values.length <= rawLimit) {
    bucketsAbort.abort()
    const first = raw.timestamps[0] ? Date.parse(raw.timestamps[0]) : end - 3600_000
    return rawSeries(raw, start ?? Math.min(first, end - 1000), end)
  }
  const answer = await buckets
  return bucketSeries(
    answer,
    start ?? (answer.start_timestamp ? Date.parse(answer.start_timestamp) : end - 3600_000),
    end,
  )
}

function rawSeries(raw: HistoryAnswer, start: number, end: number): Series {
  const series: Series = { mode: 'raw', start, end, x: [], min: [], mean: [], max: [], counts: [], notNumbers: 0 }
  raw.values.forEach((text, i) => {
    const n = text.trim() === '' ? NaN : Number(text)
    if (!Number.isFinite(n)) {
      series.notNumbers++
      series.example ??= text
      return
    }
    series.x.push(Date.parse(raw.timestamps[i]!) / 1000)
    series.mean.push(n)
    series.min.push(null)
    series.max.push(null)
    series.counts.push(1)
  })
  return series
}

function bucketSeries(answer: BucketAnswer, start: number, end: number): Series {
  const width = (end - start) / Math.max(1, answer.buckets.length)
  const series: Series = {
    mode: 'buckets',
    start,
    end,
    x: [],
    min: [],
    mean: [],
    max: [],
    counts: [],
    notNumbers: answer.not_numeric ?? 0,
  }
  for (const b of answer.buckets) {
    series.x.push((Date.parse(b.start) + width / 2) / 1000)
    series.min.push(b.min)
    series.mean.push(b.mean)
    series.max.push(b.max)
    series.counts.push(b.count)
  }
  return series
}

/** min, mean, max and count of what the chart holds (the buckets' own figures, weighted). */
export function statsOf(s: Series): Stats {
  let count = 0
  let sum = 0
  let min: number | null = null
  let max: number | null = null
  let maxAt: number | null = null
  for (let i = 0; i < s.x.length; i++) {
    const n = s.counts[i]!
    const mean = s.mean[i]
    if (!n || mean === null || mean === undefined) continue
    const lo = s.min[i] ?? mean
    const hi = s.max[i] ?? mean
    count += n
    sum += mean * n
    if (min === null || lo < min) min = lo
    if (max === null || hi > max) [max, maxAt] = [hi, s.x[i]! * 1000]
  }
  return { count, min, max, maxAt, mean: count ? sum / count : null }
}

/** A live value appended (raw or as a one-value bucket), dropping what slid out of the window. */
export function appendValue(s: Series, at: number, value: number, windowStart: number | null): void {
  s.x.push(at / 1000)
  s.mean.push(value)
  s.min.push(s.mode === 'raw' ? null : value)
  s.max.push(s.mode === 'raw' ? null : value)
  s.counts.push(1)
  s.end = Math.max(s.end, at)
  if (windowStart === null) return
  s.start = windowStart
  let drop = 0
  while (drop < s.x.length && s.x[drop]! * 1000 < windowStart) drop++
  if (drop === 0) return
  for (const list of [s.x, s.min, s.mean, s.max, s.counts]) list.splice(0, drop)
}
