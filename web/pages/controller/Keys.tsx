// A controller's keys tab (for those who may write it): the PIN form, its keys with when each was made
// and last used, a new key (shown once) and revocation after a confirmation. The server closes the
// revoked key's MQTT and websocket sessions within about a second (docs/mqtt.md).
import { useSignal, type Signal } from '@preact/signals'
import { useEffect } from 'preact/hooks'
import { api } from '../../api.ts'
import { Dialog } from '../../components/Dialog.tsx'
import { EnterPin } from './EnterPin.tsx'
import { createControllerKey, KeyReveal, type Revealed } from './KeyReveal.tsx'
import { When } from '../../components/When.tsx'
import { ErrorAlert } from '../../components/ErrorAlert.tsx'

/** A key as GET /api/v1/keys describes it (core/accounts/key-admin.ts describeKey). */
interface KeyRow {
  id: number
  key_part: string
  creation_timestamp: string
  last_used_timestamp: string
  revocation_timestamp: string
  revoked: boolean
}

const shownPart = (part: string) => `${part.slice(0, 3)}…${part.slice(3)}`

/**
 * the controller's keys, newest first, and a change (busy meanwhile, the API's message on failure) then listing again
 */
function useKeys(path: string) {
  const keys = useSignal<KeyRow[] | undefined>(undefined)
  const error = useSignal('')
  const notice = useSignal('')
  const busy = useSignal(false)
  const reloads = useSignal(0)

  useEffect(() => {
    api<Record<string, KeyRow>>(`/api/v1/keys?controller_path=${encodeURIComponent(path)}`)
      .then((byId) => (keys.value = Object.values(byId).sort((a, b) => b.id - a.id)))
      .catch((err: Error) => (error.value = err.message))
  }, [path, reloads.value])

  const act = async (work: () => Promise<void>) => {
    busy.value = true
    error.value = ''
    notice.value = ''
    try {
      await work()
    } catch (err) {
      error.value = (err as Error).message
    } finally {
      busy.value = false
      reloads.value++
    }
  }
  return { keys, error, notice, busy, act }
}

export function ControllerKeys({ path }: { path: string }) {
  const { keys, error, notice, busy, act } = useKeys(path)
  const revealed = useSignal<Revealed | null>(null)
  const revoking = useSignal<KeyRow | null>(null)
  const newKey = () => act(async () => void (revealed.value = await createControllerKey(path)))
  const revoke = (key: KeyRow) =>
    act(async () => {
      revoking.value = null
      await api(`/api/v1/keys/${key.id}`, { method: 'DELETE' })
      notice.value = `Key ${shownPart(key.key_part)} is revoked: its connections close within about a second.`
    })

  return (
    <div class="controller-admin">
      <EnterPin path={path} />
      <section class="card" aria-labelledby="keys-title">
        <h2 id="keys-title">Keys</h2>
        <p class="hint">
          Each device should have its own key. A key is shown only when it is made; here you see its first and last
          three characters.
        </p>
        <button type="button" onClick={() => void newKey()} disabled={busy.value}>
          New key…
        </button>
        <ErrorAlert message={error.value} />
        <p role="status" class="ok">
          {notice.value}
        </p>
        {keys.value === undefined && !error.value && <p aria-busy="true">Loading…</p>}
        {keys.value?.length === 0 && <p class="empty">This controller has no keys yet.</p>}
        {!!keys.value?.length && (
          <KeyTable name={path.split('/').pop()!} keys={keys.value} onRevoke={(k) => (revoking.value = k)} />
        )}
      </section>
      <RevokeDialog revoking={revoking} onRevoke={revoke} />
      <KeyReveal revealed={revealed.value} onClose={() => (revealed.value = null)} />
    </div>
  )
}

function KeyTable({ name, keys, onRevoke }: { name: string; keys: KeyRow[]; onRevoke: (key: KeyRow) => void }) {
  return (
    <table class="keys">
      <caption class="sr-only">Keys of {name}</caption>
      <thead>
        <tr>
          <th scope="col">Key</th>
          <th scope="col">Created</th>
          <th scope="col">Last used</th>
          <th scope="col">State</th>
          <th scope="col">
            <span class="sr-only">Actions</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {keys.map((k) => (
          <tr key={k.id} data-key-part={k.key_part}>
            <td data-label="Key">
              <code>{shownPart(k.key_part)}</code>
            </td>
            <td data-label="Created">
              <When at={k.creation_timestamp} never="" />
            </td>
            <td data-label="Last used">
              <When at={k.last_used_timestamp} never="never" />
            </td>
            <td data-label="State">
              {k.revoked ? (
                <>
                  Revoked <When at={k.revocation_timestamp} never="" />
                </>
              ) : (
                'Active'
              )}
            </td>
            <td>
              {!k.revoked && (
                <button
                  type="button"
                  class="danger"
                  onClick={() => onRevoke(k)}
                  aria-label={`Revoke key ${shownPart(k.key_part)}`}
                >
                  Revoke…
                </button>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

function RevokeDialog({ revoking, onRevoke }: { revoking: Signal<KeyRow | null>; onRevoke: (key: KeyRow) => void }) {
  return (
    <Dialog
      title={`Revoke key ${revoking.value ? shownPart(revoking.value.key_part) : ''}?`}
      open={revoking.value !== null}
      onClose={() => (revoking.value = null)}
    >
      <p>
        Devices using this key are disconnected within about a second and cannot connect with it again. This cannot be
        undone.
      </p>
      <form
        onSubmit={(e) => {
          e.preventDefault()
          if (revoking.value) void onRevoke(revoking.value)
        }}
      >
        <div class="buttons">
          <button type="button" onClick={() => (revoking.value = null)}>
            Cancel
          </button>
          <button type="submit" class="danger">
            Revoke
          </button>
        </div>
      </form>
    </Dialog>
  )
}
