// PUBLISH -> core: decode the payload of a message to a folder and hand it to the core in batches
// (one transaction per batch, not per message). It runs as the last of the PUBLISH steps (publish.ts),
// because Aedes sends a QoS 1 PUBACK right after them: so a PUBACK goes out only once what the
// message carried is stored, and a failure closes the connection instead (the client resends; a
// resend is stored once: retransmissions.ts). QoS 0 messages are queued without waiting. Closing
// waits until everything accepted is stored. Messages sent through REST and the JSON websocket join
// the same batches (submit), and hear which of their values were refused.
// A message: accept -> decode -> enqueue. A batch: runBatch -> storeBatch -> (on disk) announce -> answersFor.
import type { Client, PublishPacket } from 'aedes'
import type { Resource } from '../core/db/index.ts'
import type { Core } from '../core/index.ts'
import { committedToDisk } from '../core/db/sqlite-connection.ts'
import { databaseUnreachable, reportUnreachable, unlessUnreachable } from '../core/db/availability.ts'
import { unavailable } from '../core/errors.ts'
import { reportDiskFull } from '../core/disk-full.ts'
import { decodeFolderPayloadUnlessKept, decodeSequencePayload } from '../core/messages/codecs.ts'
import type { FolderPublisher, InboundItem, ItemOutcome, OutgoingRequest } from '../core/messages/types.ts'
import { valuesStored } from '../core/messages/values.ts'
import { acceptInbound, logNotUnderstood, SERVER_HANDLED_TYPES, type InboundOutcome } from '../core/messages/inbound.ts'
import { sendOutgoing } from '../core/messages/outgoing.ts'
import { isFolderType, ResourceType } from '../core/resources/types.ts'
import { createAccessCache, type AccessCache } from '../core/resources/access-cache.ts'
import { ACCESS_TTL_MS } from './acl.ts'
import type { PathResolver } from '../core/resources/resolver.ts'
import { sessionOf } from './clients.ts'
import { hasEmptyLevel, loggedTopic, pathToTopic, topicToPath } from './topics.ts'
import { markReply } from './replies.ts'
import { storeOnce, withSentPacket, type SharedStoredIds, type StoreOnce } from './retransmissions.ts'

const BATCH_MAX = 500
/**
 * With nothing being stored, the first message waits this long for others to join its batch. While
 * a batch is being stored, what arrives meanwhile becomes the next batch, stored as soon as that one
 * is done (a group commit): waiting longer then would only leave the database idle.
 */
const BATCH_DELAY_MS = 5

export interface Ingest {
  /**
   * resolves once the message is stored (QoS > 0) or queued (QoS 0); undefined when it is known at
   * once that there is nothing to store (a sub-topic, a retransmission), so relaying needs no promise
   */
  accept(client: Client, packet: PublishPacket): Promise<void> | undefined
  /**
   * Stores a message sent through another door (REST, the JSON websocket) in the next batch; resolves
   * once it is on disk and its values announced, with what its sender should hear of.
   */
  submit(item: InboundItem): Promise<ItemOutcome>
  /** waits for everything accepted so far to be stored */
  flush(): Promise<void>
  /** forgets cached access answers (access rules changed) */
  accessChanged(): void
  /** messages waiting for the next batch (/metrics) */
  readonly waiting: number
}

/** One message waiting for its batch: done when stored; answer, when its sender waits to hear what became of it. */
interface Pending {
  item: InboundItem
  done: (err?: Error) => void
  answer?: (outcome: ItemOutcome) => void
  /** the MQTT client that published it, told of its refused values */
  client?: Client
}

/** What the ingest steps share: the core, the resolver and access cache, and the batch being filled. */
interface IngestContext {
  core: Core
  resolver: PathResolver
  bus: FolderPublisher
  once: StoreOnce
  /** long-lived answers: the broker clears them when the access version moves (revalidate.ts) */
  lookups: { resolver: PathResolver; access: AccessCache }
  /** the next batch */
  pending: Pending[]
  timer: NodeJS.Timeout | undefined
  /** the batch being stored: batches are stored one after another, so messages keep their order */
  inFlight: Promise<void>
  /** batches started and not yet finished */
  storing: number
  /** the newest batch's WAL flush */
  lastOnDisk: Promise<void>
  /** emails and text messages going out, one at a time */
  sending: Promise<void>
  /** what is being decoded: a clean shutdown waits for it to be queued, then stored */
  accepting: Set<Promise<void>>
}

/** `storedIds`: the stored QoS 1/2 message ids of every instance (Redis); else this one's alone. */
export function createIngest(
  core: Core,
  resolver: PathResolver,
  bus: FolderPublisher,
  storedIds?: SharedStoredIds,
): Ingest {
  const ctx: IngestContext = {
    core,
    resolver,
    bus,
    once: storeOnce(storedIds),
    lookups: { resolver, access: createAccessCache(core.db, ACCESS_TTL_MS) },
    pending: [],
    timer: undefined,
    inFlight: Promise.resolve(),
    storing: 0,
    lastOnDisk: Promise.resolve(),
    sending: Promise.resolve(),
    accepting: new Set(),
  }
  return {
    accept: (client, packet) => accept(ctx, client, packet),
    submit: (item) =>
      new Promise<ItemOutcome>((resolve, reject) => enqueue(ctx, item, (err) => err && reject(err), resolve)),
    accessChanged: () => ctx.lookups.access.clear(),
    get waiting() {
      return ctx.pending.length
    },
    flush: () => flush(ctx),
  }
}

// --- a PUBLISH: decoded, then queued for the next batch ---

function accept(ctx: IngestContext, client: Client, packet: PublishPacket): Promise<void> | undefined {
  // `acme/lab/` is a sub-topic, not the folder /acme/lab that splitPath would read it as: only relayed
  if (packet.topic.startsWith('$') || hasEmptyLevel(packet.topic)) return undefined
  const path = topicToPath(packet.topic)
  const known = ctx.resolver.peek(path)
  if (known === null) return undefined // a sub-topic or unknown topic: only relayed
  if (packet.qos > 0) return ctx.once.run(client, packet, () => tracked(ctx, storeAwaited(ctx, client, packet)))
  // the common QoS 0 case, a folder already resolved, is queued without a promise per message
  const session = known && isFolderType(known.type) ? sessionOf(client) : undefined
  if (session && known) {
    const item = folderItem(ctx, client, session.principal, known, path, packet)
    if (item) enqueue(ctx, item, ignore, undefined, client)
    return undefined
  }
  // relayed once queued; a failed batch is logged by runBatch
  return tracked(ctx, storeQueued(ctx, client, packet))
}

const ignore = () => {} // QoS 0: a failed batch is logged by runBatch; nobody waits for it

function tracked(ctx: IngestContext, accepted: Promise<void>): Promise<void> {
  ctx.accepting.add(accepted)
  void accepted.catch(() => {}).finally(() => ctx.accepting.delete(accepted))
  return accepted
}

/** QoS > 0: resolves once stored, so the PUBACK follows the commit. */
async function storeAwaited(ctx: IngestContext, client: Client, packet: PublishPacket): Promise<void> {
  const item = await decode(ctx, client, packet)
  if (!item) return
  const sent = withSentPacket(item, client, packet)
  await new Promise<void>((resolve, reject) =>
    enqueue(ctx, sent, (err) => (err ? reject(err) : resolve()), undefined, client),
  )
}

/** QoS 0 on a topic not resolved yet: resolves once queued. */
async function storeQueued(ctx: IngestContext, client: Client, packet: PublishPacket): Promise<void> {
  const item = await decode(ctx, client, packet)
  if (item) enqueue(ctx, item, ignore, undefined, client)
}

async function decode(ctx: IngestContext, client: Client, packet: PublishPacket): Promise<InboundItem | null> {
  const session = sessionOf(client)
  if (!session || packet.topic.startsWith('$')) return null
  const path = topicToPath(packet.topic)
  // QoS 1/2 unresolved while the database is away: refused, not acknowledged unstored; QoS 0 is still relayed
  const resource = await ctx.resolver.resolve(path).catch(packet.qos > 0 ? unlessUnreachable(null) : () => null)
  if (!resource) return null // sub-topics below a folder and unknown topics are only relayed
  if (isFolderType(resource.type)) return folderItem(ctx, client, session.principal, resource, path, packet)
  if (resource.type !== ResourceType.sequence) return null
  return sequenceItem(ctx, client, session.principal, resource, path, packet)
}

/**
 * A message to a folder whose row is at hand; null when its payload is not understood (then only
 * relayed). A payload of messages that are only kept is decoded when kept (history.ts).
 */
function folderItem(
  ctx: IngestContext,
  client: Client,
  principal: InboundItem['principal'],
  folder: Resource,
  path: string,
  packet: PublishPacket,
): InboundItem | null {
  try {
    return {
      principal,
      folder,
      folderPath: path,
      messages: decodeFolderPayloadUnlessKept(packet.payload as Buffer, SERVER_HANDLED_TYPES),
      receivedAt: new Date(),
      fireAndForget: packet.qos === 0,
    }
  } catch (err) {
    notUnderstood(ctx, client, packet, err as Error)
    return null
  }
}

/** A raw value published to a sequence's own topic stores it. */
async function sequenceItem(
  ctx: IngestContext,
  client: Client,
  principal: InboundItem['principal'],
  sequence: Resource,
  path: string,
  packet: PublishPacket,
): Promise<InboundItem | null> {
  const receivedAt = new Date()
  try {
    const folderPath = path.slice(0, path.lastIndexOf('/'))
    const folder = await ctx.resolver.resolve(folderPath)
    if (!folder) return null
    const { value } = decodeSequencePayload(packet.payload as Buffer)
    return { principal, folder, folderPath, messages: [{ kind: 'store', sequence: sequence.name, value }], receivedAt }
  } catch (err) {
    if (packet.qos > 0 && databaseUnreachable(err)) throw err // refused, not acknowledged as a value nobody can store
    notUnderstood(ctx, client, packet, err as Error)
    return null
  }
}

function notUnderstood(ctx: IngestContext, client: Client, packet: PublishPacket, err: Error): void {
  logNotUnderstood(ctx.core.log, { clientId: client.id, topic: loggedTopic(packet.topic) }, err)
}

function enqueue(
  ctx: IngestContext,
  item: InboundItem,
  done: (err?: Error) => void,
  answer?: (outcome: ItemOutcome) => void,
  client?: Client,
): void {
  ctx.pending.push({ item, done, answer, client })
  if (ctx.pending.length >= BATCH_MAX) void runBatch(ctx)
  else if (ctx.storing === 0) ctx.timer ??= setTimeout(runBatch, BATCH_DELAY_MS, ctx)
}

// --- a batch: stored in one transaction, then on disk, then announced and answered ---

function runBatch(ctx: IngestContext): Promise<void> {
  if (ctx.timer) clearTimeout(ctx.timer)
  ctx.timer = undefined
  const batch = ctx.pending
  ctx.pending = []
  if (batch.length === 0) return ctx.inFlight
  ctx.storing++
  ctx.inFlight = ctx.inFlight.then(async () => {
    try {
      await storeBatch(ctx, batch)
    } catch (err) {
      // no PUBACK: Aedes closes the connection and the client sends the message again
      const away = reportUnreachable(ctx.core.log, err, 'mqtt', { messages: batch.length })
      if (!away && !reportDiskFull(ctx.core.log, err, 'mqtt', { messages: batch.length }))
        ctx.core.log.error({ err, messages: batch.length }, 'storing mqtt messages failed')
      for (const b of batch) b.done(away ? unavailable('the database does not answer: nothing stored') : (err as Error))
    } finally {
      // the last batch in line hands over to what arrived while it was stored
      if (--ctx.storing === 0 && ctx.pending.length > 0) void runBatch(ctx)
    }
  })
  return ctx.inFlight
}

// Committed here; the next batch goes on while this one's WAL flush runs, and what waits for the
// batch (PUBACKs, announcements, emails) waits for the flush too.
async function storeBatch(ctx: IngestContext, batch: Pending[]): Promise<void> {
  const outcome = await acceptInbound(
    ctx.core,
    batch.map((b) => b.item),
    ctx.lookups,
  )
  ctx.core.metrics.figures.valuesStored += outcome.values.stored.length
  ctx.core.metrics.figures.valuesRefused += outcome.values.refused.length
  const onDisk = committedToDisk(ctx.core.db)
  ctx.lastOnDisk = onDisk.catch(() => {})
  onDisk.then(
    () => announce(ctx, batch, outcome),
    (err: Error) => {
      ctx.core.log.error({ err, messages: batch.length }, 'flushing stored mqtt messages to disk failed')
      for (const b of batch) b.done(err)
    },
  )
}

/** Announced (and thumbnails queued) once on disk, whichever door the message came through. */
function announce(ctx: IngestContext, batch: Pending[], outcome: InboundOutcome): void {
  valuesStored(ctx.core, ctx.bus, outcome.values.stored)
  const answers = answersFor(ctx, batch, outcome)
  for (const b of batch) {
    b.done()
    b.answer?.(answers.get(b.item) ?? { refused: [], outgoing: [] })
  }
}

// What a waiting sender hears (its refused values, its emails to send); what nobody waits for, MQTT's,
// is logged or sent here
function answersFor(ctx: IngestContext, batch: Pending[], outcome: InboundOutcome): Map<InboundItem, ItemOutcome> {
  const answers = new Map<InboundItem, ItemOutcome>()
  if (outcome.values.refused.length === 0 && outcome.outgoing.length === 0) return answers
  const waiting = new Set(batch.filter((b) => b.answer).map((b) => b.item))
  const publisherOf = new Map(batch.map((b) => [b.item, b.client]))
  const answerOf = (item: InboundItem) =>
    answers.get(item) ?? answers.set(item, { refused: [], outgoing: [] }).get(item)!
  for (const refusal of outcome.values.refused) {
    const item = refusal.request.origin
    if (item && waiting.has(item)) answerOf(item).refused.push(refusal)
    // acknowledged all the same: a device resending a value it cannot fix would loop forever
    else {
      ctx.core.log.warn(
        { folder: refusal.request.folderPath, sequence: refusal.request.sequence, reason: refusal.reason },
        'mqtt sequence value not stored',
      )
      if (item) tellPublisher(publisherOf.get(item), refusal)
    }
  }
  const background: OutgoingRequest[] = []
  for (const request of outcome.outgoing) {
    if (waiting.has(request.origin)) answerOf(request.origin).outgoing.push(request)
    else background.push(request)
  }
  sendInBackground(ctx, background)
  return answers
}

// MQTT 3.1.1 has no negative acknowledgement: the publisher alone is sent {"error": {message, sequence}}
// on the folder's topic (the SDK raises it as an error event)
function tellPublisher(client: Client | undefined, refusal: ItemOutcome['refused'][number]): void {
  if (!client) return
  const payload = markReply(
    Buffer.from(JSON.stringify({ error: { message: refusal.reason, sequence: refusal.request.sequence } })),
  )
  const packet = {
    cmd: 'publish',
    topic: pathToTopic(refusal.request.folderPath),
    payload,
    qos: 0,
    retain: false,
    dup: false,
  } as PublishPacket
  client.publish(packet, () => {})
}

// Emails and text messages go out one at a time after their batch is stored: a slow SMTP server
// must not hold up PUBACKs. MQTT has no way to report a refusal, so it is logged.
function sendInBackground(ctx: IngestContext, requests: OutgoingRequest[]): void {
  const { core } = ctx
  for (const r of requests) {
    ctx.sending = ctx.sending
      .then(() => sendOutgoing(core, core.outbox, r.principal, r.type, r.parameters))
      .catch((err: Error) => core.log.warn({ type: r.type, reason: err.message }, 'outgoing message not sent'))
  }
}

async function flush(ctx: IngestContext): Promise<void> {
  do {
    await Promise.allSettled(ctx.accepting)
    await runBatch(ctx)
  } while (ctx.accepting.size > 0 || ctx.pending.length > 0 || ctx.storing > 0)
  await ctx.lastOnDisk
  await ctx.sending
}
