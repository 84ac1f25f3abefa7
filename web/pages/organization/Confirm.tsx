// A destructive action asked once more: a Dialog whose submit button does it, by mouse or keyboard
// (Enter confirms, Escape or Cancel closes); the API's refusal is shown inside, as an alert.
import type { ComponentChildren } from 'preact'
import { Dialog } from '../../components/Dialog.tsx'
import { ErrorAlert } from '../../components/ErrorAlert.tsx'

interface Props {
  title: string
  open: boolean
  busy: boolean
  error: string
  label: string
  onConfirm: () => void
  onClose: () => void
  children: ComponentChildren
}

export function Confirm({ title, open, busy, error, label, onConfirm, onClose, children }: Props) {
  return (
    <Dialog title={title} open={open} onClose={onClose}>
      {children}
      <form
        onSubmit={(e) => {
          e.preventDefault()
          onConfirm()
        }}
      >
        <ErrorAlert message={error} />
        <div class="buttons">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="danger" disabled={busy}>
            {label}
          </button>
        </div>
      </form>
    </Dialog>
  )
}
