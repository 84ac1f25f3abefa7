// /admin/…: the system admin's pages (users, organizations, controllers, system), under one set of
// tabs. Anyone else gets a plain "not allowed" page; the API refuses them anyway (403).
import type { ComponentChildren } from 'preact'
import { session } from '../../api.ts'
import './admin.css'
import { Controllers } from './Controllers.tsx'
import { Organizations } from './Organizations.tsx'
import { SystemStats } from './SystemStats.tsx'
import { Users } from './Users.tsx'

const TABS = [
  { id: 'users', title: 'Users', page: () => <Users /> },
  { id: 'organizations', title: 'Organizations', page: () => <Organizations /> },
  { id: 'controllers', title: 'Controllers', page: () => <Controllers /> },
  { id: 'system', title: 'System', page: () => <SystemStats /> },
] as const

function NotAllowed() {
  return (
    <div class="account">
      <h1>Not allowed</h1>
      <p role="alert">
        These pages are for system administrators. Your account is not one; ask an administrator if you need something
        done here.
      </p>
      <p>
        <a href="/">Back to your organizations</a>
      </p>
    </div>
  )
}

function Tabs({ current, children }: { current: string; children: ComponentChildren }) {
  return (
    <div class="account wide">
      <h1>Administration</h1>
      <nav class="tabs admin-tabs" aria-label="Administration">
        {TABS.map((tab) => (
          <a key={tab.id} href={`/admin/${tab.id}`} aria-current={tab.id === current ? 'page' : undefined}>
            {tab.title}
          </a>
        ))}
      </nav>
      {children}
    </div>
  )
}

/** path is the part after /admin ("", "/users", …); an unknown sub-page shows the first tab. */
export function Admin({ path }: { path: string }) {
  if (!session.value?.user.system_admin) return <NotAllowed />
  const tab = TABS.find((t) => `/${t.id}` === path.replace(/\/+$/, '')) ?? TABS[0]
  return <Tabs current={tab.id}>{tab.page()}</Tabs>
}
