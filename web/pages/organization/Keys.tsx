// ?tab=keys on an organization's page, for its admins: every key of the organization, whose it is
// (a member or a controller), when made and last used, and revoked or not; revoke after confirming.
import { useSignal, type Signal } from '@preact/signals'
import { useEffect } from 'preact/hooks'
import { api, encodePath, type Described } from '../../api.ts'
import { Confirm } from './Confirm.tsx'
import { listOf, loadMembers, type KeyRecord, type Member } from './admin.ts'
import './organization.css'
import { When } from '../../components/When.tsx'
import { ErrorAlert } from '../../components/ErrorAlert.tsx'

function owner(key: KeyRecord, members: Member[]) {
  if (key.controller_path) return <a href={encodePath(key.controller_path)}>{key.controller_path}</a>
  const member = members.find((m) => m.user_id === key.access_as_user_id)
  return <>{member ? member.email_address : `user #${key.access_as_user_id ?? '?'} (no longer a member)`}</>
}

/** the organization's keys and its members (to name a key's owner), listed again when reloads is bumped */
function useOrgKeys(org: Described) {
  const keys = useSignal<KeyRecord[] | undefined>(undefined)
  const members = useSignal<Member[]>([])
  const error = useSignal('')
  const reloads = useSignal(0)
  useEffect(() => {
    Promise.all([api<Record<string, KeyRecord>>('/api/v1/keys'), loadMembers(org.id)])
      .then(([all, people]) => {
        // a system admin is given every key of the installation: this page shows this organization's
        keys.value = listOf(all).filter((k) => k.organization_id === org.id)
        members.value = people
      })
      .catch((err: Error) => (error.value = err.message))
  }, [org.id, reloads.value])
  return { keys, members, error, reloads }
}

export function Keys({ org }: { org: Described }) {
  const { keys, members, error, reloads } = useOrgKeys(org)
  const notice = useSignal('')
  const revoking = useSignal<KeyRecord | null>(null)
  const active = keys.value?.filter((k) => !k.revoked).length ?? 0
  const revoked = (key: KeyRecord) => {
    notice.value = `Key ${key.key_part} was revoked: it no longer works, and its live connections were closed.`
    reloads.value++
  }

  return (
    <div class="admin-page">
      <p class="hint">
        Keys let controllers and scripts act without a password. A key is shown once, when it is made; here you see
        whose it is and revoke it.
      </p>
      <ErrorAlert message={error.value} />
      <p class="notice" role="status">
        {notice.value}
      </p>
      <h2 id="key-list">
        Keys of {org.name}{' '}
        {keys.value && (
          <span class="muted">
            ({active} active of {keys.value.length})
          </span>
        )}
      </h2>
      {keys.value === undefined && !error.value && <p aria-busy="true">Loading…</p>}
      {keys.value?.length === 0 && <p class="empty">This organization has no keys.</p>}
      <ul class="org-rows" aria-labelledby="key-list">
        {keys.value?.map((k) => (
          <KeyItem key={k.id} k={k} members={members.value} onRevoke={() => (revoking.value = k)} />
        ))}
      </ul>
      <RevokeKey revoking={revoking} onRevoked={revoked} />
    </div>
  )
}

function KeyItem({ k, members, onRevoke }: { k: KeyRecord; members: Member[]; onRevoke: () => void }) {
  return (
    <li class={`org-row card key${k.revoked ? ' revoked' : ''}`} data-key-id={k.id}>
      <dl class="org-facts">
        <dt>Owner</dt>
        <dd>
          {k.controller_path ? 'Controller ' : 'User '}
          {owner(k, members)}
        </dd>
        <dt>Key</dt>
        <dd>
          <code>
            {k.key_part.slice(0, 3)}…{k.key_part.slice(3)}
          </code>
        </dd>
        <dt>Created</dt>
        <dd>
          <When at={k.creation_timestamp} never="never" />
        </dd>
        <dt>Last used</dt>
        <dd>
          <When at={k.last_used_timestamp} never="never" />
        </dd>
        <dt>State</dt>
        <dd>
          {k.revoked ? (
            <>
              Revoked <When at={k.revocation_timestamp} never="never" />
            </>
          ) : (
            'Active'
          )}
        </dd>
      </dl>
      {!k.revoked && (
        <span class="org-row-actions">
          <button type="button" class="danger" onClick={onRevoke}>
            Revoke…
          </button>
        </span>
      )}
    </li>
  )
}

/** revocation is confirmed first; its refusal shows in the dialog */
function RevokeKey({
  revoking,
  onRevoked,
}: {
  revoking: Signal<KeyRecord | null>
  onRevoked: (key: KeyRecord) => void
}) {
  const busy = useSignal(false)
  const dialogError = useSignal('')
  const revoke = async () => {
    const key = revoking.value!
    busy.value = true
    dialogError.value = ''
    try {
      await api(`/api/v1/keys/${key.id}`, { method: 'DELETE' })
      revoking.value = null
      onRevoked(key)
    } catch (err) {
      dialogError.value = (err as Error).message
    } finally {
      busy.value = false
    }
  }
  const close = () => {
    revoking.value = null
    dialogError.value = ''
  }
  return (
    <Confirm
      title="Revoke this key?"
      open={revoking.value !== null}
      busy={busy.value}
      error={dialogError.value}
      label="Revoke key"
      onConfirm={() => void revoke()}
      onClose={close}
    >
      <p>
        The key {revoking.value?.key_part.slice(0, 3)}…{revoking.value?.key_part.slice(3)} of{' '}
        {revoking.value?.controller_path ?? 'a user'} stops working at once, and connections made with it are closed.
        This cannot be undone: whoever used it needs a new key.
      </p>
    </Confirm>
  )
}
