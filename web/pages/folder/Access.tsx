// ?tab=access on a folder its writers see: who may read or write it, as the permission list that
// decides (its own, or inherited from the nearest folder that has one) and as what each member gets;
// editing that list; and a public read-only link for a classroom screen. The API decides every change.
import { encodePath, session, type Described } from '../../api.ts'
import { CopyButton } from '../../components/CopyButton.tsx'
import { Confirm } from '../organization/Confirm.tsx'
import '../organization/organization.css'
import {
  candidatesFor,
  LEVELS,
  levelFor,
  levelWord,
  nameOf,
  parseWho,
  publicLevelOf,
  sameWho,
  withoutPublic,
  withPublicRead,
  type Entry,
  type Names,
} from './permissions.ts'
import { useAccess, type AccessState } from './useAccess.ts'
import { ErrorAlert } from '../../components/ErrorAlert.tsx'

export function Access({ path, meta: initial }: { path: string; meta: Described }) {
  const access = useAccess(path, initial)
  const { names, error, notice } = access
  const n = names.value
  if (!n)
    return error.value ? (
      <p class="error" role="alert">
        {error.value}
      </p>
    ) : (
      <p aria-busy="true">Loading…</p>
    )
  const effective = access.meta.value.effective_permissions ?? []
  const source = access.meta.value.permission_source ?? null
  const view = { path, access, names: n, effective, source, own: source === path }

  return (
    <div class="admin-page">
      <WhoHasAccess {...view} />
      <PublicLink {...view} />
      <ErrorAlert message={error.value} />
      <p class="notice" role="status">
        {notice.value}
      </p>
      <ChangePermissions {...view} />
      <Confirms {...view} />
    </div>
  )
}

interface ViewProps {
  path: string
  access: AccessState
  names: Names
  /** the list that decides: the folder's own or the inherited one */
  effective: Entry[]
  /** the folder whose list that is (null: none here or above) */
  source: string | null
  own: boolean
}

function WhoHasAccess({ names: n, effective, source, own }: ViewProps) {
  return (
    <section class="card" aria-labelledby="access-now">
      <h2 id="access-now">Who has access</h2>
      <p>
        {own ? (
          'This folder has its own permissions.'
        ) : source ? (
          <>
            Inherited from <a href={encodePath(source)}>{source}</a>: change them there, or give this folder its own
            below.
          </>
        ) : (
          'No permissions are set here or above: only system administrators have access.'
        )}
      </p>
      <ul class="access-list" aria-label="Permission entries">
        {effective.map((e) => (
          <li key={`${e[0]}:${e[1]}`}>
            {nameOf(e, n)}: <strong>{levelWord(e[2])}</strong>
          </li>
        ))}
        <li class="muted">System administrators: write (always)</li>
        <li class="muted">Everyone else: no access</li>
      </ul>
      {n.members && (
        <>
          <h3 id="member-access">What each member gets</h3>
          <ul class="access-list" aria-labelledby="member-access">
            {n.members.map((mem) => (
              <li key={mem.user_id}>
                {mem.email_address}: <strong>{levelWord(levelFor(effective, mem.user_id, [n.orgId!]))}</strong>
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  )
}

function PublicLink({ path, access, effective, source, own }: ViewProps) {
  const publicLevel = publicLevelOf(effective)
  const link = `${location.origin}${encodePath(path)}?kiosk=1`
  return (
    <section class="card" aria-labelledby="public-link">
      <h2 id="public-link">Public read-only link</h2>
      {publicLevel >= 10 ? (
        <>
          <p>
            Anyone with this link can view the folder{publicLevel >= 20 ? ' and change it' : ''} without signing in,
            e.g. on a classroom screen.
          </p>
          <div class="link-row">
            <label class="sr-only" for="kiosk-link">
              Public link
            </label>
            <input id="kiosk-link" readOnly value={link} onFocus={(e) => e.currentTarget.select()} />
            <CopyButton text={link} what="the kiosk link" />
          </div>
          <p>
            <button type="button" class="danger" onClick={() => (access.confirming.value = 'unpublish')}>
              Stop public access…
            </button>
          </p>
        </>
      ) : (
        <>
          <p class="hint">
            For a screen in a classroom: anyone with the link can view this folder and what is in it, but not change it.
          </p>
          {!own && source && (
            <p class="hint">
              This gives the folder its own permissions: what it inherits from {source}, plus public read.
            </p>
          )}
          <button
            type="button"
            class="primary"
            disabled={access.busy.value}
            onClick={() =>
              void access.save(withPublicRead(effective), 'The folder is public (read-only): share its link.')
            }
          >
            Make public (read-only) and show the link
          </button>
        </>
      )}
    </section>
  )
}

function ChangePermissions({ access, names, effective, own }: ViewProps) {
  const { draft, confirming, busy, save } = access
  return (
    <section class="card" aria-labelledby="access-edit">
      <h2 id="access-edit">Change permissions</h2>
      {draft.value === null ? (
        <div class="actions">
          <button type="button" onClick={() => (draft.value = effective.map((e) => [...e] as Entry))}>
            {own ? 'Edit permissions' : 'Give this folder its own permissions'}
          </button>
          {own && (
            <button type="button" class="danger" onClick={() => (confirming.value = 'inherit')}>
              Inherit from the parent again…
            </button>
          )}
        </div>
      ) : (
        <Editor
          draft={draft.value}
          names={names}
          busy={busy.value}
          onChange={(next) => (draft.value = next)}
          onSave={() => void save(draft.value, 'The permissions were saved.')}
          onCancel={() => (draft.value = null)}
        />
      )}
    </section>
  )
}

function Confirms({ access, effective }: ViewProps) {
  const { confirming, busy, save } = access
  return (
    <>
      <Confirm
        title="Inherit the parent's permissions?"
        open={confirming.value === 'inherit'}
        busy={busy.value}
        error=""
        label="Inherit"
        onConfirm={() => void save(null, 'The folder inherits its permissions again.')}
        onClose={() => (confirming.value = null)}
      >
        <p>This folder's own list is removed; the nearest folder above with a list decides again.</p>
      </Confirm>
      <Confirm
        title="Stop public access?"
        open={confirming.value === 'unpublish'}
        busy={busy.value}
        error=""
        label="Stop public access"
        onConfirm={() => void save(withoutPublic(effective), 'The folder is no longer public.')}
        onClose={() => (confirming.value = null)}
      >
        <p>The public link stops working at once; screens showing it lose the folder.</p>
      </Confirm>
    </>
  )
}

interface EditorProps {
  draft: Entry[]
  names: Names
  busy: boolean
  onChange: (next: Entry[]) => void
  onSave: () => void
  onCancel: () => void
}

/** The list being edited: each entry's level, remove one, add one; nothing is sent until Save. */
function Editor({ draft, names, busy, onChange, onSave, onCancel }: EditorProps) {
  const me = session.value
  const mine =
    me && !me.user.system_admin
      ? levelFor(
          draft,
          me.user.id,
          me.organizations.map((o) => o.id),
        )
      : 20
  const free = candidatesFor(names).filter(([who]) => !draft.some((e) => sameWho(e, parseWho(who))))
  return (
    <>
      {draft.length === 0 && <p class="empty">No entries: nobody but system administrators will have access.</p>}
      <EntryRows draft={draft} names={names} onChange={onChange} />
      {free.length > 0 && <AddEntry free={free} onAdd={(entry) => onChange([...draft, entry])} />}
      {mine < 20 && (
        <p class="lockout" role="alert">
          After saving you will have {levelWord(mine)} here, and can no longer change this folder's permissions.
        </p>
      )}
      <div class="buttons">
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
        <button type="button" class="primary" disabled={busy} onClick={onSave}>
          Save permissions
        </button>
      </div>
    </>
  )
}

function EntryRows({ draft, names, onChange }: Pick<EditorProps, 'draft' | 'names' | 'onChange'>) {
  return (
    <ul class="org-rows" aria-label="Entries being edited">
      {draft.map((e, i) => (
        <li key={`${e[0]}:${e[1]}`} class="org-row">
          <label class="who-is" for={`level-${i}`}>
            {nameOf(e, names)}
          </label>
          <select
            id={`level-${i}`}
            value={e[2]}
            onChange={(ev) =>
              onChange(draft.map((d, j) => (j === i ? ([d[0], d[1], Number(ev.currentTarget.value)] as Entry) : d)))
            }
          >
            {levelOptions()}
          </select>
          <button
            type="button"
            onClick={() => onChange(draft.filter((_, j) => j !== i))}
            aria-label={`Remove ${nameOf(e, names)}`}
          >
            Remove
          </button>
        </li>
      ))}
    </ul>
  )
}

function AddEntry({ free, onAdd }: { free: [string, string][]; onAdd: (entry: Entry) => void }) {
  const add = (event: Event) => {
    event.preventDefault()
    const form = new FormData(event.currentTarget as HTMLFormElement)
    const entry = parseWho(String(form.get('who')))
    entry[2] = Number(form.get('level'))
    onAdd(entry)
  }
  return (
    <form class="inline-form add-entry" onSubmit={add}>
      <label for="entry-who">Add</label>
      <select id="entry-who" name="who">
        {free.map(([who, label]) => (
          <option key={who} value={who}>
            {label}
          </option>
        ))}
      </select>
      <label for="entry-level">with</label>
      <select id="entry-level" name="level" defaultValue="10">
        {levelOptions()}
      </select>
      <button type="submit">Add entry</button>
    </form>
  )
}

const levelOptions = () =>
  LEVELS.map(([l, word]) => (
    <option key={l} value={l}>
      {word}
    </option>
  ))
