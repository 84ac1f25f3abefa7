// The REST calls the SDK makes (files, the controller's own path, PINs): HTTP Basic with the key as
// password (the user name is the client version, which the server ignores — DESIGN.md, REST).
// Works with the global fetch of Node 18+ and browsers.
import { ConnectionError, errorForStatus } from './errors.ts'

export const SDK_VERSION = '0.1.0'
const CLIENT_NAME = `tendril-controllers-sdk/${SDK_VERSION}`

export interface RestOptions {
  /** HTTP base URL of the server, e.g. https://tendril.example.com */
  base: string
  key?: string
  /** ms before a request is abandoned (default 30 s) */
  timeoutMs?: number
}

export async function request(
  options: RestOptions,
  method: string,
  url: string,
  body?: unknown,
  query?: Record<string, string>,
): Promise<Response> {
  if (!options.base)
    throw new ConnectionError(
      'this call needs REST: give `server` as the HTTP(S) URL of Tendril (and the MQTT URL as `mqttUrl`)',
    )
  const headers: Record<string, string> = { accept: 'application/json, */*' }
  if (options.key)
    headers.authorization = 'Basic ' + toBase64(new TextEncoder().encode(`${CLIENT_NAME}:${options.key}`))
  if (body !== undefined) headers['content-type'] = 'application/json'
  const target = new URL(url)
  for (const [k, v] of Object.entries(query ?? {})) target.searchParams.set(k, v)
  let response: Response
  try {
    response = await fetch(target, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
    })
  } catch (err) {
    throw new ConnectionError(`${method} ${target.pathname}: ${(err as Error).message}`)
  }
  if (response.ok) return response
  throw errorForStatus(response.status, await errorMessage(response))
}

/** The `message` of a `{status:'error', message}` body, or the status text. */
async function errorMessage(response: Response): Promise<string> {
  const text = await response.text().catch(() => '')
  try {
    const body = JSON.parse(text) as { message?: unknown }
    if (typeof body.message === 'string') return body.message
  } catch {
    // not JSON
  }
  return `${response.status} ${response.statusText}`.trim()
}

export async function json<T>(response: Response): Promise<T> {
  try {
    return (await response.json()) as T
  } catch {
    throw new ConnectionError(`expected JSON from ${new URL(response.url).pathname}`)
  }
}

// btoa/atob exist in browsers and Node 16+; they take "binary strings", hence the loops.
export function toBase64(bytes: Uint8Array): string {
  let binary = ''
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  return btoa(binary)
}
