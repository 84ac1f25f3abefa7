// Talking to /api/v1/resources the way rhizo's client and browsers do: form, JSON and multipart bodies.
import { basicAuth } from './http.ts'

export type Body = Record<string, unknown>

export interface ResourceClient {
  get(path: string, query?: Record<string, string | number>): Promise<Response>
  json<T = unknown>(path: string, query?: Record<string, string | number>): Promise<T>
  send(method: 'POST' | 'PUT' | 'DELETE', path: string, body?: Body, as?: 'form' | 'json'): Promise<Response>
  upload(
    method: 'POST' | 'PUT',
    path: string,
    fields: Record<string, string>,
    file: { name: string; bytes: Buffer },
  ): Promise<Response>
}

export function resourceClient(baseUrl: string, key?: string): ResourceClient {
  const auth: Record<string, string> = key ? { authorization: basicAuth(key) } : {}
  const url = (path: string, query?: Record<string, string | number>) => {
    const q = query ? '?' + new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)])).toString() : ''
    return `${baseUrl}/api/v1/resources${path}${q}`
  }
  return {
    get: (path, query) => fetch(url(path, query), { headers: auth }),
    async json(path, query) {
      const res = await fetch(url(path, query), { headers: auth })
      if (res.status !== 200) throw new Error(`GET ${path} answered ${res.status}: ${await res.text()}`)
      return (await res.json()) as never
    },
    send(method, path, body, as = 'form') {
      if (!body) return fetch(url(path), { method, headers: auth })
      const form = as === 'form'
      const encoded = form
        ? new URLSearchParams(Object.entries(body).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]))
        : JSON.stringify(body)
      return fetch(url(path), {
        method,
        headers: { ...auth, 'content-type': form ? 'application/x-www-form-urlencoded' : 'application/json' },
        body: encoded,
      })
    },
    upload(method, path, fields, file) {
      const form = new FormData()
      for (const [k, v] of Object.entries(fields)) form.append(k, v)
      form.append('file', new Blob([new Uint8Array(file.bytes)]), file.name)
      return fetch(url(path), { method, headers: auth, body: form })
    },
  }
}

export const b64 = (text: string | Buffer) => Buffer.from(text).toString('base64')
