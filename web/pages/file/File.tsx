// A file's page: shown by its kind (image, Markdown, CSV table with column figures, text/JSON),
// text kinds editable (a save is a new revision, guarded by the revision loaded: a newer save by
// someone else is reported, never overwritten), and its revisions: view, download or restore.
import { useSignal } from '@preact/signals'
import { useEffect } from 'preact/hooks'
import { ApiError, api, encodePath, resourceUrl, type Described } from '../../api.ts'
import { Breadcrumb } from '../../components/Breadcrumb.tsx'
import { bytes } from '../../format.ts'
import { here, navigate } from '../../router.ts'
import { formatTime } from '../sequence/range.ts'
import { CsvTable } from './CsvTable.tsx'
import { INLINE_LIMIT, isTextKind, kindOf } from './kinds.ts'
import { Markdown } from './Markdown.tsx'
import '../sequence/sequence.css'

interface Revision {
  id: number
  timestamp: string
  size: number
}

export function FilePage({ path, meta }: { path: string; meta: Described }) {
  const kind = kindOf(meta.name)
  const revisions = useSignal<Revision[] | undefined>(undefined)
  const text = useSignal<string | null>(null)
  const error = useSignal('')
  const reload = useSignal(0)
  const editing = useSignal(false)
  const draft = useSignal('')
  const notice = useSignal<{ ok: boolean; text: string } | null>(null)
  const asked = Number(here.value.query.get('rev')) || null
  const latest = revisions.value?.at(-1) ?? null
  const shown = asked ? (revisions.value?.find((r) => r.id === asked) ?? null) : latest
  const old = asked !== null && latest !== null && asked !== latest.id

  useEffect(() => {
    api<Revision[]>(resourceUrl(path, 'revisions=1'))
      .then((r) => (revisions.value = r))
      .catch((err: Error) => (error.value = `Could not list the revisions: ${err.message}`))
  }, [path, reload.value])

  // the text of the revision shown, for the kinds shown as text
  useEffect(() => {
    text.value = null
    if (!shown || !isTextKind(kind) || shown.size > INLINE_LIMIT) return
    fetch(resourceUrl(path, `rev=${shown.id}`), { credentials: 'same-origin' })
      .then((res) => (res.ok ? res.text() : Promise.reject(new Error(res.statusText))))
      .then((t) => (text.value = t))
      .catch((err: Error) => (error.value = `Could not read the file: ${err.message}`))
  }, [path, shown?.id])

  async function save() {
    if (!latest) return
    if (kind === 'json') {
      try {
        JSON.parse(draft.value)
      } catch (err) {
        return void (notice.value = {
          ok: false,
          text: `Not saved: this is not valid JSON (${(err as Error).message}).`,
        })
      }
    }
    await put({ contents: draft.value, if_revision: latest.id }, 'Saved as a new revision.')
    if (notice.value?.ok) editing.value = false
  }

  async function restore(revision: Revision) {
    if (!latest) return
    const res = await fetch(resourceUrl(path, `rev=${revision.id}`), { credentials: 'same-origin' })
    const data = new Uint8Array(await res.arrayBuffer())
    let binary = ''
    for (let i = 0; i < data.length; i += 0x8000) binary += String.fromCharCode(...data.subarray(i, i + 0x8000))
    await put(
      { data: btoa(binary), if_revision: latest.id },
      `Restored the revision of ${formatTime(Date.parse(revision.timestamp), false)} as a new revision.`,
    )
    if (notice.value?.ok) navigate(encodePath(path))
  }

  async function put(body: Record<string, unknown>, done: string) {
    try {
      await api(resourceUrl(path), { method: 'PUT', body })
      notice.value = { ok: true, text: done }
      reload.value++
    } catch (err) {
      const conflict = err instanceof ApiError && err.status === 409
      notice.value = {
        ok: false,
        text: conflict
          ? 'Someone else saved a newer version while you were editing. Nothing was overwritten: your text is still here; copy it, then reload the file to see theirs.'
          : `Not saved: ${(err as Error).message}`,
      }
    }
  }

  const url = shown ? resourceUrl(path, `rev=${shown.id}`) : resourceUrl(path)
  return (
    <>
      <Breadcrumb path={path} />
      <h1>{meta.name}</h1>
      <section class="card file-info">
        <dl class="figures">
          <dt>Size</dt>
          <dd>{bytes(shown?.size ?? meta.size)}</dd>
          <dt>Type</dt>
          <dd>{kind === 'other' ? 'file' : kind}</dd>
          <dt>{old ? 'Revision of' : 'Modified'}</dt>
          <dd>{shown ? formatTime(Date.parse(shown.timestamp), false) : '—'}</dd>
        </dl>
        <p class="buttons-row">
          <a class="button" href={resourceUrl(path, `${shown ? `rev=${shown.id}&` : ''}download=1`)} download>
            Download
          </a>
          {isTextKind(kind) && text.value !== null && !editing.value && !old && (
            <button
              type="button"
              onClick={() => ((draft.value = text.value!), (editing.value = true), (notice.value = null))}
            >
              Edit
            </button>
          )}
          {old && shown && (
            <>
              <button type="button" onClick={() => void restore(shown)}>
                Restore this revision
              </button>
              <a href={encodePath(path)}>Show the latest</a>
            </>
          )}
        </p>
        {old && <p class="warning">You are looking at an older revision.</p>}
        {notice.value && (
          <p class={notice.value.ok ? 'note' : 'error'} role={notice.value.ok ? 'status' : 'alert'}>
            {notice.value.text}
          </p>
        )}
        {error.value && (
          <p class="error" role="alert">
            {error.value}
          </p>
        )}
      </section>
      {revisions.value?.length === 0 && <p class="empty-range">This file has no content yet.</p>}
      {editing.value ? (
        <section class="card editor">
          <label>
            Contents of {meta.name}
            <textarea
              rows={18}
              value={draft.value}
              onInput={(e) => (draft.value = e.currentTarget.value)}
              spellcheck={false}
            />
          </label>
          <div class="buttons">
            <button type="button" class="primary" onClick={() => void save()}>
              Save
            </button>
            <button type="button" onClick={() => (editing.value = false)}>
              Cancel
            </button>
          </div>
        </section>
      ) : (
        shown && (
          <section class="card file-view" aria-label="Contents">
            {kind === 'image' && <img class="file-image" src={url} alt={meta.name} />}
            {isTextKind(kind) && shown.size > INLINE_LIMIT && (
              <p>This file is too large to show here ({bytes(shown.size)}); download it.</p>
            )}
            {text.value !== null && kind === 'markdown' && <Markdown text={text.value} />}
            {text.value !== null && kind === 'csv' && <CsvTable text={text.value} />}
            {text.value !== null && (kind === 'text' || kind === 'json') && (
              <pre class="file-text" data-testid="file-text">
                {text.value}
              </pre>
            )}
            {kind === 'other' && <p>This kind of file is not shown in the browser; download it to open it.</p>}
          </section>
        )
      )}
      {revisions.value && revisions.value.length > 0 && (
        <section class="card revisions" aria-label="Revisions">
          <h2>Revisions</h2>
          <div class="table-scroll" tabIndex={0} role="region" aria-label="Table of revisions">
            <table>
              <thead>
                <tr>
                  <th scope="col">Saved</th>
                  <th scope="col">Size</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {[...revisions.value].reverse().map((r) => (
                  <tr key={r.id} aria-current={r.id === shown?.id ? 'true' : undefined}>
                    <td>
                      {formatTime(Date.parse(r.timestamp), false)}
                      {r.id === latest?.id && ' (latest)'}
                    </td>
                    <td>{bytes(r.size)}</td>
                    <td class="row-actions">
                      <a href={`${encodePath(path)}?rev=${r.id}`}>View</a>{' '}
                      <a href={resourceUrl(path, `rev=${r.id}&download=1`)} download>
                        Download
                      </a>
                      {r.id !== latest?.id && (
                        <button type="button" onClick={() => void restore(r)}>
                          Restore
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      )}
      <p>
        <a href={encodePath(path.slice(0, path.lastIndexOf('/')))}>Back to the folder</a>
      </p>
    </>
  )
}
