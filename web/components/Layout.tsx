// Every signed-in page: a header (home, live status, who is signed in, sign out) and the main area.
import type { ComponentChildren } from 'preact'
import { api, session, signInUrl } from '../api.ts'
import { liveState, stopLive } from '../live.ts'
import { navigate } from '../router.ts'

const LIVE_TEXT = { off: 'Not live', connecting: 'Connecting…', live: 'Live', offline: 'Offline, retrying' } as const

export function LiveStatus() {
  const state = liveState.value
  if (state === 'off') return null // a page that follows nothing live
  return (
    <span class={`live live-${state}`} role="status" aria-live="polite">
      <span class="dot" aria-hidden="true" />
      {LIVE_TEXT[state]}
    </span>
  )
}

export async function signOut(): Promise<void> {
  stopLive() // the server closes it too, within a second; the page need not wait for that
  try {
    await api('/sign-out', { method: 'POST', quiet401: true })
  } catch {
    // signed out already, or the server away: the page forgets the session either way
  }
  session.value = null
  navigate('/sign-in')
}

export function Layout({ children }: { children: ComponentChildren }) {
  const user = session.value?.user
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href="/">
          Tendril
        </a>
        {/* each page here needs a session: someone signed out (a public folder) gets Sign in instead */}
        {user && (
          <nav aria-label="Main">
            <a href="/activity">Activity</a>
            <a href="/settings">Settings</a>
            {user.system_admin && <a href="/admin">Admin</a>}
          </nav>
        )}
        <LiveStatus />
        <span class="spacer" />
        {user && (
          <span class="who" title={user.email}>
            {user.full_name || user.email}
          </span>
        )}
        {user ? (
          <button type="button" class="quiet" onClick={() => void signOut()}>
            Sign out
          </button>
        ) : (
          <a class="button quiet" href={signInUrl()}>
            Sign in
          </a>
        )}
      </header>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </>
  )
}
