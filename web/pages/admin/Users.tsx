// /admin/users: every user; create one (the password rule shown first), make or unmake a system
// admin, delete (soft: their sessions end and keys are revoked), each change confirmed first.
import { useSignal, type Signal } from '@preact/signals'
import { useEffect } from 'preact/hooks'
import { api, session } from '../../api.ts'
import { Dialog } from '../../components/Dialog.tsx'
import { localTime, timeAgo } from '../../format.ts'
import { PasswordField } from '../settings/PasswordField.tsx'
import { useAction } from './useAction.ts'
import { ErrorAlert } from '../../components/ErrorAlert.tsx'

interface User {
  id: number
  email_address: string
  full_name: string
  system_admin: boolean
  creation_timestamp: string
  deleted: boolean
}

type Confirm = { user: User; change: 'promote' | 'demote' | 'delete' }

const QUESTION = {
  promote: (u: User) => `Make ${u.email_address} a system admin?`,
  demote: (u: User) => `Remove ${u.email_address}'s system admin rights?`,
  delete: (u: User) => `Delete ${u.email_address}?`,
}
const EXPLANATION = {
  promote: 'A system admin sees and changes everything in this installation: every organization, user and controller.',
  demote: 'They are signed out everywhere at once, and keep only what their organizations grant them.',
  delete:
    'They are signed out everywhere, their keys are revoked (their programs stop at once) and they can no longer sign in.',
}
const ACTION = { promote: 'Make system admin', demote: 'Remove system admin', delete: 'Delete user' }

export function Users() {
  const users = useSignal<User[] | undefined>(undefined)
  const creating = useSignal(false)
  const confirm = useSignal<Confirm | null>(null)
  const done = useSignal('')
  const load = () =>
    api<Record<string, User>>('/api/v1/users').then(
      (all) => (users.value = Object.values(all).filter((u) => !u.deleted)),
    )
  const action = useAction(load)
  const { error, run } = action
  useEffect(() => {
    document.title = 'Users · Administration · Tendril'
    void run(load)
  }, [])

  const create = (body: NewUser) =>
    void run(() => api('/api/v1/users', { method: 'POST', body })).then((ok) => {
      if (!ok) return
      creating.value = false
      done.value = `Created ${body.email_address}.`
    })
  const apply = () => {
    const { user, change } = confirm.value!
    void run(() => applyChange(user, change)).then((ok) => {
      if (!ok) return
      confirm.value = null
      done.value = changeDone(user, change)
    })
  }
  const ask = (user: User, change: Confirm['change']) => {
    error.value = ''
    confirm.value = { user, change }
  }
  const dialogOpen = creating.value || confirm.value !== null

  return (
    <section aria-labelledby="users-heading">
      <h2 id="users-heading">Users</h2>
      <div class="actions">
        <button type="button" class="primary" onClick={() => ((error.value = ''), (creating.value = true))}>
          New user…
        </button>
      </div>
      <p class="ok" role="status">
        {done.value}
      </p>
      {error.value && !dialogOpen && (
        <p class="error" role="alert">
          {error.value}
        </p>
      )}
      {users.value === undefined && !error.value && <p aria-busy="true">Loading…</p>}
      {users.value && <UserTable users={users.value} me={session.value?.user.id} onAsk={ask} />}
      <NewUserDialog open={creating} action={action} onCreate={create} />
      <ConfirmDialog confirm={confirm} action={action} onApply={apply} />
    </section>
  )
}

interface NewUser {
  email_address: string
  full_name: string
  password: string
  system_admin: boolean
}

function applyChange(user: User, change: Confirm['change']) {
  return change === 'delete'
    ? api(`/api/v1/users/${user.id}`, { method: 'DELETE' })
    : api(`/api/v1/users/${user.id}`, { method: 'PUT', body: { system_admin: change === 'promote' } })
}

function changeDone(user: User, change: Confirm['change']): string {
  return change === 'delete'
    ? `Deleted ${user.email_address}.`
    : `${user.email_address} is ${change === 'promote' ? 'now' : 'no longer'} a system admin.`
}

interface UserTableProps {
  users: User[]
  me: number | undefined
  onAsk: (user: User, change: Confirm['change']) => void
}

function UserTable({ users, me, onAsk }: UserTableProps) {
  return (
    <table class="rows" aria-label="Users">
      <thead>
        <tr>
          <th>Email address</th>
          <th>Full name</th>
          <th>Role</th>
          <th>Created</th>
          <th>Actions</th>
        </tr>
      </thead>
      <tbody>
        {users.map((user) => (
          <tr key={user.id} data-email={user.email_address}>
            <td data-label="Email">{user.email_address}</td>
            <td data-label="Name">{user.full_name || '—'}</td>
            <td data-label="Role">{user.system_admin ? 'System admin' : 'User'}</td>
            <td data-label="Created" title={localTime(user.creation_timestamp)}>
              {timeAgo(user.creation_timestamp)}
            </td>
            <td>
              <div class="row-actions">
                {user.id === me ? <span class="muted">You</span> : <UserButtons user={user} onAsk={onAsk} />}
              </div>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

function UserButtons({ user, onAsk }: { user: User; onAsk: UserTableProps['onAsk'] }) {
  return (
    <>
      <button
        type="button"
        onClick={() => onAsk(user, user.system_admin ? 'demote' : 'promote')}
        aria-label={`${user.system_admin ? 'Remove system admin' : 'Make system admin'}: ${user.email_address}`}
      >
        {user.system_admin ? 'Remove system admin…' : 'Make system admin…'}
      </button>
      <button
        type="button"
        class="danger"
        onClick={() => onAsk(user, 'delete')}
        aria-label={`Delete ${user.email_address}`}
      >
        Delete…
      </button>
    </>
  )
}

type Action = ReturnType<typeof useAction>

function NewUserDialog({
  open,
  action,
  onCreate,
}: {
  open: Signal<boolean>
  action: Action
  onCreate: (body: NewUser) => void
}) {
  const { busy, error } = action
  const submit = (event: Event) => {
    event.preventDefault()
    const data = new FormData(event.currentTarget as HTMLFormElement)
    onCreate({
      email_address: String(data.get('email_address') ?? '').trim(),
      full_name: String(data.get('full_name') ?? '').trim(),
      password: String(data.get('password') ?? ''),
      system_admin: data.get('system_admin') === 'on',
    })
  }
  return (
    <Dialog title="New user" open={open.value} onClose={() => (open.value = false)}>
      <form class="account-dialog" onSubmit={submit}>
        <label for="new-email">Email address</label>
        <input id="new-email" name="email_address" type="email" required maxLength={320} autoComplete="off" />
        <label for="new-full-name">Full name</label>
        <input id="new-full-name" name="full_name" maxLength={200} autoComplete="off" />
        <PasswordField label="Password" name="password" />
        <label class="check">
          <input type="checkbox" name="system_admin" /> System admin
        </label>
        <p class="hint">To add the user to an organization, open the organization's members page.</p>
        <ErrorAlert message={error.value} />
        <div class="buttons">
          <button type="button" onClick={() => (open.value = false)}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={busy.value}>
            Create user
          </button>
        </div>
      </form>
    </Dialog>
  )
}

function ConfirmDialog({
  confirm,
  action,
  onApply,
}: {
  confirm: Signal<Confirm | null>
  action: Action
  onApply: () => void
}) {
  const { busy, error } = action
  const asked = confirm.value
  return (
    <Dialog
      title={asked ? QUESTION[asked.change](asked.user) : ''}
      open={asked !== null}
      onClose={() => (confirm.value = null)}
    >
      {asked && (
        <div class="account-dialog">
          <p>{EXPLANATION[asked.change]}</p>
          <ErrorAlert message={error.value} />
          <div class="buttons">
            <button type="button" onClick={() => (confirm.value = null)}>
              Cancel
            </button>
            <button
              type="button"
              class={asked.change === 'promote' ? 'primary' : 'danger'}
              onClick={onApply}
              disabled={busy.value}
            >
              {ACTION[asked.change]}
            </button>
          </div>
        </div>
      )}
    </Dialog>
  )
}
