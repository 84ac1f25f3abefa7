// The Access tab's state: the folder's permissions and the names its entries refer to (loaded once
// per folder), the list being edited, and saving a list (null: inherit again), then reading it back.
import { useSignal } from '@preact/signals'
import { useEffect } from 'preact/hooks'
import { api, resourceUrl, type Described } from '../../api.ts'
import { loadMembers, orgUrl } from '../organization/admin.ts'
import type { AccessMeta, Entry, Names } from './permissions.ts'

export function useAccess(path: string, initial: Described) {
  const meta = useSignal<AccessMeta>(initial)
  const names = useSignal<Names | undefined>(undefined)
  const draft = useSignal<Entry[] | null>(null)
  const error = useSignal('')
  const notice = useSignal('')
  const busy = useSignal(false)
  const confirming = useSignal<null | 'inherit' | 'unpublish'>(null)
  const orgName = path.split('/')[1]!

  useEffect(() => {
    const load = async () => {
      const org = await api<{ id: number }>(orgUrl(orgName)).catch(() => null)
      const [members, controllers, fresh] = await Promise.all([
        org ? loadMembers(org.id).catch(() => null) : null,
        api<{ id: number; path: string }[]>(resourceUrl('/' + orgName, 'recursive=1&type=12')).catch(() => []),
        api<AccessMeta>(resourceUrl(path, 'meta=1')),
      ])
      names.value = { orgId: org?.id ?? null, orgName, members, controllers }
      meta.value = fresh
    }
    load().catch((err: Error) => (error.value = err.message))
  }, [path])

  const save = async (list: Entry[] | null, done: string) => {
    busy.value = true
    error.value = ''
    notice.value = ''
    try {
      await api(resourceUrl(path), {
        method: 'PUT',
        body: { permissions: list === null ? 'null' : JSON.stringify(list) },
      })
      meta.value = await api<AccessMeta>(resourceUrl(path, 'meta=1'))
      draft.value = null
      confirming.value = null
      notice.value = done
    } catch (err) {
      error.value = (err as Error).message
      confirming.value = null
    } finally {
      busy.value = false
    }
  }

  return { meta, names, draft, error, notice, busy, confirming, save }
}

export type AccessState = ReturnType<typeof useAccess>
