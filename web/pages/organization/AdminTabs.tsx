// The tabs beside Contents and Messages for those who run things: Members and Keys on an
// organization's page for its admins, Access on any folder for its writers. Others get none of
// them (the API refuses them anyway); such a ?tab= from them shows Contents.
import { encodePath, isFolderType, ResourceType, session, type Described } from '../../api.ts'
import { Access } from '../folder/Access.tsx'
import { administers } from './admin.ts'
import { Keys } from './Keys.tsx'
import { Members } from './Members.tsx'

const ADMIN_TABS = { members: 'Members', keys: 'Keys', access: 'Access' } as const
export type AdminTab = keyof typeof ADMIN_TABS

function tabsFor(meta: Described): AdminTab[] {
  const admin = administers(meta)
  const tabs: AdminTab[] = admin ? ['members', 'keys'] : []
  // only admins change the organization folder's own list (core/resources/updates.ts checkMayGrant)
  // (someone not signed in never changes permissions, even where a public entry lets them write)
  const writer = session.value && isFolderType(meta.type) && meta.access === 'write'
  if (writer && (admin || meta.type !== ResourceType.organization)) tabs.push('access')
  return tabs
}

export function adminTabOf(meta: Described, requested: string | null): AdminTab | undefined {
  return tabsFor(meta).find((tab) => tab === requested)
}

export function AdminTabLinks({ path, meta, current }: { path: string; meta: Described; current: string }) {
  return (
    <>
      {tabsFor(meta).map((tab) => (
        <a key={tab} href={`${encodePath(path)}?tab=${tab}`} aria-current={current === tab ? 'page' : undefined}>
          {ADMIN_TABS[tab]}
        </a>
      ))}
    </>
  )
}

export function AdminTabView({ path, meta, tab }: { path: string; meta: Described; tab: AdminTab }) {
  if (tab === 'members') return <Members org={meta} />
  if (tab === 'keys') return <Keys org={meta} />
  return <Access path={path} meta={meta} />
}
