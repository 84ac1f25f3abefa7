// A file's revisions as the file page uses them: the list, the text of the one shown, and changes
// (save, restore) written as a new revision guarded by the latest one loaded (409 when someone saved since).
import { useSignal, type Signal } from '@preact/signals'
import { useEffect } from 'preact/hooks'
import { ApiError, api, encodePath, resourceUrl } from '../../api.ts'
import { navigate } from '../../router.ts'
import { formatTime } from '../sequence/range.ts'
import { INLINE_LIMIT, isTextKind, type FileKind } from './kinds.ts'

export interface Revision {
  id: number
  timestamp: string
  size: number
}

export type Notice = { ok: boolean; text: string } | null

/** the file's revisions, oldest first (listed again when reload is bumped); error says why not */
export function useRevisions(path: string) {
  const revisions = useSignal<Revision[] | undefined>(undefined)
  const error = useSignal('')
  const reload = useSignal(0)
  useEffect(() => {
    api<Revision[]>(resourceUrl(path, 'revisions=1'))
      .then((r) => (revisions.value = r))
      .catch((err: Error) => (error.value = `Could not list the revisions: ${err.message}`))
  }, [path, reload.value])
  return { revisions, error, reload }
}

/** the text of the revision shown, for the kinds shown as text (null otherwise or while loading) */
export function useShownText(path: string, kind: FileKind, shown: Revision | null, error: Signal<string>) {
  const text = useSignal<string | null>(null)
  useEffect(() => {
    text.value = null
    if (!shown || !isTextKind(kind) || shown.size > INLINE_LIMIT) return
    fetch(resourceUrl(path, `rev=${shown.id}`), { credentials: 'same-origin' })
      .then((res) => (res.ok ? res.text() : Promise.reject(new Error(res.statusText))))
      .then((t) => (text.value = t))
      .catch((err: Error) => (error.value = `Could not read the file: ${err.message}`))
  }, [path, shown?.id])
  return text
}

/** bytes as base64, in chunks (one String.fromCharCode call for a large file overflows the stack) */
function base64Of(data: Uint8Array): string {
  let binary = ''
  for (let i = 0; i < data.length; i += 0x8000) binary += String.fromCharCode(...data.subarray(i, i + 0x8000))
  return btoa(binary)
}

function whyNotSaved(err: unknown): string {
  const conflict = err instanceof ApiError && err.status === 409
  return conflict
    ? 'Someone else saved a newer version while you were editing. Nothing was overwritten: your text is still here; copy it, then reload the file to see theirs.'
    : `Not saved: ${(err as Error).message}`
}

interface ChangeOptions {
  path: string
  kind: FileKind
  latest: Revision | null
  reload: Signal<number>
  editing: Signal<boolean>
}

/** save the draft or restore an old revision; notice says how it went */
export function useFileChanges({ path, kind, latest, reload, editing }: ChangeOptions) {
  const notice = useSignal<Notice>(null)

  async function put(body: Record<string, unknown>, done: string) {
    try {
      await api(resourceUrl(path), { method: 'PUT', body })
      notice.value = { ok: true, text: done }
      reload.value++
    } catch (err) {
      notice.value = { ok: false, text: whyNotSaved(err) }
    }
  }

  async function save(draft: string) {
    if (!latest) return
    if (kind === 'json') {
      try {
        JSON.parse(draft)
      } catch (err) {
        return void (notice.value = {
          ok: false,
          text: `Not saved: this is not valid JSON (${(err as Error).message}).`,
        })
      }
    }
    await put({ contents: draft, if_revision: latest.id }, 'Saved as a new revision.')
    if (notice.value?.ok) editing.value = false
  }

  async function restore(revision: Revision) {
    if (!latest) return
    const res = await fetch(resourceUrl(path, `rev=${revision.id}`), { credentials: 'same-origin' })
    await put(
      { data: base64Of(new Uint8Array(await res.arrayBuffer())), if_revision: latest.id },
      `Restored the revision of ${formatTime(Date.parse(revision.timestamp), false)} as a new revision.`,
    )
    if (notice.value?.ok) navigate(encodePath(path))
  }

  return { notice, save, restore }
}
