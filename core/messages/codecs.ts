// Payload codecs: the one place where the wire forms of rhizo messages are understood. Pure
// functions from bytes to typed actions, shared by the MQTT broker, the JSON websocket and REST.
// Bad input is refused whole with TendrilError 'invalid' — never a partial result.
//
// Forms, as rhizo's code sends and accepts them:
// - CSV  "s,<sequence>,<timestamp>,<value>" (store) / "d,…" (display only). rhizo-client
//   rhizo/sequences.py publishes 's,%s,%s Z,%s' % (name, utcnow().isoformat(), value) on the folder
//   topic; rhizo-server main/workers/message_monitor.py reads it with payload.split(',', 3), so the
//   value is everything after the third comma, commas and newlines included.
// - JSON {"<type>": {params}, …} (rhizo MQTT form; message_monitor.py handles every key) and
//   {"type", "parameters"[, "folder", "channel"]} (websocket form; rhizo/messages.py
//   process_incoming_message and main/messages/socket_receiver.py).
import { compactBase64 } from '../base64.ts'
import { invalid } from '../errors.ts'
import { hasNul } from '../text.ts'
import { parseTimestamp, formatTimestamp } from './timestamps.ts'

export { parseTimestamp, formatTimestamp, TIMESTAMP_RANGE } from './timestamps.ts'

/** docs/architecture.md: a message type is ≤ 40 chars. */
export const MAX_MESSAGE_TYPE_LENGTH = 40
/** CSV records ("s,…"/"d,…" lines) in one payload; rhizo sent one, batching SDKs may send more. */
export const MAX_CSV_RECORDS = 1000
/** Messages in one JSON object of the {"<type>": {params}, …} form; rhizo sent one. */
export const MAX_MESSAGES_PER_PAYLOAD = 100
/** Sequence values in one `update` message. */
export const MAX_UPDATE_VALUES = 1000

/** Message types that set one sequence value (legacy spellings as in socket_receiver.py). */
export const SEQUENCE_UPDATE_TYPES: ReadonlySet<string> = new Set(['update_sequence', 'updateSequence', 'setNode'])

export type StoreValue = {
  kind: 'store'
  /** Path as given: a name relative to the folder, or an absolute "/path". */
  sequence: string
  /** Absent: "now" (the receiver's clock). */
  timestamp?: Date
  value: string
  /** update_sequence with "encoded": the value is base64 (socket_receiver.py b64decodes it). */
  encoding?: 'base64'
  /** the controllers SDK's queue entry this value is (stored once however often it is replayed) */
  entry?: EntryMark
}
/**
 * A queued entry's identity, sent by the controllers SDK (rhizo's clients never do): the queue's
 * producer name, the entry's id, and floor, the oldest id its queue had not yet seen acknowledged.
 */
export type EntryMark = { producer: string; id: number; floor: number }
export type DisplayValue = { kind: 'display'; sequence: string; timestamp?: Date; value: string }
export type FolderMessage = { kind: 'message'; type: string; parameters: Record<string, unknown> }
export type InboundMessage = StoreValue | DisplayValue | FolderMessage

export type SequenceUpdate = { timestamp?: Date; values: { sequence: string; value: string }[]; entry?: EntryMark }

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** A payload published to a folder topic: CSV records or one JSON object. */
export function decodeFolderPayload(payload: Buffer | string): InboundMessage[] {
  return decodeFolderText(decodeText(payload))
}

function decodeFolderText(text: string): InboundMessage[] {
  const first = text.trimStart()[0]
  if (first === '{' || first === '[') return decodeJsonPayload(text)
  return decodeCsvPayload(text)
}

/** JSON text of the {"<type>": {params}, …} form whose messages are only kept, decoded by decodeKept when kept. */
export type KeptPayload = { kind: 'kept'; text: string }

const keptOnlyTests = new WeakMap<ReadonlySet<string>, RegExp>()

/**
 * decodeFolderPayload for a receiver that acts only on the message types in `actedOn` and keeps the
 * rest: a JSON object that can hold none of them, no sequence value (update_sequence, write_resource)
 * and not the {"type", …} form is returned undecoded, because most messages of a flood to a folder
 * are never kept (history.ts) and parsing was most of what the broker did with them. A text without
 * a backslash has no escaped keys, so each such key would appear in it quoted as is; a value that
 * merely contains one only means decoding now. Bad JSON among kept messages is found when kept.
 */
export function decodeFolderPayloadUnlessKept(
  payload: Buffer | string,
  actedOn: ReadonlySet<string>,
): InboundMessage[] | [KeptPayload] {
  const text = decodeText(payload)
  let test = keptOnlyTests.get(actedOn)
  if (!test) {
    const names = [...new Set([...actedOn, ...SEQUENCE_UPDATE_TYPES, 'write_resource', 'type'])].map((n) =>
      n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
    )
    keptOnlyTests.set(actedOn, (test = new RegExp(`\\\\|"(?:${names.join('|')})"`)))
  }
  if (text.charCodeAt(0) === 0x7b /* { */ && !test.test(text)) return [{ kind: 'kept', text }]
  return decodeFolderText(text)
}

/** The messages of a KeptPayload; throws as decodeFolderPayload does for bad JSON. */
export function decodeKept(payload: KeptPayload): FolderMessage[] {
  const messages = decodeJsonPayload(payload.text)
  // cannot happen (decodeFolderPayloadUnlessKept left no value in the text); refused rather than kept as a message
  if (messages.some((m) => m.kind !== 'message')) throw invalid('a kept payload holds a sequence value')
  return messages as FolderMessage[]
}

/**
 * A raw value published to a topic that names a sequence (a Tendril addition; rhizo had no such form):
 * the whole payload is the value, stored "now" — timestamp is never set today.
 */
export function decodeSequencePayload(payload: Buffer | string): { value: string; timestamp?: Date } {
  return { value: withoutLineEnd(decodeText(payload)) }
}

/** A frame on rhizo's JSON websocket: {"type", "parameters"[, "folder"]}. */
export function decodeWebSocketMessage(payload: Buffer | string): { folder?: string; message: InboundMessage } {
  const text = decodeText(payload)
  const struct = parseJsonObject(text)
  if (typeof struct.type !== 'string') throw invalid('a websocket message needs a string "type"')
  const folder = struct.folder
  if (folder !== undefined && (typeof folder !== 'string' || folder === '')) {
    throw invalid('"folder" must be a folder path such as "/acme/greenhouse"')
  }
  const message = decodeMessage(struct.type, struct.parameters, mayHoldNul(text))
  return folder === undefined ? { message } : { folder, message }
}

/**
 * One message given as type + parameters (either JSON form, REST /api/v1/messages). update_sequence
 * and write_resource become stores; `update` stays a message (it is relayed as-is) but is validated here.
 */
export function decodeMessage(type: unknown, parameters: unknown, checkNul = true): InboundMessage {
  const checkedType = checkMessageType(type)
  const params = checkParameters(checkedType, parameters)
  if (SEQUENCE_UPDATE_TYPES.has(checkedType)) return storeFromUpdateSequence(checkedType, params)
  if (checkedType === 'write_resource') return storeFromWriteResource(params)
  if (checkedType === 'update') expandUpdate(params)
  // a kept message's parameters are stored as JSON (a sequence value above may hold any character)
  if (checkNul && hasNul(params))
    throw invalid(`parameters of "${checkedType}" must not contain a NUL character (\\u0000)`)
  return { kind: 'message', type: checkedType, parameters: params }
}

/**
 * The `update` message: {"$t": timestamp, "<name>": value, …}, names relative to the folder topic
 * (rhizo-client sequences.py update_multiple; message_monitor.py skips "$t", stores the rest).
 * Missing or empty "$t" means now, as in message_monitor.py.
 */
export function expandUpdate(parameters: unknown): SequenceUpdate {
  if (!isObject(parameters))
    throw invalid('`update` parameters must be an object {"$t": timestamp, "<sequence>": value, …}')
  const t = parameters.$t
  const timestamp = t === undefined || t === null || t === '' ? undefined : parseTimestamp(t)
  const values: SequenceUpdate['values'] = []
  const entry = parameters.$e === undefined ? undefined : parseEntryMark(String(parameters.$e), 'update "$e"')
  for (const [sequence, value] of Object.entries(parameters)) {
    if (sequence === '$t' || sequence === '$e') continue
    if (sequence === '') throw invalid('`update` has an empty sequence name')
    if (values.length === MAX_UPDATE_VALUES) throw invalid(`\`update\` may set at most ${MAX_UPDATE_VALUES} sequences`)
    values.push({ sequence, value: scalarText(value, `\`update\` value of "${sequence}"`) })
  }
  const update: SequenceUpdate = timestamp === undefined ? { values } : { timestamp, values }
  if (entry) update.entry = entry
  return update
}

const ENTRY_MARK = /^([a-z0-9]{8,64}),([1-9][0-9]{0,15}),([1-9][0-9]{0,15})$/

/** "<producer>,<id>,<floor>" (an SDK's queue entry, see EntryMark). */
function parseEntryMark(text: string, what: string): EntryMark {
  const m = ENTRY_MARK.exec(text)
  const id = Number(m?.[2])
  const floor = Number(m?.[3])
  if (!m || !Number.isSafeInteger(id) || !Number.isSafeInteger(floor) || floor > id)
    throw invalid(`${what}: expected <producer>,<entry id>,<floor>`)
  return { producer: m[1]!, id, floor }
}

/**
 * "d,<path>,<timestamp>,<value>": how a stored value is announced on its folder topic. rhizo's browser
 * code (main/static/js/rhizo/messages.js) reads the field as a name under the topic ('/' + topic + '/' +
 * name), so for rhizo-compatible pages pass the sequence name relative to the folder topic.
 */
export function encodeDisplay(path: string, timestamp: Date, value: string): string {
  if (typeof path !== 'string' || path === '' || /[,\r\n]/.test(path)) {
    throw invalid('a display line needs a sequence path without commas or line breaks')
  }
  return `d,${path},${formatTimestamp(timestamp)},${value}`
}

/** What announces a stored image: its revision, not its bytes. */
export interface ImageUpdate {
  /** the image sequence's id and full path ("/org/folder/name") */
  id: number
  path: string
  timestamp: Date
  revisionId: number
  size: number
}

/**
 * An image value announced on its folder topic as rhizo-server told websocket subscribers of one:
 * `{"type":"sequence_update","parameters":{id, name (the path), timestamp, revision_id}}`, plus its
 * size; the bytes stay out (megabytes to every subscriber), a page fetches the revision it wants.
 */
export function encodeImageUpdate(u: ImageUpdate): string {
  const parameters = {
    id: u.id,
    name: u.path,
    timestamp: formatTimestamp(u.timestamp),
    revision_id: u.revisionId,
    size: u.size,
  }
  return JSON.stringify({ type: 'sequence_update', parameters })
}

// ---- JSON ----

function decodeJsonPayload(text: string): InboundMessage[] {
  const struct = parseJsonObject(text)
  const checkNul = mayHoldNul(text)
  if (typeof struct.type === 'string') return [decodeWebSocketForm(struct, checkNul)]
  const entries = Object.entries(struct)
  if (entries.length > MAX_MESSAGES_PER_PAYLOAD)
    throw invalid(`at most ${MAX_MESSAGES_PER_PAYLOAD} messages per payload`)
  // {} decodes to nothing: rhizo's browser code could publish it (JSON.stringify({[type]: undefined})).
  return entries.map(([type, parameters]) => decodeMessage(type, parameters, checkNul))
}

// On a folder topic the topic names the folder; "channel" was sent by rhizo-client and ignored by rhizo-server.
function decodeWebSocketForm(struct: Record<string, unknown>, checkNul: boolean): InboundMessage {
  if (struct.folder !== undefined)
    throw invalid('"folder" is for the JSON websocket; on MQTT the topic names the folder')
  return decodeMessage(struct.type, struct.parameters, checkNul)
}

/** JSON holds a NUL only escaped (a raw one is no JSON), so a text without one skips the walk through its parameters. */
const mayHoldNul = (text: string) => text.includes('\\u0000')

function parseJsonObject(text: string): Record<string, unknown> {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (err) {
    throw invalid(`payload is not valid JSON: ${(err as Error).message}`)
  }
  if (!isObject(parsed))
    throw invalid('a JSON payload must be an object: {"<type>": {parameters}} or {"type": …, "parameters": {…}}')
  return parsed
}

function checkMessageType(type: unknown): string {
  if (typeof type !== 'string' || type === '') throw invalid('a message type must be a non-empty string')
  if (type.length > MAX_MESSAGE_TYPE_LENGTH) {
    throw invalid(
      `message type ${JSON.stringify(type.slice(0, 50))} is longer than ${MAX_MESSAGE_TYPE_LENGTH} characters`,
    )
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(type)) throw invalid('a message type must not contain control characters')
  return type
}

// Missing or null parameters are {}, as rhizo-server's message queue stored them (json.dumps(p) if p else '{}').
function checkParameters(type: string, parameters: unknown): Record<string, unknown> {
  if (parameters === undefined || parameters === null) return {}
  if (!isObject(parameters)) throw invalid(`parameters of "${type}" must be an object`)
  return parameters
}

// socket_receiver.py: {"sequence": path, "value": v[, "timestamp": t][, "encoded": …]}; setNode used "node".
function storeFromUpdateSequence(type: string, params: Record<string, unknown>): StoreValue {
  const key = type === 'setNode' ? 'node' : 'sequence'
  const sequence = params[key]
  if (typeof sequence !== 'string' || sequence === '') throw invalid(`${type} needs a "${key}" path`)
  if (params.value === undefined) throw invalid(`${type} needs a "value"`)
  const value = scalarText(params.value, `${type} "value"`)
  const t = params.timestamp
  const store: StoreValue = { kind: 'store', sequence, value }
  if (t !== undefined && t !== null && t !== '') store.timestamp = parseTimestamp(t)
  if (params.encoded) {
    if (compactBase64(value) === null) throw invalid(`${type} "value" is marked encoded but is not base64`)
    store.encoding = 'base64'
  }
  return store
}

// socket_receiver.py: {"path": sequence path (a leading slash added if missing), "data": value}, stored now.
function storeFromWriteResource(params: Record<string, unknown>): StoreValue {
  const { path, data } = params
  if (typeof path !== 'string' || path === '' || data === undefined)
    throw invalid('expected data and path parameters for write_resource message')
  return {
    kind: 'store',
    sequence: path.startsWith('/') ? path : '/' + path,
    value: scalarText(data, 'write_resource "data"'),
  }
}

// rhizo-client sends numbers (sequences.update(name, 21.5)) and str()s update values; rhizo-server str()s them.
function scalarText(value: unknown, what: string): string {
  if (typeof value === 'string') return value
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  throw invalid(`${what} must be a string or number`)
}

// ---- CSV ----

const RECORD_START = /^[sd],/

// A line starting "s," or "d," begins a record; any other line continues the previous value,
// because rhizo-client's log sequence sends multi-line messages (tracebacks) in one "s,log,…" record.
function decodeCsvPayload(text: string): InboundMessage[] {
  const lines = withoutLineEnd(text).split('\n')
  // the controllers SDK's "e,<producer>,<first id>,<floor>": its records are entries numbered on from the first id
  const header = lines[0]?.startsWith('e,')
    ? parseEntryMark(lines.shift()!.slice(2).replace(/\r$/, ''), 'line 1')
    : undefined
  const first = lines[0] ?? ''
  if (!RECORD_START.test(first)) {
    const prefix = JSON.stringify(first.split(',', 1)[0]!.slice(0, 20))
    throw invalid(`unknown payload form (prefix ${prefix}): expected JSON, "s,<sequence>,<timestamp>,<value>" or "d,…"`)
  }
  const records: (StoreValue | DisplayValue)[] = []
  lines.forEach((line, i) => {
    const current = records[records.length - 1]
    if (current && !RECORD_START.test(line)) {
      current.value += '\n' + line
      return
    }
    if (records.length === MAX_CSV_RECORDS) throw invalid(`at most ${MAX_CSV_RECORDS} records per payload`)
    records.push(parseRecord(line, i + 1))
  })
  for (const r of records) if (r.value.endsWith('\r')) r.value = r.value.slice(0, -1) // CRLF-separated records
  if (header) numberEntries(records, header)
  return records
}

function numberEntries(records: (StoreValue | DisplayValue)[], header: EntryMark): void {
  records.forEach((r, i) => {
    if (r.kind === 'store') r.entry = { producer: header.producer, id: header.id + i, floor: header.floor }
  })
}

function parseRecord(line: string, lineNumber: number): StoreValue | DisplayValue {
  const kind = line[0] === 's' ? 'store' : 'display'
  const c2 = line.indexOf(',', 2)
  const c3 = c2 < 0 ? -1 : line.indexOf(',', c2 + 1)
  if (c3 < 0) throw invalid(`line ${lineNumber}: expected ${line[0]},<sequence>,<timestamp>,<value>`)
  const sequence = line.slice(2, c2)
  const stamp = line.slice(c2 + 1, c3)
  if (sequence === '') throw invalid(`line ${lineNumber}: empty sequence name`)
  const record: StoreValue | DisplayValue = { kind, sequence, value: line.slice(c3 + 1) }
  // An empty timestamp means now (rhizo required one; update and update_sequence already allowed none).
  if (stamp !== '') record.timestamp = withLine(lineNumber, () => parseTimestamp(stamp))
  return record
}

function withLine<T>(lineNumber: number, fn: () => T): T {
  try {
    return fn()
  } catch (err) {
    throw invalid(`line ${lineNumber}: ${(err as Error).message}`)
  }
}

// ---- text ----

function decodeText(payload: Buffer | string): string {
  let text: string
  if (typeof payload === 'string') text = payload
  else {
    try {
      text = utf8.decode(payload)
    } catch {
      throw invalid('payload is not valid UTF-8')
    }
  }
  if (text.length === 0) throw invalid('empty payload')
  return text
}

// One trailing line end terminates the payload rather than belonging to the value.
function withoutLineEnd(text: string): string {
  const body = text.endsWith('\r\n') ? text.slice(0, -2) : text.endsWith('\n') ? text.slice(0, -1) : text
  if (body.length === 0) throw invalid('empty payload')
  return body
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
