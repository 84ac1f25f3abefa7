// A controller writes one sequence value per request, many a second — rhizo's client does exactly
// that: PUT /api/v1/resources/<sequence path> with an API key and a value. Express's own cost per
// request was most of such a request (bench/rest-sequences.ts: an Express 5 app with helmet and the
// body parsers that answers a constant managed about a quarter of what node:http alone did, from one
// keep-alive client). This lane answers exactly that request before Express, through the same parts:
// the app's body parsers and security headers, the key cache, the path resolver and the sequence
// rules (writeSequenceValue), so it answers as the route would. Every other request — another
// route or method, a session cookie, a field that changes the resource, anything but a sequence the
// key can write — goes to the app as it came (a body the lane parsed stays parsed).
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http'
import type { RequestHandler } from 'express'
import { authenticateKeyCached } from '../core/accounts/key-cache.ts'
import type { Core } from '../core/index.ts'
import type { MessageBus } from '../core/messages/types.ts'
import { committedToDisk } from '../core/db/sqlite-connection.ts'
import { resourceForCached } from '../core/resources/lookup.ts'
import { ResourceType } from '../core/resources/types.ts'
import type { AppParts } from './app.ts'
import { readCredentials } from './credentials.ts'
import { errorResponse } from './errors.ts'
import { isValueOnly } from './routes/resources/params.ts'
import { writeSequenceValue } from './routes/sequences.ts'

const PREFIX = '/api/v1/resources/'
/** bodies the lane reads itself; an image or anything larger goes to the app */
const MAX_LANE_BODY = 64 * 1024

type Body = Record<string, unknown>

/** Runs the middleware chain on a bare request, as Express would (they need nothing of Express's own). */
function run(handlers: RequestHandler[], req: IncomingMessage, res: ServerResponse): Promise<void> {
  return handlers.reduce<Promise<void>>(
    (previous, handler) =>
      previous.then(
        () =>
          new Promise<void>((resolve, reject) =>
            handler(req as never, res as never, (err?: unknown) => (err ? reject(err) : resolve())),
          ),
      ),
    Promise.resolve(),
  )
}

/** The decoded path of a lane request, or undefined for one the app must see (self, empty or malformed). */
function pathOf(url: string): string | undefined {
  try {
    const segments = url.slice(PREFIX.length).split('/').map(decodeURIComponent)
    if (segments[0] === 'self' || segments.some((s) => s === '')) return undefined
    return segments.join('/')
  } catch {
    return undefined
  }
}

export function withValueLane(core: Core, bus: MessageBus, parts: AppParts, app: RequestListener): RequestListener {
  const answer = (res: ServerResponse, status: number, body: unknown) => {
    const json = JSON.stringify(body)
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(json),
    })
    res.end(json)
  }
  const take = async (req: IncomingMessage, res: ServerResponse, path: string, key: string) => {
    // the same chain of steps the app runs (the app sets the headers again, to the same values, and skips a parsed
    // body)
    await run([parts.securityHeaders], req, res)
    // the key before the body, as the app checks it: a bad one is the app's to refuse, unread
    const principal = await authenticateKeyCached(core, key)
    if (!principal) return app(req, res)
    try {
      await run(parts.resourceBodyParsers, req, res)
    } catch (err) {
      const { status, body } = errorResponse(err, core.log, req)
      return answer(res, status, body)
    }
    const body = (req as { body?: unknown }).body
    // a field that changes the resource (a rename, new settings…) is the route's, as it decides
    if (!body || typeof body !== 'object' || Array.isArray(body) || !isValueOnly(body as Body)) return app(req, res)
    const found = await resourceForCached(core, principal, path, 'write').catch(() => undefined)
    if (!found || found.resource.type !== ResourceType.sequence) return app(req, res)
    try {
      const written = await writeSequenceValue(
        core,
        bus,
        principal,
        { sequence: found.resource, path: found.path, level: found.level },
        body as Body,
      )
      await committedToDisk(core.db) // acknowledged once on disk, as the app does (http/on-disk.ts)
      answer(res, 200, written)
    } catch (err) {
      const { status, body: error } = errorResponse(err, core.log, req)
      answer(res, status, error)
    }
  }
  return (req, res) => {
    const url = req.url ?? ''
    const length = Number(req.headers['content-length'])
    const candidate =
      req.method === 'PUT' && url.startsWith(PREFIX) && !url.includes('?') && length > 0 && length <= MAX_LANE_BODY
    const path = candidate ? pathOf(url) : undefined
    const { key } = path === undefined ? {} : readCredentials(req.headers)
    if (path === undefined || !key) return app(req, res)
    take(req, res, path, key).catch((err: unknown) => {
      // the lane's own failure: answered like any unexpected error, never left hanging
      const { status, body } = errorResponse(err, core.log, req)
      if (!res.headersSent) answer(res, status, body)
      else res.destroy()
    })
  }
}
