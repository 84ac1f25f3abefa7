// /: a card per organization (a system admin sees all), with its controllers online and offline,
// counted again when a controller connects or goes away (presence notices on the organization's topics).
import { useSignal } from '@preact/signals'
import { useEffect } from 'preact/hooks'
import { api, encodePath, type Organization } from '../../api.ts'
import { follow } from '../../live.ts'

/** Presence notices close together (a classroom of Pis switched on) make one count, this long after the last. */
const RECOUNT_DELAY_MS = 250

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
  const names = orgs.value?.map((o) => o.name).join('/') ?? ''
  useEffect(() => {
    if (!names) return
    let timer: ReturnType<typeof setTimeout> | undefined
    const stop = follow(
      names.split('/').map((name) => `${name}/#`),
      (_topic, payload) => {
        if (!payload.startsWith('{"type":"presence"')) return
        clearTimeout(timer)
        timer = setTimeout(load, RECOUNT_DELAY_MS)
      },
    )
    return () => {
      clearTimeout(timer)
      stop()
    }
  }, [names])
  return (
    <>
      <h1>Organizations</h1>
      {error.value && <p class="error" role="alert">{error.value}</p>}
      {orgs.value === undefined && !error.value && <p aria-busy="true">Loading…</p>}
      {orgs.value?.length === 0 && <p>You are not a member of any organization yet. Ask an administrator to add you to one.</p>}
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
