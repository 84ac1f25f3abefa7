// The folder toolbar's dialogs: new folder, controller or sequence; rename or move one entry; delete
// the selection after confirming. One dialog is open at a time and they share its busy and error state.
import { useSignal, type Signal } from '@preact/signals'
import { api, resourceUrl, ResourceType } from '../../api.ts'
import { Dialog } from '../../components/Dialog.tsx'
import type { Entry } from './model.ts'
import { ErrorAlert } from '../../components/ErrorAlert.tsx'

export type Open = null | 'folder' | 'controller' | 'sequence' | 'delete' | 'rename' | 'move'

export interface Dialogs {
  open: Signal<Open>
  error: Signal<string>
  busy: Signal<boolean>
  close: () => void
  /** runs a change; on success the dialog closes and the folder reloads, on failure it shows why */
  run: (work: () => Promise<unknown>) => Promise<void>
}

export function useDialogs(onChanged: () => void): Dialogs {
  const open = useSignal<Open>(null)
  const error = useSignal('')
  const busy = useSignal(false)
  const close = () => {
    open.value = null
    error.value = ''
  }
  const run = async (work: () => Promise<unknown>) => {
    busy.value = true
    error.value = ''
    try {
      await work()
      close()
      onChanged()
    } catch (err) {
      error.value = (err as Error).message
    } finally {
      busy.value = false
    }
  }
  return { open, error, busy, close, run }
}

/** The POST body for a new entry of the form; a sequence's optional fields only when filled in. */
function newResourceBody(path: string, form: FormData, type: number): Record<string, unknown> {
  const body: Record<string, unknown> = { path, name: String(form.get('name') ?? '').trim(), type }
  if (type === ResourceType.sequence) {
    body.data_type = Number(form.get('data_type'))
    const units = String(form.get('units') ?? '').trim()
    if (units) body.units = units
    const places = String(form.get('decimal_places') ?? '')
    if (places !== '') body.decimal_places = Number(places)
  }
  return body
}

interface CreateProps {
  path: string
  dialogs: Dialogs
  /** after a controller is made: its first key is made and shown */
  onController: (controllerPath: string) => Promise<void>
}

function createHandler({ path, dialogs, onController }: CreateProps) {
  return (event: Event, type: number) => {
    event.preventDefault()
    const body = newResourceBody(path, new FormData(event.currentTarget as HTMLFormElement), type)
    void dialogs.run(async () => {
      await api('/api/v1/resources', { method: 'POST', body })
      if (type === ResourceType.controller) await onController(`${path}/${String(body.name)}`)
    })
  }
}

export function NewFolderDialog(props: CreateProps) {
  const { dialogs } = props
  const create = createHandler(props)
  return (
    <Dialog title="New folder" open={dialogs.open.value === 'folder'} onClose={dialogs.close}>
      <form onSubmit={(e) => create(e, ResourceType.folder)}>
        <label for="new-name">Name</label>
        <input id="new-name" name="name" required autoFocus />
        <DialogButtons dialogs={dialogs} label="Create folder" />
      </form>
    </Dialog>
  )
}

export function NewControllerDialog(props: CreateProps) {
  const { dialogs } = props
  const create = createHandler(props)
  return (
    <Dialog title="New controller" open={dialogs.open.value === 'controller'} onClose={dialogs.close}>
      <form onSubmit={(e) => create(e, ResourceType.controller)}>
        <label for="new-name">Name</label>
        <input id="new-name" name="name" required autoFocus />
        <p class="hint">It gets its log and status/ sequences, and a key that is shown once, next.</p>
        <DialogButtons dialogs={dialogs} label="Create controller" />
      </form>
    </Dialog>
  )
}

export function NewSequenceDialog(props: CreateProps) {
  const { dialogs } = props
  const create = createHandler(props)
  return (
    <Dialog title="New sequence" open={dialogs.open.value === 'sequence'} onClose={dialogs.close}>
      <form onSubmit={(e) => create(e, ResourceType.sequence)}>
        <label for="new-name">Name</label>
        <input id="new-name" name="name" required autoFocus />
        <label for="new-type">Kind of values</label>
        <select id="new-type" name="data_type">
          <option value="1">Numbers</option>
          <option value="2">Text</option>
          <option value="3">Images</option>
        </select>
        <label for="new-units">Units (optional)</label>
        <input id="new-units" name="units" maxLength={20} placeholder="°C" />
        <label for="new-places">Decimal places (optional)</label>
        <input id="new-places" name="decimal_places" type="number" min={0} max={10} />
        <DialogButtons dialogs={dialogs} label="Create sequence" />
      </form>
    </Dialog>
  )
}

interface SelectionProps {
  path: string
  chosen: Entry[]
  dialogs: Dialogs
  onClearSelection: () => void
}

// rename or move the one selected entry (PUT name= / parent=); the server checks the name and the place
function changeHandler({ path, chosen, dialogs, onClearSelection }: SelectionProps) {
  return (event: Event, field: 'name' | 'parent') => {
    event.preventDefault()
    const value = String(new FormData(event.currentTarget as HTMLFormElement).get(field) ?? '').trim()
    void dialogs.run(async () => {
      await api(resourceUrl(`${path}/${chosen[0]!.item.name}`), { method: 'PUT', body: { [field]: value } })
      onClearSelection()
    })
  }
}

export function RenameDialog(props: SelectionProps) {
  const { chosen, dialogs } = props
  const change = changeHandler(props)
  return (
    <Dialog
      title={`Rename “${chosen[0]?.item.name ?? ''}”`}
      open={dialogs.open.value === 'rename' && chosen.length === 1}
      onClose={dialogs.close}
    >
      <form onSubmit={(e) => change(e, 'name')}>
        <label for="new-name">New name</label>
        <input id="new-name" name="name" required autoFocus defaultValue={chosen[0]?.item.name} />
        <DialogButtons dialogs={dialogs} label="Rename" />
      </form>
    </Dialog>
  )
}

export function MoveDialog(props: SelectionProps) {
  const { path, chosen, dialogs } = props
  const change = changeHandler(props)
  return (
    <Dialog
      title={`Move “${chosen[0]?.item.name ?? ''}”`}
      open={dialogs.open.value === 'move' && chosen.length === 1}
      onClose={dialogs.close}
    >
      <form onSubmit={(e) => change(e, 'parent')}>
        <label for="move-to">To the folder (its path)</label>
        <input id="move-to" name="parent" required autoFocus defaultValue={path} />
        <DialogButtons dialogs={dialogs} label="Move" />
      </form>
    </Dialog>
  )
}

export function DeleteDialog({ path, chosen, dialogs, onClearSelection }: SelectionProps) {
  const remove = () =>
    dialogs.run(async () => {
      for (const entry of chosen) await api(resourceUrl(`${path}/${entry.item.name}`), { method: 'DELETE' })
      onClearSelection()
    })
  return (
    <Dialog
      title={`Delete ${chosen.length === 1 ? `“${chosen[0]!.item.name}”` : `${chosen.length} items`}?`}
      open={dialogs.open.value === 'delete'}
      onClose={dialogs.close}
    >
      <p>
        {chosen.some((e) => e.item.type < 20) ? 'Folders are deleted with everything in them. ' : ''}
        This cannot be undone from the web page.
      </p>
      <ul class="to-delete">
        {chosen.map((e) => (
          <li key={e.item.id}>{e.item.name}</li>
        ))}
      </ul>
      <form
        onSubmit={(e) => {
          e.preventDefault()
          void remove()
        }}
      >
        <DialogButtons dialogs={dialogs} label="Delete" danger />
      </form>
    </Dialog>
  )
}

function DialogButtons({ dialogs, label, danger }: { dialogs: Dialogs; label: string; danger?: boolean }) {
  const { busy, error, close } = dialogs
  return (
    <>
      <ErrorAlert message={error.value} />
      <div class="buttons">
        <button type="button" onClick={close}>
          Cancel
        </button>
        <button type="submit" class={danger ? 'danger' : 'primary'} disabled={busy.value}>
          {label}
        </button>
      </div>
    </>
  )
}
