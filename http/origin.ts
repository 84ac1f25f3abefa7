// Whether a browser's request comes from a page of this server: the rule for every door that takes the
// session cookie without a CSRF token (sign-in, the JSON websocket's upgrade). SameSite=Lax does not
// stop a page on another port or subdomain of the same site; the Origin header does.
import type { IncomingMessage } from 'node:http'
import proxyAddr from 'proxy-addr'
import type { TrustProxy } from '../core/config.ts'

/**
 * A browser says where a request was sent from (Sec-Fetch-Site, Origin); clients that send neither
 * (rhizo's client, curl) are not browsers, so no other site can make them send a request.
 */
export function fromThisSite(req: IncomingMessage, trustProxy: TrustProxy): boolean {
  if (req.headers['sec-fetch-site'] === 'cross-site') return false
  const origin = req.headers.origin
  if (origin === undefined) return true
  try {
    // the host alone: behind a TLS-terminating proxy the scheme the browser used is not ours to see
    return new URL(origin).host === requestHost(req, trustProxy)
  } catch {
    return false // "null" (a sandboxed or file: page) or garbage
  }
}

/** The host the client asked for, as Express's req.host reads it: X-Forwarded-Host only from a trusted proxy. */
function requestHost(req: IncomingMessage, trustProxy: TrustProxy): string | undefined {
  const forwarded = [req.headers['x-forwarded-host'] ?? []].flat()[0]
  if (forwarded && trusts(trustProxy, req.socket.remoteAddress ?? '')) return forwarded.split(',')[0]!.trim()
  return req.headers.host
}

function trusts(trustProxy: TrustProxy, address: string): boolean {
  if (trustProxy === false) return false
  if (typeof trustProxy === 'number') return trustProxy > 0
  return proxyAddr.compile(trustProxy)(address, 0)
}
