// /admin/organizations: every organization; create one (a folder name the API may refuse, e.g. a
// reserved one: its message is shown) and rename one (its full name).
import { useSignal, type Signal } from '@preact/signals'
import { useEffect } from 'preact/hooks'
import { api, encodePath, loadSession, type Organization } from '../../api.ts'
import { Dialog } from '../../components/Dialog.tsx'
import { useAction } from './useAction.ts'
import { ErrorAlert } from '../../components/ErrorAlert.tsx'

type Action = ReturnType<typeof useAction>

export function Organizations() {
  const orgs = useSignal<Organization[] | undefined>(undefined)
  const renaming = useSignal<Organization | null>(null)
  const done = useSignal('')
  const load = () =>
    api<Record<string, Organization>>('/api/v1/organizations?extended=1').then(
      (all) => (orgs.value = Object.values(all).sort((a, b) => a.name.localeCompare(b.name))),
    )
  const createAction = useAction(load)
  const renameAction = useAction(load)
  useEffect(() => {
    document.title = 'Organizations · Administration · Tendril'
    void createAction.run(load)
  }, [])
  const say = (text: string) => (done.value = text)

  return (
    <section aria-labelledby="orgs-heading">
      <h2 id="orgs-heading">Organizations</h2>
      <NewOrganization action={createAction} onDone={say} />
      <p class="ok" role="status">
        {done.value}
      </p>
      {orgs.value === undefined && !createAction.error.value && <p aria-busy="true">Loading…</p>}
      {orgs.value && (
        <OrganizationTable
          orgs={orgs.value}
          onRename={(org) => ((renameAction.error.value = ''), (renaming.value = org))}
        />
      )}
      <RenameDialog renaming={renaming} action={renameAction} onDone={say} />
    </section>
  )
}

function NewOrganization({ action, onDone }: { action: Action; onDone: (text: string) => void }) {
  const { busy, error, run } = action
  const create = (event: Event) => {
    event.preventDefault()
    const form = event.currentTarget as HTMLFormElement
    const data = new FormData(form)
    const name = String(data.get('folder_name') ?? '').trim()
    const fullName = String(data.get('full_name') ?? '').trim()
    void run(() =>
      api('/api/v1/organizations', {
        method: 'POST',
        body: { folder_name: name, ...(fullName ? { full_name: fullName } : {}) },
      }),
    ).then((ok) => {
      if (!ok) return
      form.reset()
      onDone(`Created /${name}.`)
    })
  }
  return (
    <form class="card" onSubmit={create} aria-labelledby="new-org-heading">
      <h3 id="new-org-heading">New organization</h3>
      <label for="org-name">Folder name</label>
      <input
        id="org-name"
        name="folder_name"
        required
        maxLength={100}
        autoComplete="off"
        aria-describedby="org-name-hint"
      />
      <p id="org-name-hint" class="hint">
        The first part of its pages' addresses (/name/…). Names the site uses itself, such as admin or settings, are not
        available.
      </p>
      <label for="org-full-name">Full name</label>
      <input id="org-full-name" name="full_name" maxLength={200} autoComplete="off" />
      <ErrorAlert message={error.value} />
      <div class="buttons">
        <button type="submit" class="primary" disabled={busy.value}>
          Create organization
        </button>
      </div>
    </form>
  )
}

function OrganizationTable({ orgs, onRename }: { orgs: Organization[]; onRename: (org: Organization) => void }) {
  return (
    <table class="rows" aria-label="Organizations">
      <thead>
        <tr>
          <th>Folder</th>
          <th>Full name</th>
          <th>Controllers</th>
          <th>Actions</th>
        </tr>
      </thead>
      <tbody>
        {orgs.map((org) => (
          <tr key={org.id} data-name={org.name}>
            <td data-label="Folder">
              <a href={encodePath('/' + org.name)}>/{org.name}</a>
            </td>
            <td data-label="Full name">{org.full_name}</td>
            <td data-label="Controllers">
              {org.controllers ? `${org.controllers.online} online, ${org.controllers.offline} offline` : '—'}
            </td>
            <td>
              <div class="row-actions">
                <button type="button" onClick={() => onRename(org)} aria-label={`Rename ${org.name}`}>
                  Rename…
                </button>
              </div>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

interface RenameProps {
  renaming: Signal<Organization | null>
  action: Action
  onDone: (text: string) => void
}

function RenameDialog({ renaming, action, onDone }: RenameProps) {
  const rename = (event: Event) => {
    event.preventDefault()
    const org = renaming.value!
    const fullName = String(new FormData(event.currentTarget as HTMLFormElement).get('full_name') ?? '').trim()
    void action
      .run(() => api(`/api/v1/organizations/${org.id}`, { method: 'PUT', body: { full_name: fullName } }))
      .then((ok) => {
        if (!ok) return
        renaming.value = null
        onDone(`/${org.name} is now called ${fullName}.`)
        void loadSession() // the header and home page show organizations' full names
      })
  }
  return (
    <Dialog
      title={`Rename /${renaming.value?.name ?? ''}`}
      open={renaming.value !== null}
      onClose={() => (renaming.value = null)}
    >
      {renaming.value && (
        <form class="account-dialog" onSubmit={rename}>
          <label for="rename-full-name">Full name</label>
          <input
            id="rename-full-name"
            name="full_name"
            required
            maxLength={200}
            defaultValue={renaming.value.full_name}
          />
          <p class="hint">The folder name (the addresses of its pages) stays as it is.</p>
          <ErrorAlert message={action.error.value} />
          <div class="buttons">
            <button type="button" onClick={() => (renaming.value = null)}>
              Cancel
            </button>
            <button type="submit" class="primary" disabled={action.busy.value}>
              Save
            </button>
          </div>
        </form>
      )}
    </Dialog>
  )
}
