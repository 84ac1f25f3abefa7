// What a person can do in a folder: new folder or sequence, upload (chooser or drag and drop, with
// progress), download the selected entries as a zip, rename or move one, delete them after confirming.
import { useSignal, type Signal } from '@preact/signals'
import { useRef } from 'preact/hooks'
import { resourceUrl } from '../../api.ts'
import { bytes } from '../../format.ts'
import { createControllerKey, KeyReveal, type Revealed } from '../controller/KeyReveal.tsx'
import {
  DeleteDialog,
  MoveDialog,
  NewControllerDialog,
  NewFolderDialog,
  NewSequenceDialog,
  RenameDialog,
  useDialogs,
  type Open,
} from './ActionDialogs.tsx'
import type { Entry } from './model.ts'
import { uploadFile, type Upload } from './upload.ts'
import { useFileDrop } from './useFileDrop.ts'
import { ErrorAlert } from '../../components/ErrorAlert.tsx'

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
  const dialogs = useDialogs(onChanged)
  const uploads = useSignal<Upload[]>([])
  const newKey = useNewControllerKey()
  const chosen = entries.filter((e) => selected.has(e.item.id))
  const startUploads = (files: FileList | File[]) => {
    const started = Array.from(files).map((file) => uploadFile(path, file, onChanged))
    uploads.value = [...uploads.value.filter((u) => u.state.value === 'sending'), ...started]
  }
  // a file dropped anywhere on the folder's page is uploaded into it
  const dragging = useFileDrop(path, startUploads)
  const creating = { path, dialogs, onController: newKey.reveal }
  const selection = { path, chosen, dialogs, onClearSelection }

  return (
    <>
      <Toolbar path={path} chosen={chosen} open={dialogs.open} onFiles={startUploads} />
      <p class="hint">Drop files anywhere on this page to upload them here.</p>
      <ErrorAlert message={newKey.problem.value} />
      <KeyReveal revealed={newKey.revealed.value} onClose={() => (newKey.revealed.value = null)} />
      {dragging.value && (
        <div class="drop-overlay" aria-hidden="true">
          Drop to upload to {path.split('/').pop()}
        </div>
      )}
      {uploads.value.length > 0 && <UploadList uploads={uploads.value} />}
      <NewFolderDialog {...creating} />
      <NewControllerDialog {...creating} />
      <RenameDialog {...selection} />
      <MoveDialog {...selection} />
      <NewSequenceDialog {...creating} />
      <DeleteDialog {...selection} />
    </>
  )
}

// a new controller's first key, shown once; the folder stays made if the key cannot be (say so)
function useNewControllerKey() {
  const revealed = useSignal<Revealed | null>(null)
  const problem = useSignal('')
  const reveal = async (controllerPath: string) => {
    problem.value = ''
    try {
      revealed.value = await createControllerKey(controllerPath)
    } catch (err) {
      problem.value = `The controller was made, but not its key: ${(err as Error).message}`
    }
  }
  return { revealed, problem, reveal }
}

interface ToolbarProps {
  path: string
  chosen: Entry[]
  open: Signal<Open>
  onFiles: (files: FileList) => void
}

function Toolbar({ path, chosen, open, onFiles }: ToolbarProps) {
  const chooser = useRef<HTMLInputElement>(null)
  const zipUrl = resourceUrl(path, `download=1&ids=${chosen.map((e) => e.item.id).join(',')}`)
  return (
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
        onChange={(e) => e.currentTarget.files && onFiles(e.currentTarget.files)}
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
  )
}

function UploadList({ uploads }: { uploads: Upload[] }) {
  return (
    <ul class="uploads" aria-label="Uploads">
      {uploads.map((u) => (
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
  )
}
