// Reading credentials from HTTP request headers, for REST requests and WebSocket upgrades alike:
// HTTP Basic whose password is an API key (the username is the client's version, as rhizo's client
// sends it) or the session cookie.
import type { IncomingHttpHeaders } from 'node:http'
import { parse as parseCookies } from 'cookie'

export const SESSION_COOKIE = 'tendril_session'

export interface Credentials {
  key?: string
  clientVersion?: string
  sessionToken?: string
}

export function readCredentials(headers: IncomingHttpHeaders): Credentials {
  const authorization = headers.authorization
  if (authorization?.startsWith('Basic ')) {
    const decoded = Buffer.from(authorization.slice(6), 'base64').toString('utf8')
    const colon = decoded.indexOf(':')
    // a malformed Basic header still counts as an attempt with a key, so it fails as one
    if (colon === -1) return { key: '' }
    return { key: decoded.slice(colon + 1), clientVersion: decoded.slice(0, colon) || undefined }
  }
  const sessionToken = parseCookies(headers.cookie ?? '')[SESSION_COOKIE]
  return sessionToken ? { sessionToken } : {}
}
