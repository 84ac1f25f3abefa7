// The signed-in person's own API keys (GET /api/v1/keys lists more for an organization admin: only
// theirs are shown here): make one for an organization (shown once, in memory only), revoke one.
import { useSignal, type Signal } from '@preact/signals'
import { useEffect } from 'preact/hooks'
import { api, session } from '../../api.ts'
import { Dialog } from '../../components/Dialog.tsx'
import { localTime, timeAgo } from '../../format.ts'
import { CopyButton } from '../../components/CopyButton.tsx'
import { ErrorAlert } from '../../components/ErrorAlert.tsx'

interface Key {
  id: number
  organization_id: number
  access_as_user_id: number | null
  key_part: string
  creation_timestamp: string
  revoked: boolean
  revocation_timestamp: string
  last_used_timestamp: string
}

type Org = { id: number; full_name: string }

/** the person's keys, and running a change (busy meanwhile, the API's message when it fails) then listing again */
function useOwnKeys(userId: number) {
  const keys = useSignal<Key[] | undefined>(undefined)
  const error = useSignal('')
  const busy = useSignal(false)
  const load = () =>
    api<Record<string, Key>>('/api/v1/keys')
      .then((all) => (keys.value = Object.values(all).filter((k) => k.access_as_user_id === userId)))
      .catch((err: Error) => (error.value = err.message))
  useEffect(() => void load(), [])

  const run = async (work: () => Promise<void>) => {
    busy.value = true
    error.value = ''
    try {
      await work()
      await load()
    } catch (err) {
      error.value = (err as Error).message
    } finally {
      busy.value = false
    }
  }
  return { keys, error, busy, run }
}

const shownPart = (key: Key) => `${key.key_part.slice(0, 3)}…${key.key_part.slice(3)}`

export function OwnKeys() {
  const me = session.value!.user
  const orgs = session.value!.organizations
  const { keys, error, busy, run } = useOwnKeys(me.id)
  const secret = useSignal<string | null>(null)
  const revoking = useSignal<Key | null>(null)
  const orgName = (id: number) => orgs.find((o) => o.id === id)?.full_name ?? `organization ${id}`

  const create = (organizationId: number) =>
    void run(async () => {
      const created = await api<{ secret_key: string }>('/api/v1/keys', {
        method: 'POST',
        body: { organization_id: organizationId },
      })
      secret.value = created.secret_key
    })
  const revoke = () =>
    void run(async () => {
      await api(`/api/v1/keys/${revoking.value!.id}`, { method: 'DELETE' })
      revoking.value = null
    })

  return (
    <section class="card" aria-labelledby="keys-heading">
      <h2 id="keys-heading">Your keys</h2>
      <p class="hint">
        A key lets a script or program act as you in one organization (REST with HTTP Basic, or MQTT). Revoking one
        stops it at once.
      </p>
      {error.value && revoking.value === null && (
        <p class="error" role="alert">
          {error.value}
        </p>
      )}
      {keys.value === undefined && !error.value && <p aria-busy="true">Loading…</p>}
      {keys.value?.length === 0 && <p>You have no keys.</p>}
      {keys.value && keys.value.length > 0 && (
        <KeyTable keys={keys.value} orgName={orgName} onRevoke={(key) => (revoking.value = key)} />
      )}
      {orgs.length === 0 ? (
        <p class="note">A key acts in one organization; you belong to none yet.</p>
      ) : (
        <NewKeyForm orgs={orgs} busy={busy.value} onCreate={create} />
      )}
      <SecretDialog secret={secret} />
      <Dialog title="Revoke this key?" open={revoking.value !== null} onClose={() => (revoking.value = null)}>
        <div class="account-dialog">
          <p>
            Programs using the key{' '}
            <code>
              {revoking.value?.key_part.slice(0, 3)}…{revoking.value?.key_part.slice(3)}
            </code>{' '}
            stop working at once, and its MQTT connections close. This cannot be undone.
          </p>
          <ErrorAlert message={error.value} />
          <div class="buttons">
            <button type="button" onClick={() => (revoking.value = null)}>
              Cancel
            </button>
            <button type="button" class="danger" onClick={revoke} disabled={busy.value}>
              Revoke key
            </button>
          </div>
        </div>
      </Dialog>
    </section>
  )
}

interface KeyTableProps {
  keys: Key[]
  orgName: (id: number) => string
  onRevoke: (key: Key) => void
}

function KeyTable({ keys, orgName, onRevoke }: KeyTableProps) {
  return (
    <table class="rows" aria-label="Your keys">
      <thead>
        <tr>
          <th>Key</th>
          <th>Organization</th>
          <th>Created</th>
          <th>Last used</th>
          <th>Actions</th>
        </tr>
      </thead>
      <tbody>
        {keys.map((key) => (
          <tr key={key.id} class={key.revoked ? 'revoked' : ''} data-key-part={key.key_part}>
            <td data-label="Key">
              <code>
                {key.key_part.slice(0, 3)}…{key.key_part.slice(3)}
              </code>
            </td>
            <td data-label="Organization">{orgName(key.organization_id)}</td>
            <td data-label="Created" title={localTime(key.creation_timestamp)}>
              {timeAgo(key.creation_timestamp)}
            </td>
            <td data-label="Last used">{timeAgo(key.last_used_timestamp || null)}</td>
            <td>
              <div class="row-actions">
                {key.revoked ? (
                  <span>Revoked {timeAgo(key.revocation_timestamp)}</span>
                ) : (
                  <button
                    type="button"
                    class="danger"
                    onClick={() => onRevoke(key)}
                    aria-label={`Revoke key ${shownPart(key)}`}
                  >
                    Revoke…
                  </button>
                )}
              </div>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

/** the organization of the new key: a choice only for someone in more than one */
function NewKeyForm({ orgs, busy, onCreate }: { orgs: Org[]; busy: boolean; onCreate: (orgId: number) => void }) {
  const submit = (event: Event) => {
    event.preventDefault()
    onCreate(Number(new FormData(event.currentTarget as HTMLFormElement).get('organization_id')))
  }
  return (
    <form onSubmit={submit}>
      {orgs.length > 1 ? (
        <>
          <label for="key-org">Organization of the new key</label>
          <select id="key-org" name="organization_id">
            {orgs.map((o) => (
              <option key={o.id} value={o.id}>
                {o.full_name}
              </option>
            ))}
          </select>
        </>
      ) : (
        <input type="hidden" name="organization_id" value={orgs[0]!.id} />
      )}
      <div class="buttons">
        <button type="submit" disabled={busy}>
          New key
        </button>
      </div>
    </form>
  )
}

/** the new key, shown once: it lives only in this signal (memory), never in the URL or storage */
function SecretDialog({ secret }: { secret: Signal<string | null> }) {
  return (
    <Dialog title="Your new key" open={secret.value !== null} onClose={() => (secret.value = null)}>
      <div class="account-dialog">
        <p class="warning" role="note">
          <strong>This key is shown only now.</strong> Copy it before you close this window; if it is lost, make a new
          one and revoke this one.
        </p>
        <p class="secret-row">
          <code class="secret" data-testid="secret-key" aria-label="The new key">
            {secret.value}
          </code>
          <CopyButton text={secret.value ?? ''} what="the key" />
        </p>
        <div class="buttons">
          <button type="button" class="primary" onClick={() => (secret.value = null)}>
            Done
          </button>
        </div>
      </div>
    </Dialog>
  )
}
