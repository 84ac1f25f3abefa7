// A text sequence (a log): newest first, tailing live, searchable, older pages fetched on request.
// At most MAX lines are kept in memory; older ones come back with "Load older".
import { useSignal } from '@preact/signals'
import { useEffect } from 'preact/hooks'
import { api, resourceUrl, type Described } from '../../api.ts'
import { follow } from '../../live.ts'
import { here, setQuery } from '../../router.ts'
import { parseValueLines } from './values.ts'
import { formatTime } from './range.ts'
import { ErrorAlert } from '../../components/ErrorAlert.tsx'

const PAGE = 200
const MAX = 5000

interface Line {
  at: number
  text: string
  key: number
}

let keys = 0

export function TextLog({ path, meta }: { path: string; meta: Described }) {
  const lines = useSignal<Line[]>([])
  const more = useSignal(true)
  const error = useSignal('')
  const loaded = useSignal(false)
  const search = here.value.query.get('q') ?? ''
  const utc = here.value.query.get('tz') === 'utc'

  async function load(before?: number) {
    try {
      const end = before === undefined ? '' : `&end_timestamp=${new Date(before - 1).toISOString()}`
      const h = await api<{ timestamps: string[]; values: string[] }>(
        resourceUrl(
          path,
          `count=${PAGE}${end}${before === undefined ? `&end_timestamp=${new Date(Date.now() + 86400_000).toISOString()}` : ''}`,
        ),
      )
      const older = h.values.map((text, i) => ({ at: Date.parse(h.timestamps[i]!), text, key: ++keys })).reverse()
      lines.value = before === undefined ? older : [...lines.value, ...older]
      more.value = h.values.length === PAGE
    } catch (err) {
      error.value = `Could not load the log: ${(err as Error).message}`
    } finally {
      loaded.value = true
    }
  }

  useEffect(() => void load(), [path])
  useEffect(() => {
    const folder = path.slice(1, path.lastIndexOf('/'))
    return follow([folder], (_t, payload) => {
      const arrived = parseValueLines(payload).filter((m) => m.name === meta.name)
      if (arrived.length === 0) return
      const next = [...arrived.reverse().map((m) => ({ at: m.at, text: m.value, key: ++keys })), ...lines.value]
      if (next.length > MAX) {
        next.length = MAX
        more.value = true
      }
      lines.value = next
    })
  }, [path])

  const needle = search.toLowerCase()
  const shown = needle ? lines.value.filter((l) => l.text.toLowerCase().includes(needle)) : lines.value
  const oldest = lines.value.at(-1)?.at
  return (
    <section class="card log" aria-label="Log">
      <div class="log-tools">
        <label class="inline">
          Search <input type="search" value={search} onInput={(e) => setQuery({ q: e.currentTarget.value || null })} />
        </label>
        <span class="following">
          <span class="dot" aria-hidden="true" /> Tailing live, newest first
        </span>
        <label class="inline">
          <input
            type="checkbox"
            checked={utc}
            onChange={(e) => setQuery({ tz: e.currentTarget.checked ? 'utc' : null })}
          />{' '}
          UTC
        </label>
      </div>
      <ErrorAlert message={error.value} />
      {loaded.value && lines.value.length === 0 && !error.value && (
        <p class="empty-range">This log has no lines yet.</p>
      )}
      {needle && (
        <p class="muted small" role="status">
          {shown.length} of {lines.value.length} loaded lines match.
        </p>
      )}
      <ol class="log-lines" aria-label={`Lines of ${meta.name}`}>
        {shown.map((l) => (
          <li key={l.key}>
            <time dateTime={new Date(l.at).toISOString()}>{formatTime(l.at, utc)}</time>{' '}
            <span class="line">{l.text}</span>
          </li>
        ))}
      </ol>
      {more.value && oldest !== undefined && (
        <button type="button" onClick={() => void load(oldest)}>
          Load older
        </button>
      )}
    </section>
  )
}
