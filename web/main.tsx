// The web UI's entry: find out who is signed in, then show the page the address names.
import { render } from 'preact'
import { useEffect } from 'preact/hooks'
import { loadSession, session, signInUrl, whenSignedOut } from './api.ts'
import { Layout } from './components/Layout.tsx'
import { stopLive } from './live.ts'
import { Activity } from './pages/activity/Activity.tsx'
import { Admin } from './pages/admin/Admin.tsx'
import { FolderPage } from './pages/folder/Folder.tsx'
import { Home } from './pages/home/Home.tsx'
import { KioskPage } from './pages/kiosk/Kiosk.tsx'
import { Settings } from './pages/settings/Settings.tsx'
import { SignIn } from './pages/sign-in/SignIn.tsx'
import { here, navigate, startRouter } from './router.ts'
import './styles.css'

function Redirect({ to }: { to: string }) {
  useEffect(() => navigate(to, { replace: true }), [to])
  return null
}

function App() {
  const { path } = here.value
  const current = session.value
  if (path === '/sign-in') return <SignIn />
  if (current === undefined) return <p aria-busy="true">Loading…</p>
  const page = path.replace(/\/+$/, '')
  // a public folder is shown without a session (asked for anonymously; refused, the page goes to sign-in)
  if (here.value.query.get('kiosk') === '1' && page !== '') return <KioskPage key={page} path={page} />
  if (current === null)
    return page === '' ? (
      <Redirect to={signInUrl()} />
    ) : (
      <Layout>
        <FolderPage key={path} path={page} />
      </Layout>
    )
  if (path === '/activity')
    return (
      <Layout>
        <Activity />
      </Layout>
    )
  if (path === '/settings')
    return (
      <Layout>
        <Settings />
      </Layout>
    )
  if (path === '/admin' || path.startsWith('/admin/'))
    return (
      <Layout>
        <Admin path={path.slice('/admin'.length)} />
      </Layout>
    )
  return <Layout>{path === '/' ? <Home /> : <FolderPage key={path} path={path.replace(/\/+$/, '')} />}</Layout>
}

startRouter()
// a lapsed session (any 401): the live connection closes and the person signs in to come back here
whenSignedOut(() => {
  stopLive()
  if (here.value.path !== '/sign-in') navigate(signInUrl(), { replace: true })
})
render(<App />, document.getElementById('app')!)
loadSession().catch(() => (session.value = null))
