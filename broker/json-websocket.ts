// rhizo's JSON websocket at /api/v1/websocket: a second door onto the same routing as MQTT.
// Frames in: {"type", "parameters"[, "folder"]}; out: {"type", "timestamp", "parameters"}.
// A message sent here is published into the broker, so MQTT subscribers get it, and websocket
// subscriptions are broker subscriptions, so messages sent over MQTT arrive here too. Sequence values
// (update_sequence, write_resource, update) are stored in MQTT's batches and announced to the folder;
// a subscriber here sees each announcement as rhizo's `sequence_update` message.
// Behaviour follows rhizo-server main/messages/socket_receiver.py and socket_sender.py.
import type { IncomingMessage } from 'node:http'
import type { Aedes, AedesPublishPacket } from 'aedes'
import type { WebSocket } from 'ws'
import { authenticateKeyCached } from '../core/accounts/key-cache.ts'
import { findSession } from '../core/accounts/sessions.ts'
import type { Core } from '../core/index.ts'
import { reportDiskFull } from '../core/disk-full.ts'
import { diskFull, forbidden, TendrilError } from '../core/errors.ts'
import {
  decodeFolderPayload,
  decodeWebSocketMessage,
  formatTimestamp,
  type DisplayValue,
  type InboundMessage,
} from '../core/messages/codecs.ts'
import { describeRefusals } from '../core/messages/values.ts'
import { pathResolverFor } from '../core/resources/resolver.ts'
import { ResourceType } from '../core/resources/types.ts'
import { accessToPath, canReadSubtree } from '../core/resources/access.ts'
import { canRead, type Principal } from '../core/resources/permissions.ts'
import { pathOf } from '../core/resources/tree.ts'
import { folderFor, sendFolderMessage } from '../core/messages/send.ts'
import type { MessageBus } from '../core/messages/types.ts'
import { readCredentials } from '../http/credentials.ts'
import { fromThisSite } from '../http/origin.ts'
import { pathToTopic } from './topics.ts'
import type { Presence } from './presence.ts'
import { jsonSocketFlow } from './json-websocket-flow.ts'
import type { LiveSession, LiveSessions } from './revalidate.ts'

const MAX_SUBSCRIPTIONS = 100
const SEQUENCE_UPDATE = 'sequence_update'
/** websocket traffic is light: answers are simply re-checked after a second */
const ACCESS_TTL_MS = 1000

type Deliver = (packet: AedesPublishPacket, callback: () => void) => void

/**
 * The principal of an upgrade request: HTTP Basic with a key (username = client version) or a session cookie (403 from
 * another site's page).
 */
export async function principalOfUpgrade(
  core: Core,
  req: IncomingMessage,
): Promise<{ principal: Principal; clientVersion?: string } | null> {
  const { key, clientVersion, sessionToken } = readCredentials(req.headers)
  if (key !== undefined) {
    const principal = await authenticateKeyCached(core, key)
    return principal && { principal, clientVersion }
  }
  if (!sessionToken) return null
  // the browser sends its cookie whatever page opens the socket, and a websocket has no CSRF token
  if (!fromThisSite(req, core.config.trustProxy))
    throw forbidden('a session opens the websocket only from a page of this server')
  // its principal names the session, which ends the websocket at sign-out
  const session = await findSession(core, sessionToken)
  return session && { principal: session.principal }
}

export function serveJsonWebSocket(
  core: Core,
  aedes: Aedes,
  bus: MessageBus,
  presence: Presence,
  live: LiveSessions,
  ws: WebSocket,
  principal: Principal,
  clientVersion?: string,
) {
  const connectionId = `ws:${Math.random().toString(36).slice(2)}`
  // revalidation closes it when its key is revoked or its user deleted (broker/revalidate.ts)
  const session: LiveSession = {
    id: connectionId,
    principal,
    close: () => ws.close(4001, 'credentials no longer valid'),
  }
  live.add(session)
  const subscriptions: { filter: string; deliver: Deliver }[] = []
  const access = new Map<string, { level: number; at: number }>()
  presence.opened(principal, clientVersion)
  const flow = jsonSocketFlow(ws, core.config.mqtt, core.log, connectionId)

  const send = (type: string, parameters: Record<string, unknown>, timestamp = new Date()) => {
    if (ws.readyState === ws.OPEN && flow.maySend())
      ws.send(JSON.stringify({ type, timestamp: formatTimestamp(timestamp), parameters }))
  }
  const sendError = (message: string) => send('error', { message })
  const resolver = pathResolverFor(core)
  let ownPath: Promise<string | null> | undefined // a controller's folder path, looked up once
  const ownFolderPath = () =>
    (ownPath ??= (async () => {
      if (principal.kind !== 'controller') return null
      const own = await core.db.resource.findUnique({ where: { id: principal.controllerId } })
      return own ? pathOf(core.db, own.id) : null
    })())
  const folderPathOf = async (given: string | undefined): Promise<string | null> => {
    if (given === undefined || given === 'self' || given === '[self]') return ownFolderPath()
    if (given.startsWith('/')) return given
    // rhizo's client drops the leading slash ('acme/pi-1/status', update_multiple) and sends a folder
    // relative to the controller as it is ('status'): the absolute reading first, then the relative one
    const absolute = '/' + given
    const own = await ownFolderPath()
    if (!own) return absolute
    return folderFor(core, principal, absolute, 'read').then(
      () => absolute,
      () => `${own}/${given}`,
    )
  }
  /** A sequence value with no folder given: below the controller's folder, or at its absolute path. */
  const valueFolderPathOf = async (given: string | undefined, sequence: string): Promise<string | null> => {
    const path = await folderPathOf(given)
    if (path || !sequence.startsWith('/')) return path
    return sequence.slice(0, sequence.lastIndexOf('/')) || null
  }

  const readable = async (topic: string) => {
    const hit = access.get(topic)
    if (hit && Date.now() - hit.at < ACCESS_TTL_MS) return canRead(hit.level)
    let level: number
    try {
      level = await accessToPath(core.db, principal, '/' + topic)
    } catch {
      return false // not kept: a database away for a moment must not hide the topic for ACCESS_TTL_MS
    }
    access.set(topic, { level, at: Date.now() })
    return canRead(level)
  }

  async function subscribe(parameters: Record<string, unknown>) {
    const list = Array.isArray(parameters.subscriptions) ? parameters.subscriptions : []
    for (const entry of list as Record<string, unknown>[]) {
      if (subscriptions.length >= MAX_SUBSCRIPTIONS) return sendError(`at most ${MAX_SUBSCRIPTIONS} subscriptions`)
      const path = await folderPathOf(typeof entry.folder === 'string' ? entry.folder : undefined)
      const messageType = typeof entry.message_type === 'string' ? entry.message_type : null
      const children = entry.include_children === true
      if (!path) return sendError('subscribe needs a folder path')
      try {
        await folderFor(core, principal, path, 'read')
        if (children && !(await canReadSubtree(core.db, principal, path)))
          throw new Error(`permission error: ${path} (a folder below it is closed to you)`)
      } catch (err) {
        sendError((err as Error).message)
        continue
      }
      const topic = pathToTopic(path)
      const deliver: Deliver = (packet, callback) => {
        callback() // never hold up the broker for one websocket
        // rhizo does not bounce a message back to its sender
        if ((packet as { clientId?: string }).clientId === connectionId) return
        if (!flow.mayDeliver(deliveries)) return // a backlog: dropped, as MQTT drops QoS 0 for a stalled client
        deliveries++
        // one after another, so that a lookup for one packet cannot let the next overtake it
        delivering = delivering
          .then(() => forward(packet, messageType))
          .catch((err: Error) => core.log.error({ err, connection: connectionId }, 'json websocket delivery failed'))
          .finally(() => deliveries--)
      }
      for (const filter of children ? [topic, topic + '/#'] : [topic]) {
        subscriptions.push({ filter, deliver })
        // awaited, so a frame after the subscribe sees its messages (with Redis it takes a round trip)
        await new Promise<void>((resolve) => aedes.subscribe(filter, deliver, () => resolve()))
      }
    }
  }

  let delivering: Promise<void> = Promise.resolve()
  let deliveries = 0 // waiting in delivering
  async function forward(packet: AedesPublishPacket, messageType: string | null) {
    if (!(await readable(packet.topic))) return
    let messages: InboundMessage[]
    try {
      messages = decodeFolderPayload(packet.payload as Buffer)
    } catch {
      return // not a rhizo message: only MQTT clients see it
    }
    for (const m of messages) {
      if (m.kind === 'message' && (messageType === null || m.type === messageType)) send(m.type, m.parameters)
      // a value announced on the folder (or a controller's display-only "d," line); "s," lines are
      // announced once stored, so they are not shown twice
      if (m.kind === 'display' && (messageType === null || messageType === SEQUENCE_UPDATE))
        await sendSequenceUpdate(packet.topic, m)
    }
  }

  // rhizo-server resource_util.update_sequence_value: {id, name (the sequence path), timestamp, value}
  // sent to the sequence's folder as `sequence_update`, timestamped with the value's time
  async function sendSequenceUpdate(topic: string, display: DisplayValue) {
    const path = `/${topic}/${display.sequence}`
    const timestamp = display.timestamp ?? new Date()
    const sequence = await resolver.resolve(path).catch(() => null)
    const id = sequence?.type === ResourceType.sequence ? { id: sequence.id } : {}
    send(SEQUENCE_UPDATE, { ...id, name: path, timestamp: formatTimestamp(timestamp), value: display.value }, timestamp)
  }

  async function handle(frame: Buffer | string) {
    const { folder, message } = decodeWebSocketMessage(frame)
    if (message.kind === 'message' && message.type === 'ping') return
    if (message.kind === 'message' && message.type === 'subscribe') return subscribe(message.parameters)
    const path =
      message.kind === 'message' ? await folderPathOf(folder) : await valueFolderPathOf(folder, message.sequence)
    if (!path)
      return sendError(
        message.kind === 'message'
          ? `message (${message.type}) without folder`
          : `sequence value without folder: ${message.sequence}`,
      )
    const refused = await sendFolderMessage(core, bus, principal, path, message, connectionId)
    if (refused.length > 0) sendError(describeRefusals(refused))
  }

  // a refusal says why; anything else (the database away) is logged, and the sender told only that it failed
  const answerFailure = (err: Error) => {
    if (reportDiskFull(core.log, err, 'json websocket', { connection: connectionId })) err = diskFull()
    if (err instanceof TendrilError) return sendError(err.message)
    core.log.error({ err, connection: connectionId }, 'json websocket frame failed')
    sendError('internal error: the message was not handled')
  }

  // frames are handled one at a time, in order
  let queue = Promise.resolve()
  ws.on('message', (data: Buffer) => {
    if (!flow.received()) return
    queue = queue
      .then(() => handle(data))
      .catch(answerFailure)
      .finally(flow.handled)
  })
  ws.on('close', () => {
    flow.close()
    live.delete(session)
    for (const { filter, deliver } of subscriptions) aedes.unsubscribe(filter, deliver, () => {})
    presence.closed(principal)
  })
}
