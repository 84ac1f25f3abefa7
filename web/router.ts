// The address bar is the state: the path names the page, the query its view (tab, filter), so
// every page can be shared and Back/Forward work. Links are plain <a href> that this intercepts.
import { signal } from '@preact/signals'

export interface Location {
  path: string
  query: URLSearchParams
}

const read = (): Location => ({
  path: decodeURIComponent(location.pathname),
  query: new URLSearchParams(location.search),
})

export const here = signal<Location>(read())

export function navigate(url: string, options: { replace?: boolean } = {}): void {
  if (options.replace) history.replaceState(null, '', url)
  else history.pushState(null, '', url)
  here.value = read()
  window.scrollTo(0, 0)
}

/** Changes the query of this page (a view setting) without a new history entry. */
export function setQuery(changes: Record<string, string | null>): void {
  const query = new URLSearchParams(location.search)
  for (const [key, value] of Object.entries(changes)) {
    if (value === null) query.delete(key)
    else query.set(key, value)
  }
  const search = query.toString()
  history.replaceState(null, '', location.pathname + (search ? `?${search}` : ''))
  here.value = read()
}

/** Only a same-site path that is a page of the UI (a sign-in's next=, never another site or the API). */
export function safeNext(next: string | null): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return '/'
  try {
    const url = new URL(next, location.origin)
    if (url.origin !== location.origin || url.pathname.startsWith('/api/') || url.pathname.startsWith('/sign-'))
      return '/'
    return url.pathname + url.search
  } catch {
    return '/'
  }
}

export function startRouter(): void {
  addEventListener('popstate', () => (here.value = read()))
  document.addEventListener('click', (event) => {
    if (
      event.defaultPrevented ||
      event.button !== 0 ||
      event.metaKey ||
      event.ctrlKey ||
      event.shiftKey ||
      event.altKey
    )
      return
    const link = (event.target as Element | null)?.closest?.('a')
    if (!link || link.target || link.hasAttribute('download') || link.origin !== location.origin) return
    if (link.pathname.startsWith('/api/') || link.pathname.startsWith('/assets/')) return
    event.preventDefault()
    navigate(link.pathname + link.search)
  })
}
