// A CSV file as a table (the first 500 rows) with each column's min, max and mean over all rows.
import { useMemo } from 'preact/hooks'
import { columnStats, parseCsv } from './kinds.ts'

const SHOWN = 500
const fmt = (n: number | null) => (n === null ? '—' : String(Math.round(n * 1e4) / 1e4))

export function CsvTable({ text }: { text: string }) {
  const rows = useMemo(() => parseCsv(text), [text])
  const stats = useMemo(() => columnStats(rows), [rows])
  if (rows.length === 0) return <p class="empty-range">This CSV file is empty.</p>
  const [header, ...body] = rows
  return (
    <div class="csv-table">
      <div class="table-scroll" tabIndex={0} role="region" aria-label="CSV table">
        <table>
          <caption class="sr-only">Column figures, then the rows</caption>
          <thead>
            <tr>
              <th scope="col">Column</th>
              {header!.map((h, i) => (
                <th key={i} scope="col">
                  {h}
                </th>
              ))}
            </tr>
          </thead>
          <tbody class="column-stats">
            {(['min', 'max', 'mean'] as const).map((key) => (
              <tr key={key} data-stat={key}>
                <th scope="row">{key}</th>
                {stats.map((s, i) => (
                  <td key={i}>{fmt(s[key])}</td>
                ))}
              </tr>
            ))}
          </tbody>
          <tbody>
            {body.slice(0, SHOWN).map((row, r) => (
              <tr key={r}>
                <th scope="row">{r + 1}</th>
                {row.map((cell, i) => (
                  <td key={i}>{cell}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {body.length > SHOWN && (
        <p class="muted small">
          Showing the first {SHOWN} of {body.length} rows; the figures cover them all.
        </p>
      )}
    </div>
  )
}
