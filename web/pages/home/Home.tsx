// /: a card per organization (a system admin sees all), with its controllers online and offline,
// counted again when a controller connects or goes away (presence notices on the organization's topics).
import { useSignal } from '@preact/signals'
import { useEffect } from 'preact/hooks'
import { api, encodePath, type Organization } from '../../api.ts'
import { useReloadOnPresence } from '../../reconnect.ts'
import { ErrorAlert } from '../../components/ErrorAlert.tsx'

export function Home() {
  const orgs = useSignal<Organization[] | undefined>(undefined)
  const error = useSignal('')
  const load = () =>
    api<Record<string, Organization>>('/api/v1/organizations?extended=1')
      .then((byId) => (orgs.value = Object.values(byId).sort((a, b) => a.full_name.localeCompare(b.full_name))))
      .catch((err: Error) => (error.value = err.message))
  useEffect(() => {
    document.title = 'Home · Tendril'
    void load()
  }, [])
  useReloadOnPresence(orgs.value?.map((o) => o.name) ?? [], load)
  return (
    <>
      <h1>Organizations</h1>
      <ErrorAlert message={error.value} />
      {orgs.value === undefined && !error.value && <p aria-busy="true">Loading…</p>}
      {orgs.value?.length === 0 && (
        <p>You are not a member of any organization yet. Ask an administrator to add you to one.</p>
      )}
      <ul class="cards">
        {orgs.value?.map((org) => (
          <li key={org.id} class="card org">
            <h2>
              <a href={encodePath('/' + org.name)}>{org.full_name}</a>
            </h2>
            {org.full_name !== org.name && <p class="muted">/{org.name}</p>}
            {org.controllers && (
              <p class="counts">
                <span class="status online">
                  <span class="dot" aria-hidden="true" />
                  {org.controllers.online} online
                </span>
                <span class="status offline">
                  <span class="dot" aria-hidden="true" />
                  {org.controllers.offline} offline
                </span>
              </p>
            )}
          </li>
        ))}
      </ul>
    </>
  )
}
