// The disk-full scenario's writers and readers (issue 21): REST uploads of four kinds, a JSON
// websocket sending values, a reader, and the checks that read back what was acknowledged.
import { createHash, randomBytes } from 'node:crypto'
import sharp from 'sharp'
import { basicAuth } from './http.ts'
import { openSocket, sendRhizo } from './json-websocket.ts'
import type { Writer as IngestWriter } from './kill-ingest.ts'

/** What one REST or MQTT door saw. */
export interface DoorFigures {
  acknowledged: number
  /** acknowledged, then missing or unreadable at the end: must be none */
  lost: string[]
  /** refusals by status and code, e.g. "507 disk_full" */
  refusals: Record<string, number>
  /** answers that are not a JSON error with a code, or a 500: must be none */
  badAnswers: string[]
}

/** an MQTT writer (kill-ingest.ts), and how many times its connection closed */
export interface Writer extends IngestWriter {
  closed: number
}

/** What each loop is waiting for now (diagnostics for a stuck one), by name. */
export const waitingFor = new Map<string, string>()

export interface Uploader {
  key: string
  path: string
  /** sha256 of every acknowledged file revision and image value, by resource path */
  acked: Map<string, Set<string>>
  lastAckAt: number
}

/**
 * In turn: a large file revision (random bytes, JSON base64), an image value (a noisy JPEG, multipart), a numbered
 * value, a small file revision (inline).
 */
export async function uploadLoop(
  url: string,
  u: Uploader,
  fileBytes: number,
  rest: DoorFigures,
  running: () => boolean,
): Promise<void> {
  for (let n = 0; running(); n++) {
    waitingFor.set(`rest ${u.path}`, `write ${n} (kind ${n % 4}) since ${new Date().toISOString()}`)
    const write = await restWrite(url, u, n, fileBytes)
    const text = await write.res.text()
    if (write.res.ok) {
      rest.acknowledged++
      u.lastAckAt = Date.now()
      const set = u.acked.get(write.path) ?? new Set<string>()
      set.add(write.ackKey)
      u.acked.set(write.path, set)
      continue
    }
    noteRefusal(rest, write.res.status, text)
    await sleep(50) // a refused writer tries again soon, as a controller with a queue would
  }
}

/** One REST write of kind n % 4; ackKey: what the stored copy must show (a sha256, or the number). */
async function restWrite(url: string, u: Uploader, n: number, fileBytes: number) {
  const auth = { authorization: basicAuth(u.key) }
  const json = { ...auth, 'content-type': 'application/json' }
  const put = (path: string, headers: Record<string, string>, body: string | FormData) =>
    fetch(`${url}/api/v1/resources${path}`, { method: 'PUT', headers, body })
  if (n % 4 === 3) {
    // inline in its row, through one of Prisma's transactions
    const contents = randomBytes(300).toString('hex')
    const path = `${u.path}/notes.txt`
    return {
      path,
      ackKey: sha256(Buffer.from(contents)),
      res: await put(`/${path}`, json, JSON.stringify({ contents })),
    }
  }
  if (n % 4 === 0) {
    const bytes = randomBytes(fileBytes)
    const path = `${u.path}/upload.bin`
    return {
      path,
      ackKey: sha256(bytes),
      res: await put(`/${path}`, json, JSON.stringify({ data: bytes.toString('base64') })),
    }
  }
  if (n % 4 === 1) {
    const bytes = await noisyJpeg()
    const form = new FormData()
    form.append('file', new Blob([new Uint8Array(bytes)], { type: 'image/jpeg' }), 'camera.jpg')
    const path = `${u.path}/camera`
    return { path, ackKey: sha256(bytes), res: await put(`/${path}`, auth, form) }
  }
  // several sequences at once (PUT /api/v1/resources): a transaction through Prisma
  const path = `${u.path}/rest`
  return { path, ackKey: String(n), res: await put('', json, JSON.stringify({ values: { [`/${path}`]: n } })) }
}

function noteRefusal(door: DoorFigures, status: number, text: string): void {
  let code = '(not JSON)'
  try {
    code = (JSON.parse(text) as { error?: { code?: string } }).error?.code ?? '(no code)'
  } catch {
    // counted as not JSON below
  }
  const key = `${status} ${code}`
  door.refusals[key] = (door.refusals[key] ?? 0) + 1
  if (status === 500 || code.startsWith('(')) door.badAnswers.push(`${status} ${text.slice(0, 200)}`)
}

/** The latest value of a sequence and the latest file revision, read over and over. */
export async function readLoop(
  url: string,
  key: string,
  reads: { ok: number; failed: number },
  running: () => boolean,
): Promise<void> {
  const paths = ['acme/c-0/level', 'acme/c-0/upload.bin', 'acme/c-0?recursive=1']
  for (let n = 0; running(); n++) {
    const res = await fetch(`${url}/api/v1/resources/${paths[n % paths.length]}`, {
      headers: { authorization: basicAuth(key) },
    }).catch(() => undefined)
    await res?.arrayBuffer()
    if (res?.ok) reads.ok++
    else reads.failed++
    await sleep(20)
  }
}

/** rhizo's JSON websocket: a numbered value every 50 ms; it answers only a refusal (an error frame). */
export async function socketLoop(
  url: string,
  key: string,
  errors: Record<string, number>,
  running: () => boolean,
): Promise<void> {
  const ws = await openSocket(url, key)
  ws.on('message', (data: Buffer) => {
    const frame = JSON.parse(data.toString()) as { type: string; parameters: { message?: string } }
    if (frame.type === 'error') errors[frame.parameters.message!] = (errors[frame.parameters.message!] ?? 0) + 1
  })
  for (let n = 1; running() && ws.readyState === ws.OPEN; n++) {
    sendRhizo(ws, { type: 'update_sequence', parameters: { sequence: 'socket', value: String(n) } })
    await sleep(50)
  }
  ws.close()
}

/** The controllers whose status (meta=1) says disconnected. */
export async function presenceShown(url: string, keys: string[]): Promise<string[]> {
  const disconnected: string[] = []
  for (let i = 0; i < keys.length; i++) {
    const res = await fetch(`${url}/api/v1/resources/acme/c-${i}?meta=1`, {
      headers: { authorization: basicAuth(keys[i]!) },
    })
    const meta = (await res.json()) as { connected?: boolean }
    if (meta.connected !== true) disconnected.push(`c-${i}`)
  }
  return disconnected
}

/** Every PUBACKed value is in its sequence's history once. */
export async function checkValues(url: string, keys: string[], writers: Writer[]): Promise<DoorFigures> {
  const figures: DoorFigures = { acknowledged: 0, lost: [], refusals: {}, badAnswers: [] }
  for (let i = 0; i < writers.length; i++) {
    const res = await fetch(`${url}/api/v1/resources/acme/c-${i}/level?count=100000`, {
      headers: { authorization: basicAuth(keys[i]!) },
    })
    const text = await res.text()
    if (res.status !== 200) throw new Error(`acme/c-${i}/level: ${res.status} ${text}`)
    const stored = new Set((JSON.parse(text) as { values: unknown[] }).values.map(Number))
    figures.acknowledged += writers[i]!.acked.length
    for (const n of writers[i]!.acked) if (!stored.has(n)) figures.lost.push(`c-${i}:${n}`)
  }
  return figures
}

/**
 * Every acknowledged upload is a revision whose bytes read back whole (a blob store read is verified),
 * every acknowledged value is in the history.
 */
export async function checkUploads(url: string, uploaders: Uploader[], rest: DoorFigures): Promise<void> {
  for (const u of uploaders) {
    for (const [path, acked] of u.acked) {
      const auth = { authorization: basicAuth(u.key) }
      if (path.endsWith('/rest')) {
        const history = await (await fetch(`${url}/api/v1/resources/${path}?count=100000`, { headers: auth })).json()
        const stored = new Set((history as { values: unknown[] }).values.map(String))
        for (const n of acked) if (!stored.has(n)) rest.lost.push(`${path} ${n}`)
        continue
      }
      const list = path.endsWith('camera') ? '?revisions=1&count=1000' : '?revisions=1'
      const revisions = (await (await fetch(`${url}/api/v1/resources/${path}${list}`, { headers: auth })).json()) as {
        id: number
      }[]
      const found = new Set<string>()
      for (const r of revisions) {
        const res = await fetch(`${url}/api/v1/resources/${path}?rev=${r.id}`, { headers: auth })
        const bytes = Buffer.from(await res.arrayBuffer().catch(() => new ArrayBuffer(0)))
        if (res.ok) found.add(sha256(bytes))
        else rest.lost.push(`${path} rev ${r.id} unreadable: ${res.status}`)
      }
      for (const hash of acked) if (!found.has(hash)) rest.lost.push(`${path} ${hash.slice(0, 12)}`)
    }
  }
}

async function noisyJpeg(): Promise<Buffer> {
  const noise = { type: 'gaussian' as const, mean: 128, sigma: 40 }
  const background = { r: 0, g: 0, b: 0 }
  return sharp({ create: { width: 48, height: 48, channels: 3, background, noise } })
    .jpeg()
    .toBuffer()
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex')
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
