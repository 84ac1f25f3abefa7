// Sequences over REST: reading a sequence's latest value or history, writing values, and the
// multi-sequence PUT /api/v1/resources. The resources router (resources.ts) finds the resource,
// checks access and calls these for sequences, so sequence rules stay in one place (the core).
import { Readable } from 'node:stream'
import { Router, type Request, type Response } from 'express'
import { z } from 'zod'
import { decodeBase64 } from '../../core/base64.ts'
import type { Resource } from '../../core/db/index.ts'
import { invalid, notFound } from '../../core/errors.ts'
import type { Core } from '../../core/index.ts'
import { formatTimestamp, parseTimestamp } from '../../core/messages/timestamps.ts'
import type { MessageBus, ValueRequest } from '../../core/messages/types.ts'
import type { Principal } from '../../core/principal.ts'
import { writeSequenceValuesOrRefuse } from '../../core/messages/values.ts'
import { correctControllerTimestamp } from '../../core/resources/clock-drift.ts'
import { revisionBody, latestValue, type RevisionBody } from '../../core/resources/revisions.ts'
import { downsampleHistory } from '../../core/resources/sequence-downsample.ts'
import {
  historyPages,
  MAX_HISTORY_VALUES,
  sequenceHistoryText,
  sequenceRevisions,
  sequenceTimeRange,
} from '../../core/resources/sequence-history.ts'
import { sequenceRules } from '../../core/resources/sequence-values.ts'
import { joinPath, splitPath } from '../../core/resources/paths.ts'
import { SequenceDataType } from '../../core/resources/types.ts'
import { flag, requestValues, type Values } from '../request-values.ts'
import { streamBody } from './resources/download.ts'
import { isMultipart, readMultipartValue } from './resources/uploads.ts'

export interface SequenceTarget {
  /** the live sequence resource */
  sequence: Resource
  /** its path, "/org/folder/name" */
  path: string
  /** the caller's access level there, as the core's lookup found it (else the write looks it up) */
  level?: number
}

// ---- reading ----

const wholeNumber = (name: string, max: number) =>
  z
    .string()
    .regex(/^\d+$/, `${name} must be a whole number`)
    .transform(Number)
    .refine((n) => n >= 1 && n <= max, `${name} must be from 1 to ${max}`)
const timestamp = (name: string) =>
  z.string().transform((text, ctx) => {
    try {
      return parseTimestamp(text)
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `${name}: ${(err as Error).message}` })
      return z.NEVER
    }
  })

export const readQuery = z.object({
  count: wholeNumber('count', Number.MAX_SAFE_INTEGER).optional(),
  start_timestamp: timestamp('start_timestamp').optional(),
  end_timestamp: timestamp('end_timestamp').optional(),
  buckets: wholeNumber('buckets', 10_000).optional(),
  rev: wholeNumber('rev', Number.MAX_SAFE_INTEGER).optional(),
  download: z.unknown().transform(flag).optional(),
  revisions: z.unknown().transform(flag).optional(),
})
type ReadQuery = z.infer<typeof readQuery>

/**
 * The request's values (query string and form body: rhizo's client sends them in the body of its GETs) as text; zod
 * errors become one 400 message.
 */
function parseValues<T extends z.ZodType>(schema: T, values: Values): z.infer<T> {
  const asText = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, typeof v === 'number' ? String(v) : v]))
  const parsed = schema.safeParse(asText)
  if (!parsed.success) throw invalid(parsed.error.issues.map((i) => i.message).join('; '))
  return parsed.data
}

/**
 * GET /api/v1/resources/<path> on a sequence (read access already checked; meta=1 is answered by the resources router).
 */
export async function getSequence(core: Core, req: Request, res: Response, target: SequenceTarget): Promise<void> {
  const query = parseValues(readQuery, requestValues(req))
  const rules = sequenceRules(target.sequence.systemAttributes)
  if (query.rev !== undefined)
    return sendValue(
      core,
      res,
      target,
      rules.dataType,
      await revisionBody(core, core.blobs, target.sequence.id, query.rev),
      'no such revision of this sequence',
    )
  if (query.revisions)
    return void res.json(
      await sequenceRevisions(core.db, target.sequence.id, {
        count: Math.min(query.count ?? 100, 1000),
        start: query.start_timestamp,
        end: query.end_timestamp,
      }),
    )
  if (query.buckets !== undefined) return sendBuckets(core, res, target, query)
  if (query.download) return sendCsv(core, res, target, query)
  // rhizo: a range or a count above 1 asks for history; otherwise the latest value
  if (query.start_timestamp || query.end_timestamp || (query.count ?? 1) > 1)
    return sendHistory(core, res, target, query)
  const latest = await latestValue(core, core.blobs, target.sequence.id)
  // no value yet: an empty 200, not 404. rhizo's client writes a value as GET, then PUT if the GET
  // succeeded, else POST to create a file (rhizo/resources.py FileClient.write), which a sequence
  // that exists refuses; rhizo-server failed on an empty sequence too (a 500, retried for minutes).
  if (!latest) return void res.type(contentType(rules.dataType)).send(Buffer.alloc(0))
  return sendValue(core, res, target, rules.dataType, latest, 'the sequence has no value yet')
}

const contentType = (dataType: number) =>
  dataType === SequenceDataType.image ? 'image/jpeg' : 'text/plain; charset=utf-8'

async function sendValue(
  core: Core,
  res: Response,
  target: SequenceTarget,
  dataType: number,
  value: RevisionBody | null,
  missing: string,
): Promise<void> {
  if (!value) throw notFound(missing)
  res.type(contentType(dataType))
  res.set('Last-Modified', value.timestamp.toUTCString())
  if (Buffer.isBuffer(value.body)) {
    res.send(value.body)
    return
  }
  res.set('Content-Length', String(value.size))
  await streamBody(
    core,
    res,
    value.body,
    { sequenceId: target.sequence.id, revisionId: value.revisionId },
    'sequence value download',
  )
}

async function sendHistory(core: Core, res: Response, target: SequenceTarget, query: ReadQuery): Promise<void> {
  const count = query.count ?? MAX_HISTORY_VALUES
  if (count > MAX_HISTORY_VALUES)
    throw invalid(`count must be from 1 to ${MAX_HISTORY_VALUES} (download=1 streams any length as CSV)`)
  const maxBytes = core.config.historyResponseLimit
  const history = await sequenceHistoryText(core.db, target.sequence.id, {
    count,
    start: query.start_timestamp,
    end: query.end_timestamp,
    blobs: core.blobs,
    maxBytes,
  })
  // rhizo's keys; values stay the text stored (as rhizo returned them), timestamps are ISO 8601 UTC.
  // Over --history-response-limit the newest values that fit are sent, and truncated says so
  // (download=1 streams them all).
  res.json({
    name: target.sequence.name,
    path: target.path,
    units: sequenceRules(target.sequence.systemAttributes).units ?? null,
    timestamps: history.timestamps,
    values: history.values,
    ...(history.truncated ? { truncated: true } : {}),
  })
}

async function sendBuckets(core: Core, res: Response, target: SequenceTarget, query: ReadQuery): Promise<void> {
  const rules = sequenceRules(target.sequence.systemAttributes)
  if (rules.dataType !== SequenceDataType.numeric) throw invalid('only a numeric sequence can be downsampled')
  const base = { name: target.sequence.name, path: target.path, units: rules.units ?? null }
  let { start_timestamp: start, end_timestamp: end, buckets } = query
  if (!start || !end) {
    // without bounds the buckets span the sequence's own first and last values
    const range = await sequenceTimeRange(core.db, target.sequence.id)
    if (!range) return void res.json({ ...base, start_timestamp: null, end_timestamp: null, buckets: [] })
    start ??= range.first
    end ??= range.last
    // every value at one instant: one bucket one millisecond wide holds them
    if (start.getTime() === end.getTime()) [end, buckets] = [new Date(end.getTime() + 1), 1]
  }
  const slices = await downsampleHistory(core.db, target.sequence.id, { start, end, buckets: buckets! })
  // the range answered, so a client that asked for "everything" knows where its buckets lie
  // values that are not numbers are left out of the figures, and counted so a chart can say so
  const notNumeric = slices.reduce((sum, b) => sum + (b.notNumeric ?? 0), 0)
  res.json({
    ...base,
    start_timestamp: formatTimestamp(start),
    end_timestamp: formatTimestamp(end),
    ...(notNumeric > 0 ? { not_numeric: notNumeric } : {}),
    buckets: slices.map((b) => ({
      start: formatTimestamp(b.start),
      count: b.count,
      min: b.min,
      mean: b.mean,
      max: b.max,
    })),
  })
}

/** RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled. */
const csvField = (text: string) => (/[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text)

async function sendCsv(core: Core, res: Response, target: SequenceTarget, query: ReadQuery): Promise<void> {
  const pages = historyPages(core.db, core.blobs, target.sequence.id, {
    start: query.start_timestamp,
    end: query.end_timestamp,
    count: query.count,
  })
  // the first page is read before the headers go, so a refusal (an image sequence) is still a clean 400
  const first = await pages.next()
  res.type('text/csv; charset=utf-8')
  res.attachment(`${target.sequence.name}.csv`)
  const lines = async function* () {
    yield 'utc_timestamp,value\n'
    for (let page = first; !page.done; page = await pages.next()) {
      const { timestamps, values } = page.value
      yield timestamps.map((t, i) => `${formatTimestamp(t)},${csvField(values[i]!)}\n`).join('')
    }
  }
  await streamBody(core, res, Readable.from(lines()), { sequenceId: target.sequence.id }, 'CSV download')
}

// ---- writing ----

/** rhizo's client sends a sequence value as base64 `data`; `contents` (legacy) and `value` carry it as is. */
function valueFrom(body: Record<string, unknown>): string | Buffer {
  if (typeof body.data === 'string') {
    const bytes = decodeBase64(body.data)
    if (!bytes) throw invalid('data must be base64 (use value for plain text)')
    return bytes
  }
  if (Buffer.isBuffer(body.value)) return body.value // a multipart file part
  for (const key of ['value', 'contents'] as const) {
    const v = body[key]
    if (typeof v === 'string') return v
    if (typeof v === 'number' && Number.isFinite(v)) return String(v)
  }
  throw invalid('expected the value as data (base64), value or contents')
}

/**
 * A new value from PUT or POST /api/v1/resources/<path> on a sequence (write access already checked):
 * form or JSON fields (from the query string too), or multipart, whose fields count as a form's and
 * whose file part (named file, data or value) is the value itself, byte for byte (an image from a
 * camera, without base64).
 */
export async function writeSequence(
  core: Core,
  bus: MessageBus,
  req: Request,
  res: Response,
  target: SequenceTarget,
): Promise<void> {
  let body: Record<string, unknown> = requestValues(req)
  if (isMultipart(req)) {
    const { fields, bytes } = await readMultipartValue(req, res, core.config.uploadLimit)
    body = bytes === undefined ? fields : { timestamp: fields.timestamp, value: bytes }
  }
  res.json(await writeSequenceValue(core, bus, res.locals.principal, target, body))
}

/** A value for the sequence at an absolute path, as the core's use case takes it. */
const valueRequest = (principal: Principal, path: string, value: string | Buffer, timestamp?: Date): ValueRequest => ({
  principal,
  folderPath: path.slice(0, path.lastIndexOf('/')),
  sequence: path,
  value,
  timestamp,
})

/**
 * The value of a request body (data, value or contents, and timestamp) written through the core's one
 * use case for values, and answered; shared with http/value-lane.ts. A refusal is thrown by its kind.
 */
export async function writeSequenceValue(
  core: Core,
  bus: MessageBus,
  principal: Principal,
  target: SequenceTarget,
  body: Record<string, unknown>,
) {
  const value = valueFrom(body)
  const at = body.timestamp === undefined || body.timestamp === '' ? undefined : parseTimestamp(body.timestamp)
  const request = valueRequest(principal, target.path, value, at)
  if (target.level !== undefined) request.found = { resource: target.sequence, level: target.level }
  const { stored } = await writeSequenceValuesOrRefuse(core, bus, [request], { createMissing: false })
  return { status: 'ok', id: target.sequence.id, stored: stored.length > 0 }
}

// ---- several sequences at once ----

const MAX_VALUES_PER_PUT = 1000

export const multiBody = z.object({
  values: z.union([z.string(), z.record(z.string(), z.unknown())]),
  timestamp: z.union([z.string(), z.number()]).optional(),
})

function valuesOf(raw: string | Record<string, unknown>): Record<string, unknown> {
  let values: unknown = raw
  if (typeof raw === 'string') {
    try {
      values = JSON.parse(raw)
    } catch {
      throw invalid('values must be a JSON object of {path: value}')
    }
  }
  if (!values || typeof values !== 'object' || Array.isArray(values))
    throw invalid('values must be a JSON object of {path: value}')
  const entries = Object.keys(values)
  if (entries.length > MAX_VALUES_PER_PUT) throw invalid(`at most ${MAX_VALUES_PER_PUT} values per request`)
  return values as Record<string, unknown>
}

/** PUT /api/v1/resources with `values` ({path: value}) and `timestamp`: several sequences at once. */
export function sequenceValueRoutes(core: Core, bus: MessageBus): Router {
  const router = Router()

  router.put('/api/v1/resources', async (req, res) => {
    const body = multiBody.safeParse(requestValues(req))
    if (!body.success) throw invalid('expected values (a JSON object of {path: value}) and optionally timestamp')
    const principal = res.locals.principal
    const values = valuesOf(body.data.values)
    const given =
      body.data.timestamp === undefined || body.data.timestamp === '' ? new Date() : parseTimestamp(body.data.timestamp)
    for (const [path, raw] of Object.entries(values)) {
      if (typeof raw !== 'string' && !(typeof raw === 'number' && Number.isFinite(raw)))
        throw invalid(`${joinPath(splitPath(path))}: a value must be a string or a number; nothing was stored`)
    }
    const timestamp = await correctControllerTimestamp(core.db, principal, given)
    // every path is absolute, with or without its leading slash (rhizo's find_resource stripped slashes);
    // every one is found, checked and encoded before anything is stored
    const requests = Object.entries(values).map(([path, raw]) =>
      valueRequest(principal, joinPath(splitPath(path)), String(raw), timestamp),
    )
    const { stored, skipped } = await writeSequenceValuesOrRefuse(core, bus, requests, { createMissing: false })
    res.json({ status: 'ok', stored: stored.length, skipped: skipped.length, timestamp: formatTimestamp(timestamp) })
  })

  return router
}
