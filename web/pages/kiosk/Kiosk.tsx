// ?kiosk=1 on a folder or controller page: a classroom screen. Big tiles of live values, no menus, kept
// current for days without a reload: the live connection reconnects by itself (live.ts), what was
// missed meanwhile is loaded again, and each chart keeps at most MAX_POINTS values (memory stays flat).
import { signal, useSignal, useSignalEffect, type Signal } from '@preact/signals'
import { useEffect, useMemo } from 'preact/hooks'
import {
  ApiError,
  api,
  encodePath,
  resourceUrl,
  ResourceType,
  session,
  signInUrl,
  type Described,
  type Listed,
} from '../../api.ts'
import { LiveStatus } from '../../components/Layout.tsx'
import { formatValue } from '../../format.ts'
import { follow } from '../../live.ts'
import { navigate } from '../../router.ts'
import { Presence } from '../folder/Tile.tsx'
import { applyLive, lastSeen, toEntry, type Entry } from '../folder/model.ts'
import './kiosk.css'
import { useReloadOnReconnect } from '../../reconnect.ts'
import { When } from '../../components/When.tsx'

/** The most values a tile's chart keeps: live values push out the oldest. */
export const MAX_POINTS = 120

interface Point {
  t: number
  v: number
}

/** A tile: the entry (value and presence signals) and its chart's values. */
interface KioskEntry extends Entry {
  points: Signal<Point[]>
}

const shownOnKiosk = (item: Listed) => item.type === ResourceType.controller || item.type === ResourceType.sequence

export function KioskPage({ path }: { path: string }) {
  const meta = useSignal<Described | null | undefined>(undefined)
  const error = useSignal('')
  useEffect(() => {
    document.title = `${path.split('/').pop()} · Tendril`
    api<Described>(resourceUrl(path, 'meta=1'))
      .then((described) => (meta.value = described))
      .catch((err: unknown) => {
        const refused = err instanceof ApiError && (err.status === 404 || err.status === 401)
        // not public (or not there): someone signed out may see it after signing in
        if (refused && session.peek() === null) return navigate(signInUrl(), { replace: true })
        if (refused) meta.value = null
        else error.value = (err as Error).message
      })
  }, [path])
  useWakeLock()
  if (error.value)
    return (
      <p class="error" role="alert">
        {error.value}
      </p>
    )
  if (meta.value === null)
    return (
      <main class="kiosk">
        <h1>Nothing to show at {path}</h1>
      </main>
    )
  if (meta.value === undefined) return <p aria-busy="true">Loading…</p>
  return <KioskView path={path} meta={meta.value} />
}

function KioskView({ path, meta }: { path: string; meta: Described }) {
  const entries = useSignal<KioskEntry[] | undefined>(undefined)
  const self = useMemo(() => toEntry(meta), [meta])
  const reloads = useSignal(0)
  const topic = path.slice(1)

  // the listing; again after each reconnect, for what changed while the screen was offline
  useEffect(() => {
    let current = true
    api<Listed[]>(resourceUrl(path, 'extended=1'))
      .then((items) => current && (entries.value = merged(entries.peek(), items.filter(shownOnKiosk))))
      .catch(() => {}) // the next reconnect tries again; the values shown stay
    return () => void (current = false)
  }, [path, reloads.value])
  useReloadOnReconnect(() => reloads.value++)

  useSignalEffect(() => {
    const list = entries.value
    if (!list) return
    const byName = new Map<string, Entry>(list.map((e) => [e.item.name, e]))
    const parent = topic.slice(0, topic.lastIndexOf('/'))
    const filters = meta.type === ResourceType.controller ? [topic, parent] : [topic]
    return follow(filters, (t, payload) => {
      if (t === topic) applyLive(byName, payload)
      else if (t === parent) applyLive(new Map([[meta.name, self]]), payload)
    })
  })

  const list = entries.value
  return (
    <main id="main" class="kiosk">
      <header class="kiosk-head">
        <h1>{meta.name}</h1>
        {meta.type === ResourceType.controller && <Presence entry={self} />}
        <span class="spacer" />
        <LiveStatus />
        <a class="kiosk-exit" href={encodePath(path)}>
          Leave kiosk view
        </a>
      </header>
      {list === undefined && <p aria-busy="true">Loading…</p>}
      {list?.length === 0 && <p class="empty">Nothing live to show in this folder.</p>}
      <ul class="kiosk-tiles" aria-label={`Live values of ${meta.name}`}>
        {list?.map((entry) => (
          <KioskTile key={entry.item.id} entry={entry} path={`${path}/${entry.item.name}`} reloads={reloads.value} />
        ))}
      </ul>
    </main>
  )
}

/** The new listing, keeping the signals of entries already shown (their tiles and charts stay). */
function merged(old: KioskEntry[] | undefined, items: Listed[]): KioskEntry[] {
  const known = new Map((old ?? []).map((e) => [e.item.id, e]))
  return items.map((item) => {
    const entry = known.get(item.id)
    if (!entry) return { ...toEntry(item), points: signal<Point[]>([]) }
    const latest = item.last_value_timestamp ?? null
    if (latest && latest !== entry.value.peek().timestamp)
      entry.value.value = { value: item.last_value ?? null, timestamp: latest }
    entry.presence.value = { connected: !!item.connected, at: lastSeen(item) }
    return entry
  })
}

function KioskTile({ entry, path, reloads }: { entry: KioskEntry; path: string; reloads: number }) {
  const { item } = entry
  const settings = item.system_attributes ?? {}
  const numeric = item.type === ResourceType.sequence && settings.data_type === 1
  const labelId = `kiosk-${item.id}`

  // the chart's values: the last MAX_POINTS stored, then each live value (at most MAX_POINTS kept)
  useEffect(() => {
    if (!numeric) return
    let current = true
    api<{ timestamps: string[]; values: string[] }>(resourceUrl(path, `count=${MAX_POINTS}`))
      .then(({ timestamps, values }) => {
        if (!current) return
        const loaded = values
          .map((v, i) => ({ t: Date.parse(timestamps[i]!), v: Number(v) }))
          .filter((p) => Number.isFinite(p.v) && Number.isFinite(p.t))
        const newer = entry.points.peek().filter((p) => p.t > (loaded.at(-1)?.t ?? 0))
        entry.points.value = [...loaded, ...newer].slice(-MAX_POINTS)
      })
      .catch(() => {})
    return () => void (current = false)
  }, [path, reloads])
  useSignalEffect(() => {
    const { value, timestamp } = entry.value.value
    if (!numeric || value === null || !timestamp) return
    const point = { t: Date.parse(timestamp), v: Number(value) }
    const points = entry.points.peek()
    if (!Number.isFinite(point.v) || (points.length > 0 && point.t <= points.at(-1)!.t)) return
    entry.points.value = [...points.slice(-(MAX_POINTS - 1)), point]
  })

  return (
    <li class={`kiosk-tile type-${item.type}`} data-name={item.name} aria-labelledby={labelId}>
      <span class="kiosk-name" id={labelId}>
        {item.name}
      </span>
      {item.type === ResourceType.controller ? <Presence entry={entry} /> : <KioskValue entry={entry} path={path} />}
      {numeric && <Chart points={entry.points.value} name={item.name} />}
    </li>
  )
}

function KioskValue({ entry, path }: { entry: KioskEntry; path: string }) {
  const { value, timestamp } = entry.value.value
  const settings = entry.item.system_attributes ?? {}
  const units = typeof settings.units === 'string' ? settings.units : ''
  const image = settings.data_type === 3
  return (
    <>
      {image ? (
        timestamp && (
          <img
            class="kiosk-image"
            src={resourceUrl(path, `t=${encodeURIComponent(timestamp)}`)}
            alt={`${entry.item.name}, the latest image`}
          />
        )
      ) : (
        <span class={settings.data_type === 2 ? 'kiosk-value text' : 'kiosk-value'} data-testid="value">
          {formatValue(value, settings)}
          {units && value !== null && <span class="units"> {units}</span>}
        </span>
      )}
      <span class="muted">
        <When at={timestamp} never="No value yet" />
      </span>
    </>
  )
}

/** The values as a line across the tile (inline SVG, one point per value kept). */
function Chart({ points, name }: { points: Point[]; name: string }) {
  if (points.length < 2) return null
  const t0 = points[0]!.t
  const tSpan = points.at(-1)!.t - t0 || 1
  const values = points.map((p) => p.v)
  const min = Math.min(...values)
  const max = Math.max(...values)
  const vSpan = max - min || 1
  const line = points
    .map((p) => `${(((p.t - t0) / tSpan) * 100).toFixed(2)},${(38 - ((p.v - min) / vSpan) * 36).toFixed(2)}`)
    .join(' ')
  return (
    <svg
      class="kiosk-chart"
      viewBox="0 0 100 40"
      preserveAspectRatio="none"
      role="img"
      aria-label={`${name}: the last ${points.length} values, from ${min} to ${max}`}
    >
      <polyline points={line} fill="none" stroke="currentColor" stroke-width="2.5" vector-effect="non-scaling-stroke" />
    </svg>
  )
}

/** Keeps the screen on while the page is shown, where the browser offers a wake lock. */
function useWakeLock(): void {
  useEffect(() => {
    const wakeLock = (navigator as { wakeLock?: { request(type: 'screen'): Promise<{ release(): Promise<void> }> } })
      .wakeLock
    if (!wakeLock) return
    let held: { release(): Promise<void> } | undefined
    const take = () => {
      if (document.visibilityState === 'visible')
        wakeLock.request('screen').then(
          (lock) => (held = lock),
          () => {},
        )
    }
    take()
    document.addEventListener('visibilitychange', take) // the lock is released whenever the page is hidden
    return () => {
      document.removeEventListener('visibilitychange', take)
      void held?.release().catch(() => {})
    }
  }, [])
}
