// A controller folder's own parts: its status header (presence, client version, last connect and
// watchdog, the status fields it reported), its status/ sequences as small charts and the tail of its
// log, all live on the page's one MQTT connection. The folder page shows its tiles and tabs around them.
import { useSignal } from '@preact/signals'
import { Fragment } from 'preact'
import { useEffect } from 'preact/hooks'
import { ApiError, api, encodePath, resourceUrl, type Described, type Listed } from '../../api.ts'
import { localTime } from '../../format.ts'
import { follow } from '../../live.ts'
import { Presence } from '../folder/Tile.tsx'
import { decodeMessage } from '../folder/Messages.tsx'
import type { Entry } from '../folder/model.ts'
import { displayLines } from './lines.ts'
import { StatusChart } from './StatusChart.tsx'
import { When } from '../../components/When.tsx'
import { ErrorAlert } from '../../components/ErrorAlert.tsx'

/** Log lines kept on the page: a chatty controller must not grow it without bound. */
const LOG_LINES = 50

const shown = (value: unknown) => (typeof value === 'string' ? value : JSON.stringify(value))

export function ControllerStatus({ path, meta, entry }: { path: string; meta: Described; entry: Entry }) {
  const watchdog = useSignal(meta.last_watchdog_timestamp ?? null)
  const connectedAt = useSignal(meta.last_connect_timestamp ?? null)
  // a watchdog sent to the controller's folder shows it alive; a connect is told as presence (Folder.tsx)
  useEffect(
    () =>
      follow([path.slice(1)], (_topic, payload) => {
        if (decodeMessage(payload)?.type === 'watchdog') watchdog.value = new Date().toISOString()
      }),
    [path],
  )
  const presence = entry.presence.value
  useEffect(() => {
    if (presence.connected && presence.at) connectedAt.value = presence.at
  }, [presence.connected, presence.at])
  const reported = Object.entries((meta as { status?: Record<string, unknown> }).status ?? {})
  return (
    <section class="card controller-status" aria-label="Controller status">
      <Presence entry={entry} />
      <dl>
        <dt>Client version</dt>
        <dd>{meta.client_version || 'unknown'}</dd>
        <dt>Last connect</dt>
        <dd>
          <When at={connectedAt.value} never="never" />
        </dd>
        <dt>Last watchdog</dt>
        <dd>
          <When at={watchdog.value} never="never" />
        </dd>
        {reported.map(([key, value]) => (
          <Fragment key={key}>
            <dt>{key}</dt>
            <dd>{shown(value)}</dd>
          </Fragment>
        ))}
      </dl>
      {meta.access === 'write' && !connectedAt.value && !presence.connected && (
        <p class="pin-hint">
          <a href={`${encodePath(path)}?tab=keys`}>Connect its device: enter the PIN it shows</a>
        </p>
      )}
    </section>
  )
}

/** The status charts and the log, shown above the controller's tiles. */
export function ControllerPanels({ path }: { path: string }) {
  return (
    <div class="controller-panels">
      <StatusCharts path={path} />
      <LogTail path={path} />
    </div>
  )
}

function StatusCharts({ path }: { path: string }) {
  const sequences = useSignal<Listed[] | null>(null)
  useEffect(() => {
    api<Listed[]>(resourceUrl(`${path}/status`, 'extended=1'))
      .then((items) => (sequences.value = items.filter((i) => i.type === 21 && i.system_attributes?.data_type === 1)))
      .catch(() => (sequences.value = [])) // no status/ folder: nothing to chart
  }, [path])
  if (!sequences.value?.length) return null
  return (
    <section class="status-charts" aria-labelledby="status-charts-title">
      <h2 id="status-charts-title">Status, last 6 hours</h2>
      <ul class="charts">
        {sequences.value.map((s) => (
          <li key={s.id} class="card">
            <StatusChart path={`${path}/status/${s.name}`} item={s} />
          </li>
        ))}
      </ul>
    </section>
  )
}

interface LogLine {
  key: number
  timestamp: string
  value: string
}
let nextKey = 1

function LogTail({ path }: { path: string }) {
  const lines = useSignal<LogLine[] | null>(null)
  const error = useSignal('')
  useEffect(() => {
    let current = true
    api<{ timestamps: string[]; values: string[] }>(resourceUrl(`${path}/log`, `count=${LOG_LINES}`))
      .then(({ timestamps, values }) => {
        if (!current) return
        const loaded = values.map((value, i) => ({ key: nextKey++, timestamp: timestamps[i]!, value })).reverse()
        lines.value = [...(lines.value ?? []), ...loaded].slice(0, LOG_LINES) // live lines that came meanwhile first
      })
      .catch(
        (err: unknown) =>
          current &&
          (err instanceof ApiError && err.status === 404
            ? (lines.value = null)
            : (error.value = (err as Error).message)),
      )
    const stop = follow([path.slice(1)], (_topic, payload) => {
      const arrived = displayLines(payload).filter((l) => l.name === 'log')
      if (arrived.length === 0) return
      const fresh = arrived.reverse().map((l) => ({ key: nextKey++, timestamp: l.timestamp, value: l.value }))
      lines.value = [...fresh, ...(lines.value ?? [])].slice(0, LOG_LINES)
    })
    return () => {
      current = false
      stop()
    }
  }, [path])
  if (lines.value === null && !error.value) return null
  return (
    <section class="log" aria-labelledby="log-title">
      <h2 id="log-title">Log</h2>
      <ErrorAlert message={error.value} />
      {lines.value?.length === 0 && <p class="empty">Nothing logged yet.</p>}
      {!!lines.value?.length && (
        <ol class="log-lines card" aria-label="Log, newest first">
          {lines.value?.map((l) => (
            <li key={l.key}>
              <time dateTime={l.timestamp} title={localTime(l.timestamp)}>
                {new Date(l.timestamp).toLocaleTimeString()}
              </time>{' '}
              <span class="log-value">{l.value}</span>
            </li>
          ))}
        </ol>
      )}
    </section>
  )
}
