// /admin/controllers: every controller of the installation (rhizo's admin controllers page) with its
// presence, last connect, last watchdog and client version; sorted and filtered through the address
// (?q=, ?presence=, ?sort=, ?dir=), presence followed live and the rest refreshed every little while.
import { useSignal } from '@preact/signals'
import { useEffect } from 'preact/hooks'
import { api, encodePath } from '../../api.ts'
import { localTime, timeAgo } from '../../format.ts'
import { useReloadOnPresence } from '../../reconnect.ts'
import { here, setQuery } from '../../router.ts'
import { ErrorAlert } from '../../components/ErrorAlert.tsx'

interface Controller {
  id: number
  name: string
  path: string
  organization_id: number
  connected: boolean
  last_connect_timestamp: string | null
  last_watchdog_timestamp: string | null
  client_version: string
}

const REFRESH_MS = 15_000 // watchdog times change without a presence notice

const organizationOf = (c: Controller) => c.path.split('/')[1] ?? ''
const COLUMNS = [
  { id: 'name', title: 'Controller', key: (c: Controller) => c.path.toLowerCase() },
  { id: 'organization', title: 'Organization', key: (c: Controller) => organizationOf(c).toLowerCase() },
  { id: 'presence', title: 'Presence', key: (c: Controller) => (c.connected ? 0 : 1) },
  { id: 'connect', title: 'Last connect', key: (c: Controller) => c.last_connect_timestamp ?? '' },
  { id: 'watchdog', title: 'Last watchdog', key: (c: Controller) => c.last_watchdog_timestamp ?? '' },
  { id: 'version', title: 'Client version', key: (c: Controller) => c.client_version },
] as const

function sorted(list: Controller[], sort: string, descending: boolean): Controller[] {
  const column = COLUMNS.find((c) => c.id === sort) ?? COLUMNS[0]
  const compare = (a: Controller, b: Controller) => {
    const x = column.key(a)
    const y = column.key(b)
    return x < y ? -1 : x > y ? 1 : a.path.localeCompare(b.path)
  }
  return [...list].sort((a, b) => (descending ? -compare(a, b) : compare(a, b)))
}

function matches(c: Controller, text: string, presence: string): boolean {
  if (presence === 'online' && !c.connected) return false
  if (presence === 'offline' && c.connected) return false
  return !text || c.path.toLowerCase().includes(text) || c.client_version.toLowerCase().includes(text)
}

/** every controller, listed again every REFRESH_MS and when a presence notice arrives */
function useAllControllers() {
  const controllers = useSignal<Controller[] | undefined>(undefined)
  const error = useSignal('')
  const load = () =>
    api<Record<string, Controller>>('/api/v1/system/controllers')
      .then((all) => ((controllers.value = Object.values(all)), (error.value = '')))
      .catch((err: Error) => (error.value = err.message))
  useEffect(() => {
    document.title = 'Controllers · Administration · Tendril'
    void load()
    const timer = setInterval(load, REFRESH_MS)
    return () => clearInterval(timer)
  }, [])
  useReloadOnPresence(controllers.value?.map(organizationOf) ?? [], load)
  return { controllers, error }
}

export function Controllers() {
  const { controllers, error } = useAllControllers()
  const query = here.value.query
  const text = query.get('q') ?? ''
  const presence = query.get('presence') ?? 'all'
  const sort = query.get('sort') ?? 'name'
  const descending = query.get('dir') === 'desc'
  const shown = controllers.value
    ? sorted(
        controllers.value.filter((c) => matches(c, text.trim().toLowerCase(), presence)),
        sort,
        descending,
      )
    : undefined
  const online = controllers.value?.filter((c) => c.connected).length ?? 0

  return (
    <section aria-labelledby="controllers-heading">
      <h2 id="controllers-heading">Controllers</h2>
      <Filters text={text} presence={presence} />
      <ErrorAlert message={error.value} />
      {shown === undefined && !error.value && <p aria-busy="true">Loading…</p>}
      {shown && (
        <p class="hint" role="status">
          {shown.length} of {controllers.value!.length} controllers shown · {online} online
        </p>
      )}
      {shown && <ControllerTable shown={shown} sort={sort} descending={descending} />}
    </section>
  )
}

/** the filters live in the address (?q=, ?presence=), so a filtered list can be bookmarked or shared */
function Filters({ text, presence }: { text: string; presence: string }) {
  return (
    <div class="filters-bar" role="search">
      <div>
        <label for="controller-filter">Filter by name, path or version</label>
        <input
          id="controller-filter"
          type="search"
          value={text}
          onInput={(e) => setQuery({ q: (e.currentTarget as HTMLInputElement).value || null })}
        />
      </div>
      <div>
        <label for="controller-presence">Presence</label>
        <select
          id="controller-presence"
          value={presence}
          onChange={(e) =>
            setQuery({
              presence:
                (e.currentTarget as HTMLSelectElement).value === 'all'
                  ? null
                  : (e.currentTarget as HTMLSelectElement).value,
            })
          }
        >
          <option value="all">All</option>
          <option value="online">Online</option>
          <option value="offline">Offline</option>
        </select>
      </div>
    </div>
  )
}

function ControllerTable({ shown, sort, descending }: { shown: Controller[]; sort: string; descending: boolean }) {
  const sortBy = (id: string) =>
    setQuery({ sort: id === 'name' ? null : id, dir: id === sort && !descending ? 'desc' : null })
  return (
    <table class="rows sortable" aria-label="Controllers">
      <thead>
        <tr>
          {COLUMNS.map((column) => (
            <th key={column.id} aria-sort={column.id === sort ? (descending ? 'descending' : 'ascending') : undefined}>
              <button type="button" onClick={() => sortBy(column.id)}>
                {column.title}
                {column.id === sort ? (descending ? ' ▼' : ' ▲') : ''}
              </button>
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {shown.map((c) => (
          <ControllerRow key={c.id} c={c} />
        ))}
      </tbody>
    </table>
  )
}

function ControllerRow({ c }: { c: Controller }) {
  return (
    <tr data-path={c.path}>
      <td data-label="Controller">
        <a href={encodePath(c.path)}>{c.path.split('/').slice(2).join('/')}</a>
      </td>
      <td data-label="Organization">{organizationOf(c)}</td>
      <td data-label="Presence">
        <span class={`status ${c.connected ? 'online' : 'offline'}`}>
          <span class="dot" aria-hidden="true" />
          {c.connected ? 'Online' : 'Offline'}
        </span>
      </td>
      <td data-label="Last connect" title={c.last_connect_timestamp ? localTime(c.last_connect_timestamp) : undefined}>
        {timeAgo(c.last_connect_timestamp)}
      </td>
      <td
        data-label="Last watchdog"
        title={c.last_watchdog_timestamp ? localTime(c.last_watchdog_timestamp) : undefined}
      >
        {timeAgo(c.last_watchdog_timestamp)}
      </td>
      <td data-label="Client version">{c.client_version || '—'}</td>
    </tr>
  )
}
