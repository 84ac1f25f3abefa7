// /settings: each signed-in person's own account — full name, password (old one required; their other
// sessions end) and their own API keys.
import { useSignal } from '@preact/signals'
import { useEffect } from 'preact/hooks'
import { api, session } from '../../api.ts'
import '../admin/admin.css'
import { OwnKeys } from './OwnKeys.tsx'
import { PasswordField } from './PasswordField.tsx'
import { ErrorAlert } from '../../components/ErrorAlert.tsx'

/** A form's submit: runs the change, then says it worked (role=status) or why not (role=alert, the API's text). */
function useSubmit() {
  const busy = useSignal(false)
  const error = useSignal('')
  const done = useSignal('')
  const submit = async (work: () => Promise<string>) => {
    busy.value = true
    error.value = ''
    done.value = ''
    try {
      done.value = await work()
    } catch (err) {
      error.value = (err as Error).message
    } finally {
      busy.value = false
    }
  }
  return { busy, error, done, submit }
}

function Outcome({ error, done }: { error: string; done: string }) {
  return (
    <>
      <ErrorAlert message={error} />
      <p class="ok" role="status">
        {done}
      </p>
    </>
  )
}

function FullName() {
  const { busy, error, done, submit } = useSubmit()
  const onSubmit = (event: Event) => {
    event.preventDefault()
    const fullName = String(new FormData(event.currentTarget as HTMLFormElement).get('full_name') ?? '').trim()
    void submit(async () => {
      await api('/api/v1/users/current', { method: 'PUT', body: { full_name: fullName } })
      if (session.value) session.value = { ...session.value, user: { ...session.value.user, full_name: fullName } }
      return 'Your name is saved.'
    })
  }
  return (
    <section class="card" aria-labelledby="name-heading">
      <h2 id="name-heading">Your name</h2>
      <form onSubmit={onSubmit}>
        <label for="full-name">Full name</label>
        <input
          id="full-name"
          name="full_name"
          required
          maxLength={200}
          defaultValue={session.value?.user.full_name ?? ''}
          autoComplete="name"
        />
        <div class="buttons">
          <button type="submit" class="primary" disabled={busy.value}>
            Save name
          </button>
        </div>
        <Outcome error={error.value} done={done.value} />
      </form>
    </section>
  )
}

function Password() {
  const { busy, error, done, submit } = useSubmit()
  const onSubmit = (event: Event) => {
    event.preventDefault()
    const form = event.currentTarget as HTMLFormElement
    const data = new FormData(form)
    const password = String(data.get('password') ?? '')
    if (password !== String(data.get('confirm') ?? '')) return void (error.value = 'The two new passwords differ.')
    void submit(async () => {
      await api('/api/v1/users/current', {
        method: 'PUT',
        body: { password, old_password: String(data.get('old_password') ?? '') },
      })
      form.reset()
      return 'Your password is changed. You were signed out everywhere else.'
    })
  }
  return (
    <section class="card" aria-labelledby="password-heading">
      <h2 id="password-heading">Password</h2>
      <p class="hint">Changing it signs you out of every other browser and device; this one stays signed in.</p>
      <form onSubmit={onSubmit}>
        <label for="old-password">Current password</label>
        <input id="old-password" name="old_password" type="password" required autoComplete="current-password" />
        <PasswordField label="New password" name="password" />
        <label for="confirm-password">New password again</label>
        <input id="confirm-password" name="confirm" type="password" required autoComplete="new-password" />
        <div class="buttons">
          <button type="submit" class="primary" disabled={busy.value}>
            Change password
          </button>
        </div>
        <Outcome error={error.value} done={done.value} />
      </form>
    </section>
  )
}

export function Settings() {
  useEffect(() => void (document.title = 'Settings · Tendril'), [])
  return (
    <div class="account">
      <h1>Settings</h1>
      <FullName />
      <Password />
      <OwnKeys />
    </div>
  )
}
