// A real `ws` client on rhizo's JSON websocket (/api/v1/websocket), connecting and framing as
// rhizo-client's rhizo/messages.py does.
import WebSocket from 'ws'
import { basicAuth } from './http.ts'

export interface Frame {
  type: string
  timestamp: string
  parameters: Record<string, unknown>
}

export type JsonSocket = WebSocket & {
  frames: Frame[]
  /** the next frame (optionally the next of a type, skipping others), or null after ms */
  next(ms?: number, type?: string): Promise<Frame | null>
}

const sockets: WebSocket[] = []

/**
 * Opens the websocket as rhizo's client does: HTTP Basic with the client version as user name and
 * the key as password; `protocols: ['http-only']` as its ws4py client asks.
 */
export function openSocket(
  url: string,
  key?: string,
  options: { protocols?: string[]; clientVersion?: string } = {},
): Promise<JsonSocket> {
  const headers = key ? { authorization: basicAuth(key, options.clientVersion ?? '0.3.7') } : {}
  const ws = new WebSocket(url.replace('http', 'ws') + '/api/v1/websocket', options.protocols ?? [], {
    headers,
  }) as JsonSocket
  sockets.push(ws)
  ws.frames = []
  const waiters: (() => void)[] = []
  ws.on('message', (data: Buffer) => {
    ws.frames.push(JSON.parse(data.toString()))
    waiters.splice(0).forEach((w) => w())
  })
  ws.next = async (ms = 2000, type?: string) => {
    const deadline = Date.now() + ms
    const at = () => ws.frames.findIndex((f) => type === undefined || f.type === type)
    while (at() === -1 && Date.now() < deadline) await new Promise<void>((r) => (waiters.push(r), setTimeout(r, 50)))
    const i = at()
    return i === -1 ? null : ws.frames.splice(i, 1)[0]!
  }
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws))
    ws.once('unexpected-response', (_req, res) =>
      reject(Object.assign(new Error('refused'), { status: res.statusCode })),
    )
    ws.once('error', reject)
  })
}

/** A frame as rhizo's client sends one: compact JSON and a line end (web_socket_sender). */
export const sendRhizo = (ws: WebSocket, frame: Record<string, unknown>) => ws.send(JSON.stringify(frame) + '\n')

/**
 * Waits until every frame sent before has been handled: frames are handled one at a time, in order,
 * so the error answering a frame without a type comes after them (and is taken off the list).
 */
export async function settled(ws: JsonSocket, ms = 5000) {
  ws.send(JSON.stringify({ parameters: { marker: true } }))
  const deadline = Date.now() + ms
  const marker = () =>
    ws.frames.findIndex((f) => f.type === 'error' && /needs a string "type"/.test(String(f.parameters.message)))
  while (marker() === -1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
  if (marker() === -1) throw new Error('the websocket did not answer')
  ws.frames.splice(marker(), 1)
}

export function closeSockets(): void {
  for (const ws of sockets.splice(0)) ws.terminate()
}
