// /<org>/<path…>: a folder's contents, live; or, for a sequence or a file, a short description of it.
import { useComputed, useSignal, useSignalEffect, type Signal } from '@preact/signals'
import { useEffect, useMemo } from 'preact/hooks'
import {
  ApiError,
  api,
  encodePath,
  isFolderType,
  resourceUrl,
  ResourceType,
  session,
  signInUrl,
  type Described,
  type Listed,
} from '../../api.ts'
import { Breadcrumb } from '../../components/Breadcrumb.tsx'
import { bytes, formatValue, localTime, timeAgo } from '../../format.ts'
import { follow } from '../../live.ts'
import { here, navigate } from '../../router.ts'
import { ControllerPanels, ControllerStatus } from '../controller/Controller.tsx'
import { OwnerTabLinks, OwnerTabView, ownerTabOf } from '../controller/OwnerTabs.tsx'
import { AdminTabLinks, AdminTabView, adminTabOf } from '../organization/AdminTabs.tsx'
import { NotFound } from '../not-found/NotFound.tsx'
import { FilePage } from '../file/File.tsx'
import { SequencePage } from '../sequence/Sequence.tsx'
import { Actions, ReaderActions } from './Actions.tsx'
import { Messages } from './Messages.tsx'
import {
  applyLive,
  saveView,
  savedView,
  sortEntries,
  toEntry,
  type Entry,
  type SortKey,
  type ViewMode,
} from './model.ts'
import { Tile } from './Tile.tsx'
import { useReloadOnReconnect } from '../../reconnect.ts'
import { ErrorAlert } from '../../components/ErrorAlert.tsx'

export function FolderPage({ path }: { path: string }) {
  const meta = useSignal<Described | null | undefined>(undefined)
  const error = useSignal('')
  useEffect(() => {
    meta.value = undefined
    error.value = ''
    document.title = `${path.split('/').pop()} · Tendril`
    api<Described>(resourceUrl(path, 'meta=1'))
      .then((described) => (meta.value = described))
      .catch((err: unknown) => {
        // not public (or not there): someone signed out may see it after signing in
        if (err instanceof ApiError && err.status === 404 && session.peek() === null)
          navigate(signInUrl(), { replace: true })
        else if (err instanceof ApiError && err.status === 404) meta.value = null
        else error.value = (err as Error).message
      })
  }, [path])
  if (error.value)
    return (
      <p class="error" role="alert">
        {error.value}
      </p>
    )
  if (meta.value === null) return <NotFound />
  if (meta.value === undefined) return <p aria-busy="true">Loading…</p>
  if (isFolderType(meta.value.type)) return <FolderView path={path} meta={meta.value} />
  if (meta.value.type === ResourceType.sequence) return <SequencePage path={path} meta={meta.value} />
  if (meta.value.type === ResourceType.file) return <FilePage path={path} meta={meta.value} />
  return <ResourceView path={path} meta={meta.value} />
}

/** the folder's entries (listed again on reload and after a reconnect), the selection, and live values and presence */
function useFolderEntries(path: string, meta: Described, self: Entry) {
  const entries = useSignal<Entry[] | undefined>(undefined)
  const error = useSignal('')
  const selected = useSignal<ReadonlySet<number>>(new Set())
  const reloads = useSignal(0)
  const topic = path.slice(1)

  useEffect(() => {
    let current = true
    api<Listed[]>(resourceUrl(path, 'extended=1'))
      .then((items) => {
        if (!current) return
        entries.value = items.map(toEntry)
        const ids = new Set(items.map((i) => i.id))
        selected.value = new Set([...selected.value].filter((id) => ids.has(id)))
      })
      .catch((err: Error) => current && (error.value = err.message))
    return () => void (current = false)
  }, [path, reloads.value])
  useReloadOnReconnect(() => reloads.value++) // what changed while the live connection was down

  // values and presence as they happen, on the folder's topic; a controller's own presence is told to its parent
  useSignalEffect(() => {
    const list = entries.value
    if (!list) return
    const byName = new Map(list.map((e) => [e.item.name, e]))
    const parent = topic.slice(0, topic.lastIndexOf('/'))
    const filters = meta.type === ResourceType.controller ? [topic, parent] : [topic]
    return follow(filters, (t, payload) => {
      if (t === topic) applyLive(byName, payload)
      else if (t === parent) applyLive(new Map([[meta.name, self]]), payload)
    })
  })
  return { entries, error, selected, reloads }
}

type Folder = ReturnType<typeof useFolderEntries>

function FolderView({ path, meta }: { path: string; meta: Described }) {
  const self = useMemo(() => toEntry(meta), [meta])
  const folder = useFolderEntries(path, meta, self)
  const view = useSignal(savedView()) // kept while the tabs change
  const requested = here.value.query.get('tab')
  const ownerTab = ownerTabOf(meta, requested)
  const adminTab = adminTabOf(meta, requested)
  // the message history needs a session (a public folder's visitor gets its contents)
  const signedIn = session.value !== null
  const tab = requested === 'messages' && signedIn ? 'messages' : (ownerTab ?? adminTab ?? 'contents')

  return (
    <>
      <Breadcrumb path={path} />
      <h1>{meta.name}</h1>
      {meta.type === ResourceType.controller && <ControllerStatus path={path} meta={meta} entry={self} />}
      <nav class="tabs" aria-label="Folder views">
        <a href={encodePath(path)} aria-current={tab === 'contents' ? 'page' : undefined}>
          Contents
        </a>
        {signedIn && (
          <a href={`${encodePath(path)}?tab=messages`} aria-current={tab === 'messages' ? 'page' : undefined}>
            Messages
          </a>
        )}
        <OwnerTabLinks path={path} meta={meta} current={tab} />
        <AdminTabLinks path={path} meta={meta} current={tab} />
      </nav>
      {tab === 'messages' ? (
        <Messages path={path} canSend={meta.access === 'write'} />
      ) : ownerTab ? (
        <OwnerTabView path={path} tab={ownerTab} />
      ) : adminTab ? (
        <AdminTabView path={path} meta={meta} tab={adminTab} />
      ) : (
        <Contents path={path} meta={meta} folder={folder} view={view} />
      )}
    </>
  )
}

type View = { mode: ViewMode; sort: SortKey }

interface ContentsProps {
  path: string
  meta: Described
  folder: Folder
  view: Signal<View>
}

function Contents({ path, meta, folder, view }: ContentsProps) {
  const { entries, error, selected, reloads } = folder
  const sorted = useComputed(() => (entries.value ? sortEntries(entries.value, view.value.sort) : []))
  const setView = (next: View) => {
    view.value = next
    saveView(next)
  }
  const select = (id: number, on: boolean) => {
    const next = new Set(selected.value)
    if (on) next.add(id)
    else next.delete(id)
    selected.value = next
  }
  return (
    <>
      {meta.type === ResourceType.controller && <ControllerPanels path={path} />}
      {session.value !== null && meta.access === 'write' && (
        <Actions
          path={path}
          entries={entries.value ?? []}
          selected={selected.value}
          onChanged={() => reloads.value++}
          onClearSelection={() => (selected.value = new Set())}
        />
      )}
      {(session.value === null || meta.access !== 'write') && (
        <ReaderActions path={path} entries={entries.value ?? []} selected={selected.value} />
      )}
      <ViewControls view={view.value} onChange={setView} />
      <ErrorAlert message={error.value} />
      {entries.value === undefined && !error.value && <p aria-busy="true">Loading…</p>}
      {entries.value?.length === 0 && <p class="empty">This folder is empty.</p>}
      <ul class={`entries ${view.value.mode}`} aria-label={`Contents of ${meta.name}`}>
        {sorted.value.map((entry) => (
          <Tile
            key={entry.item.id}
            entry={entry}
            folderPath={path}
            selected={selected.value.has(entry.item.id)}
            onSelect={(on) => select(entry.item.id, on)}
          />
        ))}
      </ul>
    </>
  )
}

function ViewControls({ view, onChange }: { view: View; onChange: (next: View) => void }) {
  return (
    <div class="view-controls" role="group" aria-label="View">
      <label>
        Sort by{' '}
        <select value={view.sort} onChange={(e) => onChange({ ...view, sort: e.currentTarget.value as SortKey })}>
          <option value="name">Name</option>
          <option value="type">Type</option>
          <option value="date">Date</option>
        </select>
      </label>
      <span class="toggle" role="group" aria-label="Layout">
        <button type="button" aria-pressed={view.mode === 'tiles'} onClick={() => onChange({ ...view, mode: 'tiles' })}>
          Tiles
        </button>
        <button type="button" aria-pressed={view.mode === 'list'} onClick={() => onChange({ ...view, mode: 'list' })}>
          List
        </button>
      </span>
    </div>
  )
}

function ResourceView({ path, meta }: { path: string; meta: Described }) {
  const settings = meta.system_attributes ?? {}
  const value = useSignal<string | null>(null)
  useEffect(() => {
    if (meta.type !== ResourceType.sequence || settings.data_type === 3) return
    fetch(resourceUrl(path), { credentials: 'same-origin' })
      .then((res) => (res.ok ? res.text() : null))
      .then((text) => (value.value = text))
      .catch(() => {})
  }, [path])
  const modified = meta.modification_timestamp
  return (
    <>
      <Breadcrumb path={path} />
      <h1>{meta.name}</h1>
      <section class="card">
        {meta.type === ResourceType.sequence ? (
          <p>
            Latest value: <strong data-testid="value">{formatValue(value.value, settings)}</strong>{' '}
            {typeof settings.units === 'string' ? settings.units : ''}
          </p>
        ) : (
          <p>Size: {bytes(meta.size)}</p>
        )}
        {modified && (
          <p>
            Modified{' '}
            <time dateTime={modified} title={localTime(modified)}>
              {timeAgo(modified)}
            </time>
          </p>
        )}
        <p>
          <a class="button" href={resourceUrl(path, 'download=1')} download>
            Download{meta.type === ResourceType.sequence ? ' (CSV)' : ''}
          </a>
        </p>
      </section>
      <p>
        <a href={encodePath(path.slice(0, path.lastIndexOf('/')))}>Back to the folder</a>
      </p>
    </>
  )
}
