// A sequence's settings (units, decimal places, max history, min storage interval), saved with PUT;
// "delete data" removes every value, after the person types the sequence's name. Readers see the
// settings as text: the API would refuse their changes anyway (403).
import { useSignal, type Signal } from '@preact/signals'
import { Fragment } from 'preact'
import { api, resourceUrl, type Described } from '../../api.ts'
import { Dialog } from '../../components/Dialog.tsx'

const FIELDS = [
  ['units', 'Units', 'text', 'e.g. °C'],
  ['decimal_places', 'Decimal places', 'number', 'as sent'],
  ['max_history', 'Max history (values kept)', 'number', 'no limit'],
  ['min_storage_interval', 'Min storage interval (seconds)', 'number', '0'],
] as const

/** the settings as text, for those who may read the sequence but not change it */
function ReadOnlySettings({ meta }: { meta: Described }) {
  const attrs = meta.system_attributes ?? {}
  return (
    <details class="card settings">
      <summary>Settings</summary>
      <dl class="figures settings-list">
        {FIELDS.map(([key, label, , unset]) => (
          <Fragment key={key}>
            <dt>{label}</dt>
            <dd>
              {attrs[key] === undefined || attrs[key] === null || attrs[key] === ''
                ? unset.replace(/^e\.g\. .*/, 'none')
                : String(attrs[key])}
            </dd>
          </Fragment>
        ))}
      </dl>
      <p class="note">You can read this sequence but not change its settings or data.</p>
    </details>
  )
}

export function Settings({ path, meta }: { path: string; meta: Described }) {
  return meta.access === 'write' ? <SettingsForm path={path} meta={meta} /> : <ReadOnlySettings meta={meta} />
}

/** the attributes to save: the form's fields over the others; a string says which field is wrong */
function attributesFrom(
  values: Record<string, string>,
  attrs: Record<string, unknown>,
): Record<string, unknown> | string {
  const next: Record<string, unknown> = { ...attrs }
  for (const [key, , type] of FIELDS) {
    const v = values[key]!.trim()
    if (v === '') delete next[key]
    else if (type === 'number') {
      const n = Number(v)
      if (!Number.isFinite(n) || n < 0) return `${key.replace(/_/g, ' ')} must be a number of 0 or more.`
      next[key] = n
    } else next[key] = v
  }
  return next
}

type Status = { ok: boolean; text: string } | null

function SettingsForm({ path, meta }: { path: string; meta: Described }) {
  const attrs = meta.system_attributes ?? {}
  const values = useSignal<Record<string, string>>(
    Object.fromEntries(FIELDS.map(([k]) => [k, attrs[k] === undefined || attrs[k] === null ? '' : String(attrs[k])])),
  )
  const status = useSignal<Status>(null)
  const deleting = useSignal(false)
  const typed = useSignal('')
  const saving = useSignal(false)

  async function save(e: Event) {
    e.preventDefault()
    const next = attributesFrom(values.value, attrs)
    if (typeof next === 'string') return void (status.value = { ok: false, text: next })
    saving.value = true
    try {
      await api(resourceUrl(path), { method: 'PUT', body: { system_attributes: next } })
      Object.assign(attrs, next)
      status.value = { ok: true, text: 'Settings saved.' }
    } catch (err) {
      status.value = {
        ok: false,
        text:
          (err as { status?: number }).status === 403
            ? 'You can read this sequence but not change it.'
            : `Not saved: ${(err as Error).message}`,
      }
    } finally {
      saving.value = false
    }
  }

  return (
    <details class="card settings">
      <summary>Settings</summary>
      <form onSubmit={save}>
        <div class="settings-grid">
          {FIELDS.map(([key, label, type, placeholder]) => (
            <label key={key}>
              {label}
              <input
                inputMode={type === 'number' ? 'decimal' : undefined}
                placeholder={placeholder}
                value={values.value[key] ?? ''}
                onInput={(e) => (values.value = { ...values.value, [key]: e.currentTarget.value })}
              />
            </label>
          ))}
        </div>
        <div class="buttons">
          <button type="submit" class="primary" disabled={saving.value}>
            Save settings
          </button>
          <button type="button" class="danger" onClick={() => ((typed.value = ''), (deleting.value = true))}>
            Delete data…
          </button>
        </div>
        {status.value && (
          <p class={status.value.ok ? 'note' : 'error'} role={status.value.ok ? 'status' : 'alert'}>
            {status.value.text}
          </p>
        )}
      </form>
      <DeleteData path={path} name={meta.name} deleting={deleting} typed={typed} status={status} />
    </details>
  )
}

interface DeleteProps {
  path: string
  name: string
  deleting: Signal<boolean>
  /** what the person typed to confirm, emptied each time the dialog opens */
  typed: Signal<string>
  status: Signal<Status>
}

/** every value goes, once the person has typed the sequence's name */
function DeleteData({ path, name, deleting, typed, status }: DeleteProps) {
  async function deleteData() {
    try {
      await api(resourceUrl(path, 'data_only=1'), { method: 'DELETE' })
      deleting.value = false
      location.reload()
    } catch (err) {
      deleting.value = false
      status.value = { ok: false, text: `Not deleted: ${(err as Error).message}` }
    }
  }
  return (
    <Dialog title={`Delete every value of ${name}?`} open={deleting.value} onClose={() => (deleting.value = false)}>
      <p>The sequence stays; all its stored values go, and cannot be brought back.</p>
      <label>
        Type <strong>{name}</strong> to confirm
        <input value={typed.value} onInput={(e) => (typed.value = e.currentTarget.value)} autocomplete="off" />
      </label>
      <div class="buttons">
        <button type="button" onClick={() => (deleting.value = false)}>
          Cancel
        </button>
        <button type="button" class="danger" disabled={typed.value !== name} onClick={() => void deleteData()}>
          Delete all values
        </button>
      </div>
    </Dialog>
  )
}
