// Queue entries -> MQTT publishes, in Tendril's (rhizo's) payload forms (DESIGN.md, MQTT):
// - consecutive values for one folder become one payload of CSV lines "s,<name>,<timestamp>,<value>",
//   each line with its own timestamp (up to the server's 1,000 records per payload), so a replayed
//   backlog costs few PUBLISH packets and stays under the broker's per-client publish rate;
// - a value the CSV form cannot carry (a line break in it, a comma in its name) goes alone as
//   {"update": {"$t": timestamp, "$e": "<producer>,<id>,<floor>", "<name>": value}};
// - values carry their entry ids, so the server stores a replayed entry once (README, "Exactly once"):
//   a CSV payload starts "e,<producer>,<first id>,<floor>", its records numbered on from the first id,
//   and floor is the oldest id not yet acknowledged (all below it are stored);
// - a message goes alone as {"<type>": {parameters}} (rhizo's MQTT form).
import { pathToTopic, resolvePath } from './paths.ts'
import type { QueueEntry } from './queue/types.ts'

/** The server's MAX_CSV_RECORDS is 1,000; half keeps a payload well under the packet size limit. */
export const MAX_RECORDS_PER_PUBLISH = 500
export const MAX_BYTES_PER_PUBLISH = 256 * 1024

/** Who sends: the queue's producer name, and the oldest entry id not yet acknowledged. */
export interface Sender {
  producer: string
  floor: number
}

export interface Publish {
  topic: string
  payload: string
  ids: number[]
  /** true when the publish goes to a folder other than the controller's own */
  foreign: boolean
}

const csvSafe = (e: QueueEntry & { kind: 'value' }) => !/[,\r\n]/.test(e.name) && !/[\r\n]/.test(e.value)

/** The next publish from the head of `entries` (which must not be empty) and how many entries it takes. */
export function nextPublish(
  entries: QueueEntry[],
  ownFolder: string,
  sender: Sender,
): { publish: Publish; taken: number } {
  const first = entries[0]!
  const folderOf = (e: QueueEntry) => (e.folder === null ? ownFolder : resolvePath(ownFolder, e.folder))
  const folder = folderOf(first)
  const topic = pathToTopic(folder)
  const foreign = folder !== ownFolder
  if (first.kind === 'message') {
    return {
      publish: { topic, payload: JSON.stringify({ [first.type]: first.parameters }), ids: [first.id], foreign },
      taken: 1,
    }
  }
  if (!csvSafe(first)) {
    const payload = JSON.stringify({
      update: { $t: first.t, $e: `${sender.producer},${first.id},${sender.floor}`, [first.name]: first.value },
    })
    return { publish: { topic, payload, ids: [first.id], foreign }, taken: 1 }
  }
  const lines: string[] = []
  const ids: number[] = []
  let bytes = 0
  for (const e of entries) {
    if (e.kind !== 'value' || folderOf(e) !== folder || !csvSafe(e)) break
    if (ids.length > 0 && e.id !== ids[ids.length - 1]! + 1) break // records are numbered on from the first id
    const line = `s,${e.name},${e.t},${e.value}`
    if (lines.length === MAX_RECORDS_PER_PUBLISH || (lines.length > 0 && bytes + line.length > MAX_BYTES_PER_PUBLISH))
      break
    lines.push(line)
    ids.push(e.id)
    bytes += line.length + 1
  }
  const header = `e,${sender.producer},${ids[0]},${sender.floor}`
  return { publish: { topic, payload: header + '\n' + lines.join('\n'), ids, foreign }, taken: ids.length }
}

export interface InboundMessage {
  /** the folder (or sequence) path the message was published to */
  folder: string
  type: string
  parameters: Record<string, unknown>
}

/**
 * A payload received on a subscribed topic, as messages: JSON in either form, and values announced
 * as "d,<name>,<timestamp>,<value>" as type "sequence_update". Relayed "s," lines are left out: they
 * ask for a value to be stored, and the server announces the value it stored with a "d," line.
 */
export function decodeInbound(topic: string, payload: Uint8Array): InboundMessage[] {
  const folder = '/' + topic
  const text = new TextDecoder().decode(payload)
  const head = text.trimStart()[0]
  if (head === '{') {
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      return []
    }
    if (!isObject(parsed)) return []
    if (typeof parsed.type === 'string') return [{ folder, type: parsed.type, parameters: asParams(parsed.parameters) }]
    return Object.entries(parsed).map(([type, parameters]) => ({ folder, type, parameters: asParams(parameters) }))
  }
  if (text.startsWith('d,')) {
    const out: InboundMessage[] = []
    for (const line of text.split('\n')) {
      const m = /^d,([^,]*),([^,]*),(.*)$/.exec(line)
      if (m) out.push({ folder, type: 'sequence_update', parameters: { name: m[1], timestamp: m[2], value: m[3] } })
      else if (out.length > 0) out[out.length - 1]!.parameters.value += '\n' + line // a multi-line value
    }
    return out
  }
  return []
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
const asParams = (v: unknown): Record<string, unknown> => (isObject(v) ? v : {})
