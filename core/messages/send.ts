// Sending a message to a folder from REST or the JSON websocket: the same checks and effects as a
// PUBLISH over MQTT (values, history, server-handled types, stored in the broker's batches), then
// out to every subscriber through the bus.
import type { CoreContext } from '../context.ts'
import { forbidden, notFound } from '../errors.ts'
import { accessToPath, findNearest } from '../resources/access.ts'
import { splitPath } from '../resources/paths.ts'
import { canRead, canWrite, type Principal } from '../resources/permissions.ts'
import { isFolderType } from '../resources/types.ts'
import type { InboundMessage } from './codecs.ts'
import { carriesValues, valueRequestsOf } from './inbound.ts'
import { sendOutgoing } from './outgoing.ts'
import type { MessageBus, OutgoingRequest } from './types.ts'
import { writeSequenceValuesOrRefuse } from './values.ts'

/**
 * Finds the folder at path for a principal about to use it. Paths the principal cannot read are
 * "not found", whether or not they exist, so nothing leaks about other organizations.
 */
export async function folderFor(ctx: CoreContext, principal: Principal, path: string, need: 'read' | 'write') {
  const level = await accessToPath(ctx.db, principal, path)
  if (!canRead(level)) throw notFound(`folder not found: ${path}`)
  const names = splitPath(path)
  const found = await findNearest(ctx.db, names)
  if (!found || found.depth !== names.length || !isFolderType(found.resource.type))
    throw notFound(`folder not found: ${path}`)
  if (need === 'write' && !canWrite(level)) throw forbidden(`permission error: ${path}`)
  return found.resource
}

/**
 * Sends a message to a folder and returns its values that were refused, for the caller to report.
 * Messages are relayed to subscribers as {"<type>": {params}}; a sequence value is relayed as its
 * announcement ("d,…"), made when it is stored.
 */
export async function sendFolderMessage(
  ctx: CoreContext,
  bus: MessageBus,
  principal: Principal,
  path: string,
  message: InboundMessage,
  origin?: string,
) {
  const folder = await folderFor(ctx, principal, path, 'write')
  const { refused, outgoing } = await bus.accept({
    principal,
    folder,
    folderPath: path,
    messages: [message],
    receivedAt: new Date(),
  })
  await sendAndRelay(ctx, bus, path, message, outgoing, origin)
  return refused
}

/**
 * sendFolderMessage for a request that must store all its values or none (REST: a refused value is
 * answered as on every REST door, by its kind, and nothing is stored). Values are stored in a transaction of their own,
 * not MQTT's batches.
 */
export async function sendFolderMessageAtomically(
  ctx: CoreContext,
  bus: MessageBus,
  principal: Principal,
  path: string,
  message: InboundMessage,
): Promise<void> {
  if (!carriesValues(message)) {
    await sendFolderMessage(ctx, bus, principal, path, message) // only values are ever refused
    return
  }
  const folder = await folderFor(ctx, principal, path, 'write')
  const item = { principal, folder, folderPath: path, messages: [message], receivedAt: new Date() }
  await writeSequenceValuesOrRefuse(ctx, bus, valueRequestsOf(item, message))
  await sendAndRelay(ctx, bus, path, message, [])
}

async function sendAndRelay(
  ctx: CoreContext,
  bus: MessageBus,
  path: string,
  message: InboundMessage,
  outgoing: OutgoingRequest[],
  origin?: string,
) {
  // the sender waits for its email or text message, and hears of a refusal (throttle, bad address)
  for (const request of outgoing)
    await sendOutgoing(ctx, ctx.outbox, request.principal, request.type, request.parameters)
  if (message.kind === 'message')
    bus.publishToFolder(path, Buffer.from(JSON.stringify({ [message.type]: message.parameters })), origin)
}
