// What a person can do in a folder: new folder or sequence, upload (chooser or drag and drop, with
// progress), download the selected entries as a zip, rename or move one, delete them after confirming.
import { useSignal } from '@preact/signals'
import { useEffect, useRef } from 'preact/hooks'
import { api, resourceUrl, ResourceType } from '../../api.ts'
import { Dialog } from '../../components/Dialog.tsx'
import { bytes } from '../../format.ts'
import { createControllerKey, KeyReveal, type Revealed } from '../controller/KeyReveal.tsx'
import type { Entry } from './model.ts'
import { uploadFile, type Upload } from './upload.ts'

type Open = null | 'folder' | 'controller' | 'sequence' | 'delete' | 'rename' | 'move'

interface Props {
  path: string
  entries: Entry[]
  selected: ReadonlySet<number>
  onChanged: () => void
  onClearSelection: () => void
}

/** A reader's toolbar: the selection can be downloaded, nothing changed (the API would refuse it anyway). */
export function ReaderActions({ path, entries, selected }: Pick<Props, 'path' | 'entries' | 'selected'>) {
  const chosen = entries.filter((e) => selected.has(e.item.id))
  if (chosen.length === 0) return null
  return (
    <div class="actions" role="toolbar" aria-label="Folder actions">
      <a class="button" href={resourceUrl(path, `download=1&ids=${chosen.map((e) => e.item.id).join(',')}`)} download>
        Download {chosen.length} as zip
      </a>
    </div>
  )
}

export function Actions({ path, entries, selected, onChanged, onClearSelection }: Props) {
  const open = useSignal<Open>(null)
  const error = useSignal('')
  const busy = useSignal(false)
  const uploads = useSignal<Upload[]>([])
  const dragging = useSignal(false)
  const revealed = useSignal<Revealed | null>(null)
  const keyProblem = useSignal('')
  const chooser = useRef<HTMLInputElement>(null)
  const chosen = entries.filter((e) => selected.has(e.item.id))

  const startUploads = (files: FileList | File[]) => {
    const started = Array.from(files).map((file) => uploadFile(path, file, onChanged))
    uploads.value = [...uploads.value.filter((u) => u.state.value === 'sending'), ...started]
  }

  // a file dropped anywhere on the folder's page is uploaded into it
  useEffect(() => {
    const hasFiles = (e: DragEvent) => Array.from(e.dataTransfer?.types ?? []).includes('Files')
    const over = (e: DragEvent) => {
      if (!hasFiles(e)) return
      e.preventDefault()
      dragging.value = true
    }
    const leave = (e: DragEvent) => {
      if (e.relatedTarget === null) dragging.value = false
    }
    const drop = (e: DragEvent) => {
      if (!hasFiles(e)) return
      e.preventDefault()
      dragging.value = false
      if (e.dataTransfer?.files.length) startUploads(e.dataTransfer.files)
    }
    document.addEventListener('dragover', over)
    document.addEventListener('dragleave', leave)
    document.addEventListener('drop', drop)
    return () => {
      document.removeEventListener('dragover', over)
      document.removeEventListener('dragleave', leave)
      document.removeEventListener('drop', drop)
    }
  }, [path])

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
  const create = (event: Event, type: number) => {
    event.preventDefault()
    const form = new FormData(event.currentTarget as HTMLFormElement)
    const body: Record<string, unknown> = { path, name: String(form.get('name') ?? '').trim(), type }
    if (type === ResourceType.sequence) {
      body.data_type = Number(form.get('data_type'))
      const units = String(form.get('units') ?? '').trim()
      if (units) body.units = units
      const places = String(form.get('decimal_places') ?? '')
      if (places !== '') body.decimal_places = Number(places)
    }
    void run(async () => {
      await api('/api/v1/resources', { method: 'POST', body })
      if (type === ResourceType.controller) await revealKey(`${path}/${String(body.name)}`)
    })
  }
  // a new controller's first key, shown once; the folder stays made if the key cannot be (say so)
  const revealKey = async (controllerPath: string) => {
    keyProblem.value = ''
    try {
      revealed.value = await createControllerKey(controllerPath)
    } catch (err) {
      keyProblem.value = `The controller was made, but not its key: ${(err as Error).message}`
    }
  }
  const remove = () =>
    run(async () => {
      for (const entry of chosen) await api(resourceUrl(`${path}/${entry.item.name}`), { method: 'DELETE' })
      onClearSelection()
    })
  // rename or move the one selected entry (PUT name= / parent=); the server checks the name and the place
  const change = (event: Event, field: 'name' | 'parent') => {
    event.preventDefault()
    const value = String(new FormData(event.currentTarget as HTMLFormElement).get(field) ?? '').trim()
    void run(async () => {
      await api(resourceUrl(`${path}/${chosen[0]!.item.name}`), { method: 'PUT', body: { [field]: value } })
      onClearSelection()
    })
  }
  const zipUrl = resourceUrl(path, `download=1&ids=${chosen.map((e) => e.item.id).join(',')}`)

  return (
    <>
      <div class="actions" role="toolbar" aria-label="Folder actions">
        <button type="button" onClick={() => (open.value = 'folder')}>
          New folder
        </button>
        <button type="button" onClick={() => (open.value = 'controller')}>
          New controller
        </button>
        <button type="button" onClick={() => (open.value = 'sequence')}>
          New sequence
        </button>
        <button type="button" onClick={() => chooser.current?.click()}>
          Upload files
        </button>
        <input
          ref={chooser}
          type="file"
          multiple
          hidden
          aria-label="Files to upload"
          onChange={(e) => e.currentTarget.files && startUploads(e.currentTarget.files)}
        />
        {chosen.length === 1 && (
          <>
            <button type="button" onClick={() => (open.value = 'rename')}>
              Rename…
            </button>
            <button type="button" onClick={() => (open.value = 'move')}>
              Move…
            </button>
          </>
        )}
        {chosen.length > 0 && (
          <>
            <a class="button" href={zipUrl} download>
              Download {chosen.length} as zip
            </a>
            <button type="button" class="danger" onClick={() => (open.value = 'delete')}>
              Delete {chosen.length}…
            </button>
          </>
        )}
      </div>
      <p class="hint">Drop files anywhere on this page to upload them here.</p>
      {keyProblem.value && (
        <p class="error" role="alert">
          {keyProblem.value}
        </p>
      )}
      <KeyReveal revealed={revealed.value} onClose={() => (revealed.value = null)} />
      {dragging.value && (
        <div class="drop-overlay" aria-hidden="true">
          Drop to upload to {path.split('/').pop()}
        </div>
      )}
      {uploads.value.length > 0 && (
        <ul class="uploads" aria-label="Uploads">
          {uploads.value.map((u) => (
            <li key={u.id} class={`upload ${u.state.value}`}>
              <label>
                <span class="name">{u.name}</span>
                <progress
                  max={u.size || 1}
                  value={u.state.value === 'done' ? u.size || 1 : u.sent.value}
                  aria-label={`Upload of ${u.name}`}
                />
              </label>
              <span role={u.state.value === 'failed' ? 'alert' : 'status'}>
                {u.state.value === 'sending' ? `${bytes(u.sent.value)} of ${bytes(u.size)}` : u.message.value}
              </span>
            </li>
          ))}
        </ul>
      )}
      <Dialog title="New folder" open={open.value === 'folder'} onClose={close}>
        <form onSubmit={(e) => create(e, ResourceType.folder)}>
          <label for="new-name">Name</label>
          <input id="new-name" name="name" required autoFocus />
          <DialogButtons busy={busy.value} error={error.value} onCancel={close} label="Create folder" />
        </form>
      </Dialog>
      <Dialog title="New controller" open={open.value === 'controller'} onClose={close}>
        <form onSubmit={(e) => create(e, ResourceType.controller)}>
          <label for="new-name">Name</label>
          <input id="new-name" name="name" required autoFocus />
          <p class="hint">It gets its log and status/ sequences, and a key that is shown once, next.</p>
          <DialogButtons busy={busy.value} error={error.value} onCancel={close} label="Create controller" />
        </form>
      </Dialog>
      <Dialog
        title={`Rename “${chosen[0]?.item.name ?? ''}”`}
        open={open.value === 'rename' && chosen.length === 1}
        onClose={close}
      >
        <form onSubmit={(e) => change(e, 'name')}>
          <label for="new-name">New name</label>
          <input id="new-name" name="name" required autoFocus defaultValue={chosen[0]?.item.name} />
          <DialogButtons busy={busy.value} error={error.value} onCancel={close} label="Rename" />
        </form>
      </Dialog>
      <Dialog
        title={`Move “${chosen[0]?.item.name ?? ''}”`}
        open={open.value === 'move' && chosen.length === 1}
        onClose={close}
      >
        <form onSubmit={(e) => change(e, 'parent')}>
          <label for="move-to">To the folder (its path)</label>
          <input id="move-to" name="parent" required autoFocus defaultValue={path} />
          <DialogButtons busy={busy.value} error={error.value} onCancel={close} label="Move" />
        </form>
      </Dialog>
      <Dialog title="New sequence" open={open.value === 'sequence'} onClose={close}>
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
          <DialogButtons busy={busy.value} error={error.value} onCancel={close} label="Create sequence" />
        </form>
      </Dialog>
      <Dialog
        title={`Delete ${chosen.length === 1 ? `“${chosen[0]!.item.name}”` : `${chosen.length} items`}?`}
        open={open.value === 'delete'}
        onClose={close}
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
          <DialogButtons busy={busy.value} error={error.value} onCancel={close} label="Delete" danger />
        </form>
      </Dialog>
    </>
  )
}

function DialogButtons({
  busy,
  error,
  onCancel,
  label,
  danger,
}: {
  busy: boolean
  error: string
  onCancel: () => void
  label: string
  danger?: boolean
}) {
  return (
    <>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <div class="buttons">
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" class={danger ? 'danger' : 'primary'} disabled={busy}>
          {label}
        </button>
      </div>
    </>
  )
}
