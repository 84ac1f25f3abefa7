// /admin/organizations: every organization; create one (a folder name the API may refuse, e.g. a
// reserved one: its message is shown) and rename one (its full name).
import { useSignal } from '@preact/signals'
import { useEffect } from 'preact/hooks'
import { api, encodePath, loadSession, type Organization } from '../../api.ts'
import { Dialog } from '../../components/Dialog.tsx'
import { useAction } from './useAction.ts'

export function Organizations() {
  const orgs = useSignal<Organization[] | undefined>(undefined)
  const renaming = useSignal<Organization | null>(null)
  const done = useSignal('')
  const load = () =>
    api<Record<string, Organization>>('/api/v1/organizations?extended=1').then(
      (all) => (orgs.value = Object.values(all).sort((a, b) => a.name.localeCompare(b.name))),
    )
  const { busy, error, run } = useAction(load)
  const renameAction = useAction(load)
  useEffect(() => {
    document.title = 'Organizations · Administration · Tendril'
    void run(load)
  }, [])

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
      done.value = `Created /${name}.`
    })
  }
  const rename = (event: Event) => {
    event.preventDefault()
    const org = renaming.value!
    const fullName = String(new FormData(event.currentTarget as HTMLFormElement).get('full_name') ?? '').trim()
    void renameAction
      .run(() => api(`/api/v1/organizations/${org.id}`, { method: 'PUT', body: { full_name: fullName } }))
      .then((ok) => {
        if (!ok) return
        renaming.value = null
        done.value = `/${org.name} is now called ${fullName}.`
        void loadSession() // the header and home page show organizations' full names
      })
  }

  return (
    <section aria-labelledby="orgs-heading">
      <h2 id="orgs-heading">Organizations</h2>
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
          The first part of its pages' addresses (/name/…). Names the site uses itself, such as admin or settings, are
          not available.
        </p>
        <label for="org-full-name">Full name</label>
        <input id="org-full-name" name="full_name" maxLength={200} autoComplete="off" />
        {error.value && (
          <p class="error" role="alert">
            {error.value}
          </p>
        )}
        <div class="buttons">
          <button type="submit" class="primary" disabled={busy.value}>
            Create organization
          </button>
        </div>
      </form>
      <p class="ok" role="status">
        {done.value}
      </p>
      {orgs.value === undefined && !error.value && <p aria-busy="true">Loading…</p>}
      {orgs.value && (
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
            {orgs.value.map((org) => (
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
                    <button
                      type="button"
                      onClick={() => ((renameAction.error.value = ''), (renaming.value = org))}
                      aria-label={`Rename ${org.name}`}
                    >
                      Rename…
                    </button>
                  </div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
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
            {renameAction.error.value && (
              <p class="error" role="alert">
                {renameAction.error.value}
              </p>
            )}
            <div class="buttons">
              <button type="button" onClick={() => (renaming.value = null)}>
                Cancel
              </button>
              <button type="submit" class="primary" disabled={renameAction.busy.value}>
                Save
              </button>
            </div>
          </form>
        )}
      </Dialog>
    </section>
  )
}
