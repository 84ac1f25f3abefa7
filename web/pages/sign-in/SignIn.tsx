// /sign-in?next=…: email and password; on success back to next (a page of this site only).
import { useSignal } from '@preact/signals'
import { useEffect, useRef } from 'preact/hooks'
import { ApiError, api, loadSession } from '../../api.ts'
import { here, navigate, safeNext } from '../../router.ts'

function whyRefused(err: unknown): string {
  if (!(err instanceof ApiError)) return 'The server did not answer. Check your connection and try again.'
  if (err.status === 401) return 'Wrong email address or password.'
  if (err.status === 429)
    return 'Too many failed sign-ins from here or for this account. Wait a few minutes, then try again.'
  return err.message
}

export function SignIn() {
  const error = useSignal('')
  const busy = useSignal(false)
  const errorRef = useRef<HTMLParagraphElement>(null)
  const expired = here.value.query.has('next')
  useEffect(() => void (document.title = 'Sign in · Tendril'), [])

  const submit = async (event: Event) => {
    event.preventDefault()
    const form = new FormData(event.currentTarget as HTMLFormElement)
    busy.value = true
    error.value = ''
    try {
      await api('/sign-in', {
        method: 'POST',
        body: { email_address: form.get('email'), password: form.get('password') },
        quiet401: true,
      })
      await loadSession()
      navigate(safeNext(here.value.query.get('next')), { replace: true })
    } catch (err) {
      error.value = whyRefused(err)
      queueMicrotask(() => errorRef.current?.focus())
    } finally {
      busy.value = false
    }
  }

  return (
    <main id="main" class="sign-in">
      <form onSubmit={submit} class="card" aria-describedby={error.value ? 'sign-in-error' : undefined}>
        <h1>Sign in to Tendril</h1>
        {expired && !error.value && <p class="note">Sign in to continue where you were.</p>}
        <label for="email">Email address</label>
        <input id="email" name="email" type="email" autocomplete="username" required autoFocus />
        <label for="password">Password</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required />
        {error.value && (
          <p id="sign-in-error" class="error" role="alert" tabIndex={-1} ref={errorRef}>
            {error.value}
          </p>
        )}
        <button type="submit" class="primary" disabled={busy.value}>
          {busy.value ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  )
}
