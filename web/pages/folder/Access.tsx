// ?tab=access on a folder its writers see: who may read or write it, as the permission list that
// decides (its own, or inherited from the nearest folder that has one) and as what each member gets;
// editing that list; and a public read-only link for a classroom screen. The API decides every change.
import { useSignal } from '@preact/signals'
import { useEffect } from 'preact/hooks'
import { api, encodePath, resourceUrl, session, type Described } from '../../api.ts'
import { CopyButton } from '../../components/CopyButton.tsx'
import { Confirm } from '../organization/Confirm.tsx'
import { loadMembers, orgUrl, type Member } from '../organization/admin.ts'
import '../organization/organization.css'

/** [type, principal, level] as core/resources/permissions.ts has it */
type Entry = [number, number | null, number]
const T = { public: 100, orgUsers: 110, orgControllers: 120, user: 130, controller: 140 } as const
const LEVELS: [number, string][] = [
  [0, 'no access'],
  [10, 'read'],
  [20, 'write'],
]
const levelWord = (level: number) => LEVELS.find(([l]) => l === level)?.[1] ?? `level ${level}`

interface AccessMeta extends Described {
  permission_source?: string | null
  effective_permissions?: Entry[]
}

interface Names {
  /** null for a writer who is not a member (a user entry of theirs): the organization's entries show by number */
  orgId: number | null
  orgName: string
  /** null when the caller may not list members (not an admin of the organization) */
  members: Member[] | null
  controllers: { id: number; path: string }[]
}

function nameOf([type, id]: Entry, names: Names): string {
  if (type === T.public) return 'Public (anyone, without signing in)'
  if (type === T.orgUsers) return id === names.orgId ? `Members of ${names.orgName}` : `Members of organization #${id}`
  if (type === T.orgControllers)
    return id === names.orgId ? `Controllers of ${names.orgName}` : `Controllers of organization #${id}`
  if (type === T.user) return names.members?.find((m) => m.user_id === id)?.email_address ?? `User #${id}`
  if (type === T.controller) return `Controller ${names.controllers.find((c) => c.id === id)?.path ?? `#${id}`}`
  return `Entry type ${type}`
}

/** What a person gets from a list: the highest level among the entries naming them (permissions.ts effectiveLevel). */
function levelFor(entries: Entry[], userId: number, organizationIds: number[]): number {
  let level = 0
  for (const [type, id, l] of entries) {
    const matches =
      type === T.public ||
      (type === T.orgUsers && organizationIds.includes(id as number)) ||
      (type === T.user && id === userId)
    if (matches && l > level) level = l
  }
  return level
}

const sameWho = (a: Entry, b: Entry) => a[0] === b[0] && a[1] === b[1]

export function Access({ path, meta: initial }: { path: string; meta: Described }) {
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

  const n = names.value
  const m = meta.value
  if (!n)
    return error.value ? (
      <p class="error" role="alert">
        {error.value}
      </p>
    ) : (
      <p aria-busy="true">Loading…</p>
    )
  const effective = m.effective_permissions ?? []
  const source = m.permission_source ?? null
  const own = source === path
  const publicLevel = Math.max(0, ...effective.filter((e) => e[0] === T.public).map((e) => e[2]))
  const link = `${location.origin}${encodePath(path)}?kiosk=1`
  const withPublicRead = (): Entry[] => [...effective.filter((e) => e[0] !== T.public), [T.public, null, 10]]

  return (
    <div class="admin-page">
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
              <button type="button" class="danger" onClick={() => (confirming.value = 'unpublish')}>
                Stop public access…
              </button>
            </p>
          </>
        ) : (
          <>
            <p class="hint">
              For a screen in a classroom: anyone with the link can view this folder and what is in it, but not change
              it.
            </p>
            {!own && source && (
              <p class="hint">
                This gives the folder its own permissions: what it inherits from {source}, plus public read.
              </p>
            )}
            <button
              type="button"
              class="primary"
              disabled={busy.value}
              onClick={() => void save(withPublicRead(), 'The folder is public (read-only): share its link.')}
            >
              Make public (read-only) and show the link
            </button>
          </>
        )}
      </section>

      {error.value && (
        <p class="error" role="alert">
          {error.value}
        </p>
      )}
      <p class="notice" role="status">
        {notice.value}
      </p>

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
            names={n}
            busy={busy.value}
            onChange={(next) => (draft.value = next)}
            onSave={() => void save(draft.value, 'The permissions were saved.')}
            onCancel={() => (draft.value = null)}
          />
        )}
      </section>

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
        onConfirm={() =>
          void save(
            effective.filter((e) => e[0] !== T.public),
            'The folder is no longer public.',
          )
        }
        onClose={() => (confirming.value = null)}
      >
        <p>The public link stops working at once; screens showing it lose the folder.</p>
      </Confirm>
    </div>
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
  const candidates: [string, string][] = [
    [`${T.public}:`, nameOf([T.public, null, 0], names)],
    ...(names.orgId === null
      ? []
      : ([
          [`${T.orgUsers}:${names.orgId}`, nameOf([T.orgUsers, names.orgId, 0], names)],
          [`${T.orgControllers}:${names.orgId}`, nameOf([T.orgControllers, names.orgId, 0], names)],
        ] as [string, string][])),
    ...(names.members ?? []).map((m): [string, string] => [`${T.user}:${m.user_id}`, m.email_address]),
    ...names.controllers.map((c): [string, string] => [`${T.controller}:${c.id}`, `Controller ${c.path}`]),
  ]
  const parse = (who: string): Entry => {
    const [type, id] = who.split(':')
    return [Number(type), id ? Number(id) : null, 0]
  }
  const free = candidates.filter(([who]) => !draft.some((e) => sameWho(e, parse(who))))
  const add = (event: Event) => {
    event.preventDefault()
    const form = new FormData(event.currentTarget as HTMLFormElement)
    const entry = parse(String(form.get('who')))
    entry[2] = Number(form.get('level'))
    onChange([...draft, entry])
  }
  return (
    <>
      {draft.length === 0 && <p class="empty">No entries: nobody but system administrators will have access.</p>}
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
              {LEVELS.map(([l, word]) => (
                <option key={l} value={l}>
                  {word}
                </option>
              ))}
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
      {free.length > 0 && (
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
            {LEVELS.map(([l, word]) => (
              <option key={l} value={l}>
                {word}
              </option>
            ))}
          </select>
          <button type="submit">Add entry</button>
        </form>
      )}
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
