// A file's page: shown by its kind (image, Markdown, CSV table with column figures, text/JSON),
// text kinds editable (a save is a new revision, guarded by the revision loaded: a newer save by
// someone else is reported, never overwritten), and its revisions: view, download or restore.
import { useSignal, type Signal } from '@preact/signals'
import { encodePath, resourceUrl, type Described } from '../../api.ts'
import { Breadcrumb } from '../../components/Breadcrumb.tsx'
import { bytes } from '../../format.ts'
import { here } from '../../router.ts'
import { formatTime } from '../sequence/range.ts'
import { CsvTable } from './CsvTable.tsx'
import { INLINE_LIMIT, isTextKind, kindOf, type FileKind } from './kinds.ts'
import { Markdown } from './Markdown.tsx'
import { useFileChanges, useRevisions, useShownText, type Notice, type Revision } from './revisions.ts'
import '../sequence/sequence.css'
import { ErrorAlert } from '../../components/ErrorAlert.tsx'

export function FilePage({ path, meta }: { path: string; meta: Described }) {
  const kind = kindOf(meta.name)
  const { revisions, error, reload } = useRevisions(path)
  const editing = useSignal(false)
  const draft = useSignal('')
  const asked = Number(here.value.query.get('rev')) || null
  const latest = revisions.value?.at(-1) ?? null
  const shown = asked ? (revisions.value?.find((r) => r.id === asked) ?? null) : latest
  const old = asked !== null && latest !== null && asked !== latest.id
  const text = useShownText(path, kind, shown, error)
  const { notice, save, restore } = useFileChanges({ path, kind, latest, reload, editing })
  const edit = () => ((draft.value = text.value!), (editing.value = true), (notice.value = null))
  const editable = isTextKind(kind) && text.value !== null && !editing.value && !old

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
          {editable && (
            <button type="button" onClick={edit}>
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
        <Notices notice={notice.value} error={error.value} />
      </section>
      {revisions.value?.length === 0 && <p class="empty-range">This file has no content yet.</p>}
      {editing.value ? (
        <Editor
          name={meta.name}
          draft={draft}
          onSave={() => void save(draft.value)}
          onCancel={() => (editing.value = false)}
        />
      ) : (
        shown && <FileView path={path} name={meta.name} kind={kind} shown={shown} text={text.value} />
      )}
      {revisions.value && revisions.value.length > 0 && (
        <RevisionTable path={path} revisions={revisions.value} shown={shown} latest={latest} onRestore={restore} />
      )}
      <p>
        <a href={encodePath(path.slice(0, path.lastIndexOf('/')))}>Back to the folder</a>
      </p>
    </>
  )
}

function Notices({ notice, error }: { notice: Notice; error: string }) {
  return (
    <>
      {notice && (
        <p class={notice.ok ? 'note' : 'error'} role={notice.ok ? 'status' : 'alert'}>
          {notice.text}
        </p>
      )}
      <ErrorAlert message={error} />
    </>
  )
}

interface EditorProps {
  name: string
  draft: Signal<string>
  onSave: () => void
  onCancel: () => void
}

function Editor({ name, draft, onSave, onCancel }: EditorProps) {
  return (
    <section class="card editor">
      <label>
        Contents of {name}
        <textarea
          rows={18}
          value={draft.value}
          onInput={(e) => (draft.value = e.currentTarget.value)}
          spellcheck={false}
        />
      </label>
      <div class="buttons">
        <button type="button" class="primary" onClick={onSave}>
          Save
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </section>
  )
}

interface FileViewProps {
  path: string
  name: string
  kind: FileKind
  shown: Revision
  text: string | null
}

/** the revision shown, by its kind: an image, Markdown, a CSV table, text, or a note to download it */
function FileView({ path, name, kind, shown, text }: FileViewProps) {
  return (
    <section class="card file-view" aria-label="Contents">
      {kind === 'image' && <img class="file-image" src={resourceUrl(path, `rev=${shown.id}`)} alt={name} />}
      {isTextKind(kind) && shown.size > INLINE_LIMIT && (
        <p>This file is too large to show here ({bytes(shown.size)}); download it.</p>
      )}
      {text !== null && kind === 'markdown' && <Markdown text={text} />}
      {text !== null && kind === 'csv' && <CsvTable text={text} />}
      {text !== null && (kind === 'text' || kind === 'json') && (
        <pre class="file-text" data-testid="file-text">
          {text}
        </pre>
      )}
      {kind === 'other' && <p>This kind of file is not shown in the browser; download it to open it.</p>}
    </section>
  )
}

interface RevisionTableProps {
  path: string
  revisions: Revision[]
  shown: Revision | null
  latest: Revision | null
  onRestore: (revision: Revision) => Promise<void>
}

function RevisionTable({ path, revisions, shown, latest, onRestore }: RevisionTableProps) {
  return (
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
            {[...revisions].reverse().map((r) => (
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
                    <button type="button" onClick={() => void onRestore(r)}>
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
  )
}
