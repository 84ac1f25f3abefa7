// A controller's settings tab: its watchdog (system attributes watchdog_minutes and
// watchdog_recipients, checked by core/resources/watchdog.ts; null removes one) and its user
// attributes as name/value rows (PUT user_attributes replaces the whole object).
import { useSignal } from '@preact/signals'
import { useEffect } from 'preact/hooks'
import { api, resourceUrl, type Described } from '../../api.ts'

interface Row {
  id: number
  name: string
  value: string
}
let nextRow = 1

/**
 * Text values stay text; anything else (a number, a list) is shown as JSON and read back as JSON while it still parses.
 */
const rowsOf = (attributes: Record<string, unknown>): Row[] =>
  Object.entries(attributes).map(([name, value]) => ({
    id: nextRow++,
    name,
    value: typeof value === 'string' ? value : JSON.stringify(value),
  }))

function valueOf(text: string, before: unknown): unknown {
  if (typeof before === 'string' || before === undefined) return text
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

function useSaver() {
  const busy = useSignal(false)
  const result = useSignal<{ ok: boolean; text: string } | null>(null)
  const save = async (work: () => Promise<unknown>, done: string) => {
    busy.value = true
    result.value = null
    try {
      await work()
      result.value = { ok: true, text: done }
    } catch (err) {
      result.value = { ok: false, text: (err as Error).message }
    } finally {
      busy.value = false
    }
  }
  return { busy, result, save }
}

function Result({ result }: { result: { ok: boolean; text: string } | null }) {
  if (!result) return <p role="status" />
  return result.ok ? (
    <p role="status" class="ok">
      {result.text}
    </p>
  ) : (
    <p role="alert" class="error">
      {result.text}
    </p>
  )
}

/** Read afresh on each visit: the page's own meta was read when it opened, before any save here. */
export function ControllerSettings({ path }: { path: string }) {
  const meta = useSignal<Described | null>(null)
  const error = useSignal('')
  useEffect(() => {
    api<Described>(resourceUrl(path, 'meta=1'))
      .then((m) => (meta.value = m))
      .catch((err: Error) => (error.value = err.message))
  }, [path])
  if (error.value)
    return (
      <p class="error" role="alert">
        {error.value}
      </p>
    )
  if (!meta.value) return <p aria-busy="true">Loading…</p>
  return (
    <div class="controller-admin">
      <WatchdogForm path={path} attributes={meta.value.system_attributes ?? {}} />
      <AttributesForm
        path={path}
        attributes={(meta.value as { user_attributes?: Record<string, unknown> }).user_attributes ?? {}}
      />
    </div>
  )
}

function WatchdogForm({ path, attributes }: { path: string; attributes: Record<string, unknown> }) {
  const { busy, result, save } = useSaver()
  const submit = (event: Event) => {
    event.preventDefault()
    const form = new FormData(event.currentTarget as HTMLFormElement)
    const minutes = Number(form.get('minutes') || 0)
    const recipients = String(form.get('recipients') ?? '').trim()
    const system_attributes = {
      watchdog_minutes: minutes > 0 ? minutes : null,
      watchdog_recipients: recipients || null,
    }
    void save(
      () => api(resourceUrl(path), { method: 'PUT', body: { system_attributes } }),
      minutes > 0 ? 'Watchdog saved.' : 'Watchdog saved: it is off.',
    )
  }
  return (
    <section class="card" aria-labelledby="watchdog-title">
      <h2 id="watchdog-title">Watchdog</h2>
      <p class="hint">
        When the controller sends no watchdog message for this long, the recipients are told once that it is offline.
      </p>
      <form onSubmit={submit}>
        <label for="watchdog-minutes">Minutes without a watchdog message (0: off)</label>
        <input
          id="watchdog-minutes"
          name="minutes"
          type="number"
          min={0}
          step={1}
          inputMode="numeric"
          defaultValue={String(attributes.watchdog_minutes ?? 0)}
        />
        <label for="watchdog-recipients">Recipients</label>
        <input
          id="watchdog-recipients"
          name="recipients"
          defaultValue={String(attributes.watchdog_recipients ?? '')}
          aria-describedby="watchdog-recipients-hint"
        />
        <p id="watchdog-recipients-hint" class="hint">
          Email addresses or phone numbers (text messages), separated by commas; at most 10.
        </p>
        <div class="buttons">
          <button type="submit" class="primary" disabled={busy.value}>
            Save watchdog
          </button>
        </div>
        <Result result={result.value} />
      </form>
    </section>
  )
}

function AttributesForm({ path, attributes }: { path: string; attributes: Record<string, unknown> }) {
  const rows = useSignal<Row[]>(rowsOf(attributes))
  const saved = useSignal(attributes)
  const { busy, result, save } = useSaver()
  const edit = (id: number, change: Partial<Row>) =>
    (rows.value = rows.value.map((r) => (r.id === id ? { ...r, ...change } : r)))
  const submit = (event: Event) => {
    event.preventDefault()
    const named = rows.value.filter((r) => r.name.trim())
    const next = Object.fromEntries(named.map((r) => [r.name.trim(), valueOf(r.value, saved.value[r.name.trim()])]))
    void save(async () => {
      await api(resourceUrl(path), { method: 'PUT', body: { user_attributes: next } })
      saved.value = next
    }, 'Attributes saved.')
  }
  return (
    <section class="card" aria-labelledby="attributes-title">
      <h2 id="attributes-title">Attributes</h2>
      <p class="hint">
        Your own notes about this controller (room, owner, …), as names and values. A row without a name is removed.
      </p>
      <form onSubmit={submit}>
        {rows.value.length === 0 && <p class="empty">No attributes yet.</p>}
        <ul class="attribute-rows">
          {rows.value.map((r, i) => (
            <li key={r.id}>
              <label for={`attr-name-${r.id}`}>Name {i + 1}</label>
              <input
                id={`attr-name-${r.id}`}
                value={r.name}
                maxLength={100}
                onInput={(e) => edit(r.id, { name: e.currentTarget.value })}
              />
              <label for={`attr-value-${r.id}`}>Value {i + 1}</label>
              <input
                id={`attr-value-${r.id}`}
                value={r.value}
                onInput={(e) => edit(r.id, { value: e.currentTarget.value })}
              />
              <button
                type="button"
                onClick={() => (rows.value = rows.value.filter((x) => x.id !== r.id))}
                aria-label={`Remove attribute ${r.name || i + 1}`}
              >
                Remove
              </button>
            </li>
          ))}
        </ul>
        <div class="buttons">
          <button type="button" onClick={() => (rows.value = [...rows.value, { id: nextRow++, name: '', value: '' }])}>
            Add attribute
          </button>
          <button type="submit" class="primary" disabled={busy.value}>
            Save attributes
          </button>
        </div>
        <Result result={result.value} />
      </form>
    </section>
  )
}
