// The tabs a controller's writers get beside Contents and Messages: Keys (with the PIN form) and
// Settings. Readers get neither (the API refuses them anyway); ?tab=keys from a reader shows Contents.
import { encodePath, ResourceType, type Described } from '../../api.ts'
import { ControllerSettings } from './ControllerSettings.tsx'
import { ControllerKeys } from './Keys.tsx'

const OWNER_TABS = { keys: 'Keys & PIN', settings: 'Settings' } as const
export type OwnerTab = keyof typeof OWNER_TABS

export function ownerTabOf(meta: Described, requested: string | null): OwnerTab | undefined {
  if (meta.type !== ResourceType.controller || meta.access !== 'write') return undefined
  return requested === 'keys' || requested === 'settings' ? requested : undefined
}

export function OwnerTabLinks({ path, meta, current }: { path: string; meta: Described; current: string }) {
  if (meta.type !== ResourceType.controller || meta.access !== 'write') return null
  return (
    <>
      {(Object.keys(OWNER_TABS) as OwnerTab[]).map((tab) => (
        <a key={tab} href={`${encodePath(path)}?tab=${tab}`} aria-current={current === tab ? 'page' : undefined}>
          {OWNER_TABS[tab]}
        </a>
      ))}
    </>
  )
}

export function OwnerTabView({ path, tab }: { path: string; tab: OwnerTab }) {
  return tab === 'keys' ? <ControllerKeys path={path} /> : <ControllerSettings path={path} />
}
