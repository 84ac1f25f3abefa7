// What a message sent to a folder does, whichever door it came through (MQTT, JSON websocket, REST).
// Server-handled types act here; every other type is kept in the folder's history (and relayed to
// subscribers by the transport).
import type { CoreContext } from '../context.ts'
import type { Logger } from '../log.ts'
import type { Principal } from '../resources/permissions.ts'
import { recordWatchdog } from '../resources/controller-status.ts'
import { ResourceType } from '../resources/types.ts'
import { expandUpdate, SEQUENCE_UPDATE_TYPES, type EntryMark, type InboundMessage } from './codecs.ts'
import { OUTGOING_TYPES } from './outgoing.ts'
import type { HeldEntry, InboundItem, OutgoingRequest, ValueRequest } from './types.ts'
import { writeSequenceValues, type ValueLookups, type ValueOutcome } from './values.ts'

/**
 * A payload that is not understood is relayed all the same (generic MQTT devices may publish any
 * payload to their folder) but not stored; this says so, found on arrival (broker) or when kept (history).
 */
export function logNotUnderstood(log: Logger, where: Record<string, unknown>, err: Error): void {
  log.warn({ ...where, reason: err.message }, 'mqtt payload not understood; relayed, not stored')
}

/** Types the server acts on rather than keeping (rhizo-server message_monitor.py). */
export const SERVER_HANDLED_TYPES: ReadonlySet<string> = new Set([
  'update',
  'watchdog',
  'send_email',
  'send_text_message',
  'send_sms',
  ...SEQUENCE_UPDATE_TYPES,
])

function sender(principal: Principal) {
  return {
    senderControllerId: principal.kind === 'controller' ? principal.controllerId : null,
    senderUserId: principal.kind === 'user' ? principal.userId : null,
  }
}

/** The controller a watchdog speaks for: the folder it was sent to, or else the sending controller. */
function watchdogController(item: InboundItem): number | null {
  if (item.folder.type === ResourceType.controllerFolder) return item.folder.id
  return item.principal.kind === 'controller' ? item.principal.controllerId : null
}

export interface InboundOutcome {
  /** emails and text messages the messages ask to send */
  outgoing: OutgoingRequest[]
  /** sequence values stored (for valuesStored, once on disk) and refused (to report or log) */
  values: ValueOutcome
}

// (module-level, not a closure per message: tsx names every function it creates, at a cost per message)
function valueRequest(
  item: InboundItem,
  sequence: string,
  value: string | Buffer,
  timestamp: Date | undefined,
  entry: EntryMark | undefined,
): ValueRequest {
  const request: ValueRequest = {
    principal: item.principal,
    folderPath: item.folderPath,
    sequence,
    value,
    timestamp: timestamp ?? item.receivedAt,
    origin: item,
  }
  if (entry) request.entry = entry
  return request
}

/** Whether a message sets sequence values (a CSV "s," line, update_sequence, update). */
export function carriesValues(message: InboundMessage): boolean {
  return message.kind === 'store' || (message.kind === 'message' && message.type === 'update')
}

/** The sequence values one message of an item sets, appended to `into`. */
export function valueRequestsOf(item: InboundItem, message: InboundMessage, into: ValueRequest[] = []): ValueRequest[] {
  if (message.kind === 'store') {
    into.push(
      valueRequest(
        item,
        message.sequence,
        message.encoding === 'base64' ? Buffer.from(message.value, 'base64') : message.value,
        message.timestamp,
        message.entry,
      ),
    )
  } else if (message.kind === 'message' && message.type === 'update') {
    const update = expandUpdate(message.parameters)
    for (const v of update.values) into.push(valueRequest(item, v.sequence, v.value, update.timestamp, update.entry))
  }
  return into
}

/** Stores what the messages carry: sequence values, history, watchdogs. */
export async function acceptInbound(
  ctx: CoreContext,
  items: InboundItem[],
  lookups?: ValueLookups,
): Promise<InboundOutcome> {
  const history: HeldEntry[] = []
  const outgoing: OutgoingRequest[] = []
  const values: ValueRequest[] = []
  const watchdogs = new Map<number, Date>()
  // none kept (--message-history-count 0): a deployment that only relays, e.g. to spare an SD card a write per message
  const keepHistory = ctx.config.messageHistory.count > 0
  for (const item of items) {
    for (const message of item.messages) {
      if (message.kind === 'display') continue // shown to subscribers, never stored (rhizo's d, lines)
      if (message.kind === 'kept') {
        if (keepHistory)
          history.push({
            folderId: item.folder.id,
            payload: message,
            folderPath: item.folderPath,
            timestamp: item.receivedAt,
            ...sender(item.principal),
            fireAndForget: item.fireAndForget,
          })
        continue
      }
      if (carriesValues(message)) {
        valueRequestsOf(item, message, values)
        continue
      }
      if (message.kind !== 'message') continue
      if (message.type === 'watchdog') {
        const controllerId = watchdogController(item)
        if (controllerId !== null) watchdogs.set(controllerId, item.receivedAt)
        continue
      }
      if (OUTGOING_TYPES.has(message.type)) {
        outgoing.push({ principal: item.principal, type: message.type, parameters: message.parameters, origin: item })
        continue
      }
      if (SERVER_HANDLED_TYPES.has(message.type) || !keepHistory) continue
      history.push({
        folderId: item.folder.id,
        type: message.type,
        parameters: message.parameters,
        timestamp: item.receivedAt,
        ...sender(item.principal),
        fireAndForget: item.fireAndForget,
      })
    }
  }
  // an SDK entry sent again is dropped, and its mark written, inside the values' transaction (replays.ts)
  const stored = await writeSequenceValues(ctx, values, { lookups })
  await ctx.history.record(history)
  for (const [controllerId, at] of watchdogs) await recordWatchdog(ctx.db, controllerId, at)
  return { outgoing, values: stored }
}
