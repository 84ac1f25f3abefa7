// Requests exactly as rhizo's Python client sends them (rhizo-client rhizo/resources.py, send_request
// and FileClient.send_request_to_server): every parameter in an application/x-www-form-urlencoded
// body, for every method GET included, encoded as Python's urllib.parse.urlencode does; HTTP Basic
// with the client's version and build as user name ("0.0.6.unknown") and the key as password, or
// "x" before the controller has one. fetch() cannot send a GET with a body, so this uses node:http.
import { request } from 'node:http'

/** A parameter as Python would hold it: str() of it is what goes on the wire (True → "True"). */
export type RhizoParam = string | number | boolean

export interface RhizoAnswer {
  status: number
  body: Buffer
  text: string
  json<T = Record<string, unknown>>(): T
}

/** urllib.parse.urlencode: quote_plus of str(key) and str(value); only letters, digits and "_.-~" stay as they are. */
export function pythonUrlencode(params: Record<string, RhizoParam>): string {
  const quotePlus = (text: string) =>
    encodeURIComponent(text)
      .replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase())
      .replace(/%20/g, '+')
  const str = (v: RhizoParam) => (typeof v === 'boolean' ? (v ? 'True' : 'False') : String(v))
  return Object.entries(params)
    .map(([k, v]) => `${quotePlus(k)}=${quotePlus(str(v))}`)
    .join('&')
}

/**
 * datetime.isoformat() + ' Z' as rhizo's client writes timestamps: microseconds (no fraction when
 * they are zero), a space before the Z. extraMicros below d's millisecond are what Tendril truncates.
 */
export function rhizoTimestamp(d: Date, extraMicros = 456): string {
  const seconds = d.toISOString().slice(0, 19)
  const micros = d.getUTCMilliseconds() * 1000 + extraMicros
  return micros === 0 ? `${seconds} Z` : `${seconds}.${String(micros).padStart(6, '0')} Z`
}

export interface RhizoClient {
  /** the key it sends; "x" until it has one, as FileClient does */
  secretKey: string
  /** accept: 'application/octet-stream' where the client reads bytes (retrieve_resource_data) */
  send(
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    path: string,
    params?: Record<string, RhizoParam>,
    accept?: string,
  ): Promise<RhizoAnswer>
}

export function rhizoClient(baseUrl: string, secretKey = 'x', userName = '0.0.6.unknown'): RhizoClient {
  const client: RhizoClient = {
    secretKey,
    send(method, path, params = {}, accept = 'text/plain') {
      const body = Buffer.from(pythonUrlencode(params))
      const headers = {
        'Content-type': 'application/x-www-form-urlencoded',
        Accept: accept,
        Authorization: 'Basic ' + Buffer.from(`${userName}:${client.secretKey}`).toString('base64'),
        'Content-Length': String(body.length),
      }
      return new Promise((resolve, reject) => {
        const req = request(baseUrl + path, { method, headers }, (res) => {
          const chunks: Buffer[] = []
          res.on('data', (c: Buffer) => chunks.push(c))
          res.on('error', reject)
          res.on('end', () => {
            const all = Buffer.concat(chunks)
            const text = all.toString('utf8')
            resolve({ status: res.statusCode!, body: all, text, json: () => JSON.parse(text) as never })
          })
        })
        req.on('error', reject)
        req.end(body)
      })
    },
  }
  return client
}

/**
 * sequences.update(path, value, use_websocket=False) as rhizo-client runs it: write_file (a GET then a
 * PUT, each with the base64 value in the form body), read_file (a GET asking for bytes), and again
 * until the text read equals str(value). The client loops forever; this gives up after `tries` and
 * returns how many writes it took, with what it read each time.
 */
export async function rhizoUpdateOverRest(client: RhizoClient, path: string, value: string, tries = 5) {
  const form = { data: Buffer.from(value).toString('base64') }
  const read: string[] = []
  for (let i = 1; i <= tries; i++) {
    for (const method of ['GET', 'PUT'] as const) {
      const res = await client.send(method, '/api/v1/resources' + path, form)
      if (res.status !== 200) throw new Error(`${method} ${path}: ${res.status} ${res.text}`)
    }
    const back = await client.send('GET', '/api/v1/resources' + path, {}, 'application/octet-stream')
    read.push(back.text)
    if (back.text === value) return { writes: i, read }
  }
  return { writes: Infinity, read }
}
