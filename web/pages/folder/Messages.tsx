// A folder's Messages tab: its history (GET /api/v1/messages), new ones arriving live, pause and a
// filter by type (both in the address, so the view can be shared), and for writers a form to send one.
import { useSignal } from '@preact/signals'
import { useEffect, useRef } from 'preact/hooks'
import { api } from '../../api.ts'
import { localTime } from '../../format.ts'
import { follow } from '../../live.ts'
import { here, setQuery } from '../../router.ts'
import { ErrorAlert } from '../../components/ErrorAlert.tsx'

interface Message {
  key: number
  type: string
  timestamp: string
  parameters: unknown
}

/** Kept in memory at most: a busy folder must not grow the page without bound. */
const MAX_SHOWN = 500
let nextKey = 1

/** A JSON message as published on a folder topic, in rhizo's MQTT form or the websocket form. */
export function decodeMessage(payload: string): { type: string; parameters: unknown } | null {
  if (!payload.startsWith('{')) return null // values ("d,…"/"s,…" lines) are shown on the tiles
  try {
    const json = JSON.parse(payload) as Record<string, unknown>
    if (typeof json.type === 'string') return { type: json.type, parameters: json.parameters ?? {} }
    const [type, ...rest] = Object.keys(json)
    return type && rest.length === 0 ? { type, parameters: json[type] } : null
  } catch {
    return null
  }
}

/** canSend: the person may write here (sending needs write; a reader only reads the history) */
export function Messages({ path, canSend }: { path: string; canSend: boolean }) {
  const messages = useSignal<Message[]>([])
  const held = useSignal<Message[]>([])
  const error = useSignal('')
  const query = here.value.query
  const paused = query.get('paused') === '1'
  const filter = query.get('type') ?? ''
  const pausedRef = useRef(paused)
  pausedRef.current = paused

  useEffect(() => {
    api<{ id: number; type: string; timestamp: string; parameters: unknown }[]>(
      `/api/v1/messages?folder_path=${encodeURIComponent(path)}&count=100`,
    )
      .then(
        (history) =>
          (messages.value = history
            .reverse()
            .map((m) => ({ key: nextKey++, type: m.type, timestamp: m.timestamp, parameters: m.parameters }))),
      )
      .catch((err: Error) => (error.value = err.message))
    return follow([path.slice(1)], (_topic, payload) => {
      const decoded = decodeMessage(payload)
      if (!decoded) return
      const message = { key: nextKey++, ...decoded, timestamp: new Date().toISOString() }
      if (pausedRef.current) held.value = [message, ...held.value].slice(0, MAX_SHOWN)
      else messages.value = [message, ...messages.value].slice(0, MAX_SHOWN)
    })
  }, [path])

  const resume = () => {
    messages.value = [...held.value, ...messages.value].slice(0, MAX_SHOWN)
    held.value = []
    setQuery({ paused: null })
  }
  const shown = filter ? messages.value.filter((m) => m.type.includes(filter)) : messages.value

  return (
    <section aria-label="Messages">
      {canSend && <SendForm path={path} />}
      <div class="view-controls">
        <label>
          Type contains{' '}
          <input type="search" value={filter} onInput={(e) => setQuery({ type: e.currentTarget.value || null })} />
        </label>
        {paused ? (
          <button type="button" onClick={resume}>
            Resume{held.value.length ? ` (${held.value.length} new)` : ''}
          </button>
        ) : (
          <button type="button" onClick={() => setQuery({ paused: '1' })}>
            Pause
          </button>
        )}
      </div>
      <ErrorAlert message={error.value} />
      {shown.length === 0 && !error.value && <p class="empty">No messages{filter ? ' of that type' : ''} yet.</p>}
      <ol class="messages" aria-label="Messages, newest first" aria-live={paused ? 'off' : 'polite'}>
        {shown.map((m) => (
          <li key={m.key} class="card message">
            <strong class="type">{m.type}</strong>{' '}
            <time dateTime={m.timestamp} class="muted">
              {localTime(m.timestamp)}
            </time>
            <pre>{JSON.stringify(m.parameters)}</pre>
          </li>
        ))}
      </ol>
    </section>
  )
}

function SendForm({ path }: { path: string }) {
  const error = useSignal('')
  const sent = useSignal('')
  const busy = useSignal(false)
  const submit = async (event: Event) => {
    event.preventDefault()
    const form = event.currentTarget as HTMLFormElement
    const data = new FormData(form)
    const type = String(data.get('type') ?? '').trim()
    let parameters: unknown
    try {
      parameters = JSON.parse(String(data.get('parameters') || '{}'))
    } catch {
      error.value = 'Parameters must be JSON, for example {"seconds": 30}.'
      return
    }
    if (typeof parameters !== 'object' || parameters === null || Array.isArray(parameters)) {
      error.value = 'Parameters must be a JSON object, for example {"seconds": 30}.'
      return
    }
    busy.value = true
    error.value = ''
    sent.value = ''
    try {
      await api('/api/v1/messages', { method: 'POST', body: { folder_path: path, type, parameters } })
      sent.value = `Sent ${type}.`
    } catch (err) {
      error.value = (err as Error).message
    } finally {
      busy.value = false
    }
  }
  return (
    <form class="card send" onSubmit={submit} aria-label="Send a message">
      <h2>Send a message</h2>
      <label for="message-type">Type</label>
      <input id="message-type" name="type" required maxLength={40} placeholder="set_interval" />
      <label for="message-parameters">Parameters (JSON)</label>
      <textarea id="message-parameters" name="parameters" rows={3} placeholder='{"seconds": 30}' />
      <ErrorAlert message={error.value} />
      {sent.value && <p role="status">{sent.value}</p>}
      <div class="buttons">
        <button type="submit" class="primary" disabled={busy.value}>
          Send
        </button>
      </div>
    </form>
  )
}
