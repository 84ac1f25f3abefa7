// The shapes messages/ passes between its modules, to CoreContext and to the transports. A leaf: it
// imports only types from modules below it, so inbound, values, send and history can share these
// without importing each other in a cycle (`npm run typecheck` checks; .dependency-cruiser.cjs).
import type { Resource } from '../db/index.ts'
import type { ErrorCode } from '../errors.ts'
import type { Principal } from '../principal.ts'
import type { EntryMark, InboundMessage, KeptPayload } from './codecs.ts'

export type OutgoingKind = 'email' | 'sms'

/** Email and text message delivery (outgoing.ts createOutbox; tests pass their own). */
export interface Outbox {
  /** whether this server is set up to send that kind (--smtp-url, --sms-webhook) */
  ready(kind: OutgoingKind): boolean
  email(to: string[], subject: string, body: string): Promise<void>
  sms(to: string[], message: string): Promise<void>
}

/** A message kept in its folder's history (history.ts). */
export interface HistoryEntry {
  folderId: number
  type: string
  parameters: Record<string, unknown>
  timestamp: Date
  senderControllerId?: number | null
  senderUserId?: number | null
  /** nobody waits to hear it was stored (MQTT QoS 0): its row may be written a little later (HistoryWriter) */
  fireAndForget?: boolean
}

/** What the writer holds: a message, or a payload of messages decoded only if its rows are written. */
export type HeldEntry =
  HistoryEntry | (Omit<HistoryEntry, 'type' | 'parameters'> & { payload: KeptPayload; folderPath: string })

/** Writes the folders' message history, holding back what nobody waits for (history.ts createHistoryWriter). */
export interface HistoryWriter {
  /** resolves once the entries someone waits for are written; the others are held */
  record(entries: HeldEntry[]): Promise<void>
  /** writes what is held (for one folder, or all) */
  flush(folderId?: number): Promise<void>
  /** writes what is held and stops the timer */
  close(): Promise<void>
  /** nothing held and nothing being written (diagnostics, benchmarks) */
  readonly idle: boolean
  /** entries held back, waiting to be written (/metrics) */
  readonly held: number
}

/** Messages that arrived at one folder from one sender, through any door (inbound.ts). */
export interface InboundItem {
  principal: Principal
  /** the live folder the message was addressed to, and its path */
  folder: Resource
  folderPath: string
  /** kept payloads: MQTT's, only kept messages in them (codecs.ts decodeFolderPayloadUnlessKept) */
  messages: (InboundMessage | KeptPayload)[]
  receivedAt: Date
  /** nobody waits to hear it was stored (MQTT QoS 0), so its history row may be held back (history.ts) */
  fireAndForget?: boolean
  /** the MQTT QoS 1/2 PUBLISH it came in: its values are stored once (packet-marks.ts) */
  packet?: SentPacket
}

/** An MQTT QoS 1/2 PUBLISH, as packet-marks.ts tells a resend from a new message with the same id. */
export interface SentPacket {
  /** principalKey of the sender */
  sender: string
  clientId: string
  packetId: number
  /** of its topic and payload (packet-marks.ts packetHash) */
  hash: string
  /** DUP set: the client says it may have sent it before */
  dup: boolean
  /** its connection; fresh once it carried a publish that was not a resend */
  connection: { fresh: boolean }
  /** decided once, so values stored again one by one (values.ts) keep it */
  verdict?: 'fresh' | 'resend'
}

/** An email or text message a message asked for; the caller decides whether to wait for it. */
export interface OutgoingRequest {
  principal: Principal
  type: string
  parameters: Record<string, unknown>
  /** the inbound item that asked for it */
  origin: InboundItem
}

/** A sequence value a message carries (values.ts stores it). */
export interface ValueRequest {
  principal: Principal
  /** the folder the message was sent to: relative names are below it */
  folderPath: string
  /** a name relative to the folder ("temp", "status/cpu") or an absolute path */
  sequence: string
  value: string | Buffer
  timestamp?: Date
  /** what the request came from (its inbound message), so a refusal can be told to its sender */
  origin?: InboundItem
  /** the SDK queue entry it is, stored once (replays.ts, checked in the values' transaction) */
  entry?: EntryMark
  /** the sequence and the sender's access level as the core's lookup just found them (REST): not looked up again */
  found?: { resource: Resource; level: number }
}

/** Why a value was refused, as an error code: each door answers it in its protocol (HTTP status, MQTT, websocket). */
export type RefusalKind = Extract<ErrorCode, 'not_found' | 'forbidden' | 'invalid' | 'too_large'>

/** A value not stored, and why (unknown sequence, no write access, bad value). */
export interface ValueRefusal {
  request: ValueRequest
  kind: RefusalKind
  reason: string
}

/** Delivers a payload to a folder's subscribers (MQTT and JSON websocket alike). */
export interface FolderPublisher {
  /** origin: an id of the sending connection, so it is not sent back its own message */
  publishToFolder(path: string, payload: Buffer, origin?: string): void
}

/** What one inbound item came to, for its sender. */
export interface ItemOutcome {
  /** its sequence values that were not stored, each with why */
  refused: ValueRefusal[]
  /** emails and text messages it asks to send; the sender sends them (and hears of a refusal) */
  outgoing: OutgoingRequest[]
}

/** The broker's side of every door: delivery to subscribers, and storing through MQTT's batches. */
export interface MessageBus extends FolderPublisher {
  /**
   * Stores what an item carries in the next batch of broker/ingest.ts (one transaction with the
   * MQTT messages beside it) and announces its stored values; resolves once that is on disk.
   */
  accept(item: InboundItem): Promise<ItemOutcome>
}
