// /admin/system: the installation's counts (GET /api/v1/system/stats), asked again every few seconds
// while the page is open, and no more once it is left.
import { useSignal } from '@preact/signals'
import { useEffect } from 'preact/hooks'
import { api } from '../../api.ts'
import { bytes } from '../../format.ts'
import { ErrorAlert } from '../../components/ErrorAlert.tsx'

type Stats = Record<string, number>

const REFRESH_MS = 3000
const SHOWN: [key: string, label: string, format?: (n: number) => string][] = [
  ['user_count', 'Users'],
  ['organization_count', 'Organizations'],
  ['controller_count', 'Controllers'],
  ['connected_controller_count', 'Controllers online'],
  ['active_key_count', 'Keys in use'],
  ['resource_count', 'Resources'],
  ['resource_revision_count', 'Stored values and revisions'],
  ['revision_bytes', 'Stored data', bytes],
  ['bulk_bytes', 'Of which in the blob store', bytes],
  ['thumbnail_count', 'Thumbnails'],
  ['message_count', 'Messages kept'],
]

export function SystemStats() {
  const stats = useSignal<Stats | undefined>(undefined)
  const error = useSignal('')
  const at = useSignal('')
  useEffect(() => {
    document.title = 'System · Administration · Tendril'
    let stopped = false
    let timer: ReturnType<typeof setTimeout> | undefined
    // the next request only after the last one answered: a slow server is not piled up
    const tick = async () => {
      try {
        const fresh = await api<Stats>('/api/v1/system/stats')
        if (stopped) return
        stats.value = fresh
        error.value = ''
        at.value = new Date().toLocaleTimeString()
      } catch (err) {
        if (!stopped) error.value = (err as Error).message
      }
      if (!stopped) timer = setTimeout(() => void tick(), REFRESH_MS)
    }
    void tick()
    return () => {
      stopped = true
      clearTimeout(timer)
    }
  }, [])
  return (
    <section aria-labelledby="system-heading">
      <h2 id="system-heading">System</h2>
      <ErrorAlert message={error.value} />
      {stats.value === undefined && !error.value && <p aria-busy="true">Loading…</p>}
      {stats.value && (
        <>
          <p class="hint">Updated every few seconds; last at {at.value}.</p>
          <dl class="stats" aria-label="System statistics">
            {SHOWN.map(([key, label, format]) => (
              <div key={key} data-stat={key}>
                <dt>{label}</dt>
                <dd>{format ? format(stats.value![key] ?? 0) : (stats.value![key] ?? 0).toLocaleString()}</dd>
              </div>
            ))}
          </dl>
        </>
      )}
    </section>
  )
}
