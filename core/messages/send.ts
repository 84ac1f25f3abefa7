// Sending a message to a folder from REST or the JSON websocket: the same checks and effects as a
// PUBLISH over MQTT (history, server-handled types), then out to every subscriber through the bus.
import type { CoreContext } from '../context.ts'
import { forbidden, notFound } from '../errors.ts'
import { accessToPath, findNearest } from '../resources/access.ts'
import { splitPath } from '../resources/paths.ts'
import { canRead, canWrite, type Principal } from '../resources/permissions.ts'
import { isFolderType } from '../resources/types.ts'
import type { FolderMessage } from './codecs.ts'
import { acceptInbound } from './inbound.ts'
import { sendOutgoing } from './outgoing.ts'

/** Delivers a payload to a folder's subscribers; the broker implements it. */
export interface MessageBus {
  /** origin: an id of the sending connection, so it is not sent back its own message */
  publishToFolder(path: string, payload: Buffer, origin?: string): void
}

/**
 * Finds the folder at path for a principal about to use it. Paths the principal cannot read are
 * "not found", whether or not they exist, so nothing leaks about other organizations.
 */
export async function folderFor(ctx: CoreContext, principal: Principal, path: string, need: 'read' | 'write') {
  const level = await accessToPath(ctx.db, principal, path)
  if (!canRead(level)) throw notFound(`folder not found: ${path}`)
  const names = splitPath(path)
  const found = await findNearest(ctx.db, names)
  if (!found || found.depth !== names.length || !isFolderType(found.resource.type)) throw notFound(`folder not found: ${path}`)
  if (need === 'write' && !canWrite(level)) throw forbidden(`permission error: ${path}`)
  return found.resource
}

export async function sendFolderMessage(ctx: CoreContext, bus: MessageBus, principal: Principal, path: string, message: FolderMessage, origin?: string) {
  const folder = await folderFor(ctx, principal, path, 'write')
  const { outgoing } = await acceptInbound(ctx, [{ principal, folder, folderPath: path, messages: [message], receivedAt: new Date() }])
  // the sender waits for its email or text message, and hears of a refusal (throttle, bad address)
  for (const request of outgoing) await sendOutgoing(ctx, ctx.outbox, request.principal, request.type, request.parameters)
  bus.publishToFolder(path, Buffer.from(JSON.stringify({ [message.type]: message.parameters })), origin)
}
