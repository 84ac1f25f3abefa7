// The chart's table alternative: the points drawn (raw values, or each column's figures), paged.
import { useSignal } from '@preact/signals'
import type { Series } from './data.ts'
import { formatTime } from './range.ts'

const PAGE = 25

export function PointsTable({
  series,
  version,
  utc,
  format,
  units,
}: {
  series: Series
  version: number
  utc: boolean
  format: (n: number) => string
  units: string
}) {
  const page = useSignal(0)
  void version
  const rows: number[] = []
  // newest first, empty columns left out
  for (let i = series.x.length - 1; i >= 0; i--) if (series.counts[i]) rows.push(i)
  const pages = Math.max(1, Math.ceil(rows.length / PAGE))
  const current = Math.min(page.value, pages - 1)
  const shown = rows.slice(current * PAGE, current * PAGE + PAGE)
  const raw = series.mode === 'raw'
  return (
    <section class="card points" aria-label="Values in this range">
      <h2>{raw ? 'Values in this range' : 'Values in this range, per chart column'}</h2>
      <div class="table-scroll" tabIndex={0} role="region" aria-label="Table of values">
        <table>
          <thead>
            <tr>
              <th scope="col">Time</th>
              {raw ? (
                <th scope="col">Value{units && ` (${units})`}</th>
              ) : (
                <>
                  <th scope="col">Values</th>
                  <th scope="col">Min</th>
                  <th scope="col">Mean</th>
                  <th scope="col">Max</th>
                </>
              )}
            </tr>
          </thead>
          <tbody>
            {shown.map((i) => (
              <tr key={i}>
                <td>{formatTime(series.x[i]! * 1000, utc)}</td>
                {raw || series.counts[i] === 1 ? (
                  <td colSpan={raw ? 1 : 4}>{format(series.mean[i]!)}</td>
                ) : (
                  <>
                    <td>{series.counts[i]}</td>
                    <td>{format(series.min[i]!)}</td>
                    <td>{format(series.mean[i]!)}</td>
                    <td>{format(series.max[i]!)}</td>
                  </>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {rows.length === 0 && <p class="muted">No values.</p>}
      <div class="pager">
        <button type="button" disabled={current === 0} onClick={() => (page.value = current - 1)}>
          Newer
        </button>
        <span>
          Page {current + 1} of {pages}
        </span>
        <button type="button" disabled={current >= pages - 1} onClick={() => (page.value = current + 1)}>
          Older
        </button>
      </div>
    </section>
  )
}
