// /activity?org=…: everything arriving in an organization (<org>/#) as it happens: messages and
// stored values, pausable, filtered by folder and type (all in the URL), the newest 500 kept.
import { useSignal } from '@preact/signals'
import { useEffect, useRef } from 'preact/hooks'
import { encodePath, session } from '../../api.ts'
import { follow } from '../../live.ts'
import { here, setQuery } from '../../router.ts'
import { decodeMessage } from '../folder/Messages.tsx'

interface Arrival {
  key: number
  folder: string
  type: string
  text: string
  at: string
}

const MAX_SHOWN = 500
let nextKey = 1

/** What one publish on a topic says: a message, or each "d,"/"s," value line. */
function arrivalsOf(topic: string, payload: string): Omit<Arrival, 'key'>[] {
  const at = new Date().toISOString()
  const folder = '/' + topic
  const message = decodeMessage(payload)
  if (message) return [{ folder, type: message.type, text: JSON.stringify(message.parameters), at }]
  return payload
    .split('\n')
    .filter((line) => line.startsWith('d,'))
    .map((line) => {
      const [, name, , ...value] = line.split(',')
      return { folder, type: 'value', text: `${name} = ${value.join(',')}`, at }
    })
}

export function Activity() {
  const orgs = session.value?.organizations ?? []
  const query = here.value.query
  const org = query.get('org') ?? orgs[0]?.name ?? ''
  const folder = query.get('folder') ?? ''
  const type = query.get('type') ?? ''
  const paused = query.get('paused') === '1'
  const arrivals = useSignal<Arrival[]>([])
  const held = useSignal(0)
  const pausedRef = useRef(paused)
  pausedRef.current = paused

  useEffect(() => {
    document.title = `Activity · ${org} · Tendril`
    arrivals.value = []
    if (!org) return
    return follow([`${org}/#`], (topic, payload) => {
      if (pausedRef.current) return void held.value++
      const fresh = arrivalsOf(topic, payload).map((a) => ({ ...a, key: nextKey++ }))
      if (fresh.length) arrivals.value = [...fresh.reverse(), ...arrivals.value].slice(0, MAX_SHOWN)
    })
  }, [org])

  const shown = arrivals.value.filter(
    (a) => (!folder || a.folder.startsWith(folder)) && (!type || a.type.includes(type)),
  )
  return (
    <>
      <h1>Activity</h1>
      <div class="view-controls filters">
        <label>
          Organization{' '}
          <select value={org} onChange={(e) => setQuery({ org: e.currentTarget.value })}>
            {orgs.map((o) => (
              <option key={o.id} value={o.name}>
                {o.full_name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Folder starts with{' '}
          <input
            type="search"
            value={folder}
            placeholder={`/${org}/…`}
            onInput={(e) => setQuery({ folder: e.currentTarget.value || null })}
          />
        </label>
        <label>
          Type contains{' '}
          <input type="search" value={type} onInput={(e) => setQuery({ type: e.currentTarget.value || null })} />
        </label>
        {paused ? (
          <button type="button" onClick={() => ((held.value = 0), setQuery({ paused: null }))}>
            Resume{held.value ? ` (${held.value} missed)` : ''}
          </button>
        ) : (
          <button type="button" onClick={() => setQuery({ paused: '1' })}>
            Pause
          </button>
        )}
      </div>
      {shown.length === 0 && (
        <p class="empty">Nothing has arrived{folder || type ? ' that matches' : ''} since this page opened.</p>
      )}
      <ol class="messages" aria-label="Activity, newest first">
        {shown.map((a) => (
          <li key={a.key} class="card message">
            <strong class="type">{a.type}</strong> <a href={encodePath(a.folder)}>{a.folder}</a>{' '}
            <time dateTime={a.at} class="muted">
              {new Date(a.at).toLocaleTimeString()}
            </time>
            <pre>{a.text}</pre>
          </li>
        ))}
      </ol>
    </>
  )
}
