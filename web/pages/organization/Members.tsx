// ?tab=members on an organization's page, for its admins: the organization's full name, its members
// (add an existing user by email, make or remove an admin, remove after confirming). The API decides
// every change; a refusal is shown with the API's words (and, for the last admin, why).
import { useSignal, type Signal } from '@preact/signals'
import { useEffect } from 'preact/hooks'
import { ApiError, api, loadSession, session, type Described } from '../../api.ts'
import { Confirm } from './Confirm.tsx'
import { loadMembers, orgUrl, type Member } from './admin.ts'
import './organization.css'
import { ErrorAlert } from '../../components/ErrorAlert.tsx'

/** A 409 on the last admin, in words a teacher understands; other refusals as the API said them. */
export function explain(err: unknown, member?: Member): string {
  const message = (err as Error).message
  if (err instanceof ApiError && err.status === 409 && member) {
    return `${member.email_address} is the last administrator: ${message}. Make another member an administrator first.`
  }
  return message
}

/** the members, listed again after each change; act runs one and says how it went */
function useMembers(org: Described, me: number | undefined) {
  const members = useSignal<Member[] | undefined>(undefined)
  const error = useSignal('')
  const notice = useSignal('')
  const reloads = useSignal(0)
  useEffect(() => {
    loadMembers(org.id)
      .then((list) => (members.value = list))
      .catch((err: Error) => (error.value = err.message))
  }, [org.id, reloads.value])

  const act = async (work: () => Promise<unknown>, done: string, member?: Member) => {
    error.value = ''
    notice.value = ''
    try {
      await work()
      notice.value = done
      reloads.value++
      if (member?.user_id === me) await loadSession() // one's own admin role changed: the tabs follow
    } catch (err) {
      error.value = explain(err, member)
    }
  }
  return { members, error, notice, reloads, act }
}

type MemberState = ReturnType<typeof useMembers>

export function Members({ org }: { org: Described }) {
  const me = session.value?.user.id
  const state = useMembers(org, me)
  const { members, error, notice, act } = state
  const removing = useSignal<Member | null>(null)
  const setAdmin = (member: Member, isAdmin: boolean) =>
    act(
      () => api(orgUrl(org.id, `/users/${member.user_id}`), { method: 'PUT', body: { is_admin: isAdmin ? 1 : 0 } }),
      `${member.email_address} ${isAdmin ? 'is now an administrator' : 'is no longer an administrator'}.`,
      member,
    )

  return (
    <div class="admin-page">
      <FullName org={org} />
      <AddMember org={org} act={act} />
      <ErrorAlert message={error.value} />
      <p class="notice" role="status">
        {notice.value}
      </p>
      <section aria-labelledby="member-list">
        <h2 id="member-list">Members</h2>
        {members.value === undefined && !error.value && <p aria-busy="true">Loading…</p>}
        <ul class="org-rows" aria-labelledby="member-list">
          {members.value?.map((m) => (
            <MemberRow key={m.user_id} m={m} me={me} onSetAdmin={setAdmin} onRemove={() => (removing.value = m)} />
          ))}
        </ul>
      </section>
      <RemoveMember org={org} me={me} removing={removing} state={state} />
    </div>
  )
}

function AddMember({ org, act }: { org: Described; act: MemberState['act'] }) {
  const add = (event: Event) => {
    event.preventDefault()
    const form = event.currentTarget as HTMLFormElement
    const data = new FormData(form)
    const email = String(data.get('email_address') ?? '').trim()
    void act(async () => {
      await api(orgUrl(org.id, '/users'), {
        method: 'POST',
        body: { email_address: email, is_admin: data.get('is_admin') ? 1 : 0 },
      })
      form.reset()
    }, `${email} was added.`)
  }
  return (
    <section class="card" aria-labelledby="add-member">
      <h2 id="add-member">Add a member</h2>
      <form class="inline-form" onSubmit={add}>
        <label for="member-email">Email address of an existing user</label>
        <input id="member-email" name="email_address" type="email" required autoComplete="off" />
        <label class="check">
          <input type="checkbox" name="is_admin" /> Administrator
        </label>
        <button type="submit" class="primary">
          Add member
        </button>
      </form>
    </section>
  )
}

interface MemberRowProps {
  m: Member
  me: number | undefined
  onSetAdmin: (member: Member, isAdmin: boolean) => Promise<void>
  onRemove: () => void
}

function MemberRow({ m, me, onSetAdmin, onRemove }: MemberRowProps) {
  return (
    <li class="org-row card" data-email={m.email_address}>
      <span class="who-is">
        <strong>{m.full_name || m.email_address}</strong>
        {m.full_name && <span class="muted">{m.email_address}</span>}
        {m.user_id === me && <span class="muted">(you)</span>}
      </span>
      <span class={`org-badge${m.is_admin ? ' admin' : ''}`}>{m.is_admin ? 'Administrator' : 'Member'}</span>
      <span class="org-row-actions">
        <button type="button" onClick={() => void onSetAdmin(m, !m.is_admin)}>
          {m.is_admin ? 'Remove admin' : 'Make admin'}
        </button>
        <button type="button" class="danger" onClick={onRemove}>
          Remove…
        </button>
      </span>
    </li>
  )
}

interface RemoveProps {
  org: Described
  me: number | undefined
  removing: Signal<Member | null>
  state: MemberState
}

/** removal is confirmed first; its refusal (say, the last admin) shows in the dialog */
function RemoveMember({ org, me, removing, state }: RemoveProps) {
  const busy = useSignal(false)
  const dialogError = useSignal('')
  const remove = async () => {
    const member = removing.value!
    busy.value = true
    dialogError.value = ''
    try {
      await api(orgUrl(org.id, `/users/${member.user_id}`), { method: 'DELETE' })
      removing.value = null
      state.notice.value = `${member.email_address} was removed.`
      state.reloads.value++
      if (member.user_id === me) await loadSession()
    } catch (err) {
      dialogError.value = explain(err, member)
    } finally {
      busy.value = false
    }
  }
  const close = () => {
    removing.value = null
    dialogError.value = ''
  }
  return (
    <Confirm
      title={`Remove ${removing.value?.email_address ?? ''}?`}
      open={removing.value !== null}
      busy={busy.value}
      error={dialogError.value}
      label="Remove member"
      onConfirm={() => void remove()}
      onClose={close}
    >
      <p>
        {removing.value?.user_id === me ? 'You will no longer see this organization. ' : ''}
        Their access to {org.name} ends at once, and their keys for it are revoked.
      </p>
    </Confirm>
  )
}

function FullName({ org }: { org: Described }) {
  const fullName = useSignal<string | undefined>(undefined)
  const message = useSignal('')
  const error = useSignal('')
  useEffect(() => {
    api<{ full_name: string }>(orgUrl(org.id))
      .then((o) => (fullName.value = o.full_name))
      .catch((err: Error) => (error.value = err.message))
  }, [org.id])
  const save = async (event: Event) => {
    event.preventDefault()
    const value = String(new FormData(event.currentTarget as HTMLFormElement).get('full_name') ?? '').trim()
    message.value = ''
    error.value = ''
    try {
      const saved = await api<{ organization: { full_name: string } }>(orgUrl(org.id), {
        method: 'PUT',
        body: { full_name: value },
      })
      fullName.value = saved.organization.full_name
      message.value = 'Saved.'
      // the home page's cards read the session's copy
      const current = session.value
      if (current)
        session.value = {
          ...current,
          organizations: current.organizations.map((o) =>
            o.id === org.id ? { ...o, full_name: saved.organization.full_name } : o,
          ),
        }
    } catch (err) {
      error.value = (err as Error).message
    }
  }
  return (
    <section class="card" aria-labelledby="org-name">
      <h2 id="org-name">Organization</h2>
      {fullName.value !== undefined && (
        <form class="inline-form" onSubmit={(e) => void save(e)}>
          <label for="org-full-name">Full name</label>
          <input id="org-full-name" name="full_name" required maxLength={200} defaultValue={fullName.value} />
          <button type="submit">Save name</button>
        </form>
      )}
      <p class="hint">The folder name, {org.name}, stays as it is: it is part of every path and topic.</p>
      <ErrorAlert message={error.value} />
      <p class="notice" role="status">
        {message.value}
      </p>
    </section>
  )
}
