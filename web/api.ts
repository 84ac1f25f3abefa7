// The one API client every page uses: JSON in and out, the session's CSRF token on every change,
// and a lapsed session (401) sends the person to sign in, to come back where they were.
import { signal } from '@preact/signals'

export interface SessionUser {
  id: number
  email: string
  full_name: string
  system_admin: boolean
}

export interface SessionOrganization {
  id: number
  name: string
  full_name: string
  is_admin: boolean
}

export interface Session {
  user: SessionUser
  organizations: SessionOrganization[]
  csrf_token: string
  /** the largest file upload, in bytes (--upload-limit) */
  upload_limit: number
  /** the shortest password the server accepts (--password-min-length) */
  password_min_length: number
}

export interface Organization {
  id: number
  name: string
  full_name: string
  controllers?: { online: number; offline: number }
}

/** A folder listing's entry with extended=1 (core/resources/resource-json.ts describeListed). */
export interface Listed {
  id: number
  name: string
  type: number
  system_attributes: Record<string, unknown>
  modification_timestamp: string | null
  creation_timestamp: string | null
  size?: number
  connected?: boolean
  last_connect_timestamp?: string | null
  last_watchdog_timestamp?: string | null
  client_version?: string
  last_value?: string | null
  last_value_timestamp?: string | null
}

export interface Described extends Listed {
  path: string
  /** what the caller may do here (meta=1): the page offers changes only to writers */
  access: 'read' | 'write'
}

export const ResourceType = {
  folder: 10,
  organization: 11,
  controller: 12,
  remote: 13,
  file: 20,
  sequence: 21,
  app: 22,
} as const
export const isFolderType = (type: number) => type >= 10 && type < 20

/** The signed-in person: undefined while unknown (first load), null when signed out. */
export const session = signal<Session | null | undefined>(undefined)

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message)
  }
}

/** Encodes each segment of "/org/a b/c" for a URL, keeping the slashes. */
export const encodePath = (path: string) =>
  path
    .split('/')
    .map((segment) => encodeURIComponent(segment))
    .join('/')

export const resourceUrl = (path: string, query = '') =>
  `/api/v1/resources${encodePath(path)}${query ? `?${query}` : ''}`

/** Where a lapsed session is sent: sign-in, coming back to the page the person was on. */
export function signInUrl(next = location.pathname + location.search): string {
  return next && next !== '/' && !next.startsWith('/sign-in') ? `/sign-in?next=${encodeURIComponent(next)}` : '/sign-in'
}

let onSignedOut: (() => void) | undefined
/** The router's way of answering a 401 (set once, by main.tsx). */
export const whenSignedOut = (handler: () => void) => void (onSignedOut = handler)

export async function messageOf(res: Response): Promise<string> {
  try {
    const body = (await res.json()) as { message?: string }
    return body.message ?? res.statusText
  } catch {
    return res.statusText || `HTTP ${res.status}`
  }
}

export interface RequestOptions {
  method?: string
  body?: unknown
  /** a 401 is the caller's to handle (sign-in), not a lapsed session */
  quiet401?: boolean
  /** to abandon a request no longer wanted (a page's range changed) */
  signal?: AbortSignal
}

export async function api<T>(url: string, options: RequestOptions = {}): Promise<T> {
  const method = options.method ?? 'GET'
  const headers: Record<string, string> = { accept: 'application/json' }
  const csrf = session.value?.csrf_token
  if (method !== 'GET' && csrf) headers['x-csrf-token'] = csrf
  let body: BodyInit | undefined
  if (options.body instanceof FormData) body = options.body
  else if (options.body !== undefined) {
    headers['content-type'] = 'application/json'
    body = JSON.stringify(options.body)
  }
  const res = await fetch(url, { method, headers, body, credentials: 'same-origin', signal: options.signal })
  if (res.status === 401 && !options.quiet401) {
    session.value = null
    onSignedOut?.()
  }
  if (!res.ok) throw new ApiError(res.status, await messageOf(res))
  return (await res.json()) as T
}

export async function loadSession(): Promise<Session | null> {
  try {
    session.value = await api<Session>('/api/v1/session', { quiet401: true })
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 401) throw err
    session.value = null
  }
  return session.value
}
