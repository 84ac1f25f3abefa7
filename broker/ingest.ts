// PUBLISH -> core: decode the payload of a message to a folder and hand it to the core in batches
// (one transaction per batch, not per message). It runs as the last step of authorizing a PUBLISH,
// because Aedes sends a QoS 1 PUBACK right after that: so a PUBACK goes out only once what the
// message carried is stored, and a failure closes the connection instead (the client resends; a
// resend is stored once: retransmissions.ts). QoS 0 messages are queued without waiting. Closing
// waits until everything accepted is stored. Messages sent through REST and the JSON websocket join
// the same batches (submit), and hear which of their values were refused.
import type { Client, PublishPacket } from 'aedes'
import type { Resource } from '../core/db/index.ts'
import type { Core } from '../core/index.ts'
import { committedToDisk } from '../core/db/sqlite-connection.ts'
import { decodeFolderPayloadUnlessKept, decodeSequencePayload } from '../core/messages/codecs.ts'
import type { FolderPublisher, InboundItem, ItemOutcome, OutgoingRequest } from '../core/messages/types.ts'
import { valuesStored } from '../core/messages/values.ts'
import { acceptInbound, logNotUnderstood, SERVER_HANDLED_TYPES } from '../core/messages/inbound.ts'
import { sendOutgoing } from '../core/messages/outgoing.ts'
import { isFolderType, ResourceType } from '../core/resources/types.ts'
import { createAccessCache } from '../core/resources/access-cache.ts'
import { ACCESS_TTL_MS } from './acl.ts'
import type { PathResolver } from '../core/resources/resolver.ts'
import { sessionOf } from './clients.ts'
import { hasEmptyLevel, pathToTopic, topicToPath } from './topics.ts'
import { markReply } from './replies.ts'
import { storeOnce, withSentPacket, type SharedStoredIds } from './retransmissions.ts'

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

/** `storedIds`: the stored QoS 1/2 message ids of every instance (Redis); else this one's alone. */
export function createIngest(
  core: Core,
  resolver: PathResolver,
  bus: FolderPublisher,
  storedIds?: SharedStoredIds,
): Ingest {
  const once = storeOnce(storedIds)
  // long-lived answers: the broker clears them when the access version moves (revalidate.ts)
  const lookups = { resolver, access: createAccessCache(core.db, ACCESS_TTL_MS) }
  let pending: Pending[] = []
  let timer: NodeJS.Timeout | undefined
  let inFlight: Promise<void> = Promise.resolve()
  let storing = 0 // batches started and not yet finished
  let lastOnDisk: Promise<void> = Promise.resolve() // the newest batch's WAL flush

  const runBatch = () => {
    if (timer) clearTimeout(timer)
    timer = undefined
    const batch = pending
    pending = []
    if (batch.length === 0) return inFlight
    storing++
    // batches are stored one after another, so messages keep their order
    inFlight = inFlight.then(async () => {
      try {
        // committed here; the next batch goes on while this one's WAL flush runs, and what waits for
        // the batch (PUBACKs, announcements, emails) waits for the flush too
        const outcome = await acceptInbound(
          core,
          batch.map((b) => b.item),
          lookups,
        )
        core.metrics.figures.valuesStored += outcome.values.stored.length
        core.metrics.figures.valuesRefused += outcome.values.refused.length
        const onDisk = committedToDisk(core.db)
        lastOnDisk = onDisk.catch(() => {})
        onDisk.then(
          () => {
            // announced (and thumbnails queued) once on disk, whichever door the message came through
            valuesStored(core, bus, outcome.values.stored)
            const answers = answersFor(batch, outcome)
            for (const b of batch) {
              b.done()
              b.answer?.(answers.get(b.item) ?? { refused: [], outgoing: [] })
            }
          },
          (err: Error) => {
            core.log.error({ err, messages: batch.length }, 'flushing stored mqtt messages to disk failed')
            for (const b of batch) b.done(err)
          },
        )
      } catch (err) {
        core.log.error({ err, messages: batch.length }, 'storing mqtt messages failed')
        for (const b of batch) b.done(err as Error)
      } finally {
        // the last batch in line hands over to what arrived while it was stored
        if (--storing === 0 && pending.length > 0) void runBatch()
      }
    })
    return inFlight
  }

  // Emails and text messages go out one at a time after their batch is stored: a slow SMTP server
  // must not hold up PUBACKs. MQTT has no way to report a refusal, so it is logged.
  let sending: Promise<void> = Promise.resolve()
  const sendInBackground = (requests: OutgoingRequest[]) => {
    for (const r of requests) {
      sending = sending
        .then(() => sendOutgoing(core, core.outbox, r.principal, r.type, r.parameters))
        .catch((err: Error) => core.log.warn({ type: r.type, reason: err.message }, 'outgoing message not sent'))
    }
  }

  // What a waiting sender hears (its refused values, its emails to send); what nobody waits for, MQTT's,
  // is logged or sent here
  const answersFor = (batch: Pending[], outcome: Awaited<ReturnType<typeof acceptInbound>>) => {
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
        core.log.warn(
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
    sendInBackground(background)
    return answers
  }

  // MQTT 3.1.1 has no negative acknowledgement: the publisher alone is sent {"error": {message, sequence}}
  // on the folder's topic (the SDK raises it as an error event)
  const tellPublisher = (client: Client | undefined, refusal: ItemOutcome['refused'][number]) => {
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

  const enqueueWith = (
    item: InboundItem,
    done: (err?: Error) => void,
    answer?: (outcome: ItemOutcome) => void,
    client?: Client,
  ) => {
    pending.push({ item, done, answer, client })
    if (pending.length >= BATCH_MAX) void runBatch()
    else if (storing === 0) timer ??= setTimeout(runBatch, BATCH_DELAY_MS)
  }
  const enqueue = (item: InboundItem, client: Client) =>
    new Promise<void>((resolve, reject) =>
      enqueueWith(item, (err) => (err ? reject(err) : resolve()), undefined, client),
    )
  const ignore = () => {} // QoS 0: a failed batch is logged by runBatch; nobody waits for it

  /**
   * A message to a folder whose row is at hand; null when its payload is not understood (then only
   * relayed). A payload of messages that are only kept is decoded when kept (history.ts).
   */
  const folderItem = (
    client: Client,
    principal: InboundItem['principal'],
    folder: Resource,
    path: string,
    packet: PublishPacket,
  ): InboundItem | null => {
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
      notUnderstood(client, packet, err as Error)
      return null
    }
  }
  const notUnderstood = (client: Client, packet: PublishPacket, err: Error) =>
    logNotUnderstood(core.log, { clientId: client.id, topic: packet.topic }, err)

  const decode = async (client: Client, packet: PublishPacket): Promise<InboundItem | null> => {
    const session = sessionOf(client)
    if (!session || packet.topic.startsWith('$')) return null
    const path = topicToPath(packet.topic)
    const resource = await resolver.resolve(path).catch(() => null)
    if (!resource) return null // sub-topics below a folder and unknown topics are only relayed
    if (isFolderType(resource.type)) return folderItem(client, session.principal, resource, path, packet)
    const receivedAt = new Date()
    try {
      if (resource.type !== ResourceType.sequence) return null
      // a raw value published to a sequence's own topic stores it
      const folderPath = path.slice(0, path.lastIndexOf('/'))
      const folder = await resolver.resolve(folderPath)
      if (!folder) return null
      const { value } = decodeSequencePayload(packet.payload as Buffer)
      return {
        principal: session.principal,
        folder,
        folderPath,
        messages: [{ kind: 'store', sequence: resource.name, value }],
        receivedAt,
      }
    } catch (err) {
      notUnderstood(client, packet, err as Error)
      return null
    }
  }

  // what is being decoded: a clean shutdown waits for it to be queued, then stored
  const accepting = new Set<Promise<void>>()
  const tracked = (accepted: Promise<void>) => {
    accepting.add(accepted)
    void accepted.catch(() => {}).finally(() => accepting.delete(accepted))
    return accepted
  }
  const store = async (client: Client, packet: PublishPacket) => {
    const item = await decode(client, packet)
    if (item) await enqueue(withSentPacket(item, client, packet), client)
  }

  return {
    accept(client, packet) {
      // `acme/lab/` is a sub-topic, not the folder /acme/lab that splitPath would read it as: only relayed
      if (packet.topic.startsWith('$') || hasEmptyLevel(packet.topic)) return undefined
      const path = topicToPath(packet.topic)
      const known = resolver.peek(path)
      if (known === null) return undefined // a sub-topic or unknown topic: only relayed
      if (packet.qos > 0) return once.run(client, packet, () => tracked(store(client, packet)))
      // the common QoS 0 case, a folder already resolved, is queued without a promise per message
      const session = known && isFolderType(known.type) ? sessionOf(client) : undefined
      if (session && known) {
        const item = folderItem(client, session.principal, known, path, packet)
        if (item) enqueueWith(item, ignore, undefined, client)
        return undefined
      }
      // relayed once queued; a failed batch is logged by runBatch
      return tracked(
        (async () => {
          const item = await decode(client, packet)
          if (item) enqueueWith(item, ignore, undefined, client)
        })(),
      )
    },
    submit: (item) =>
      new Promise<ItemOutcome>((resolve, reject) => enqueueWith(item, (err) => err && reject(err), resolve)),
    accessChanged: () => lookups.access.clear(),
    get waiting() {
      return pending.length
    },
    async flush() {
      do {
        await Promise.allSettled(accepting)
        await runBatch()
      } while (accepting.size > 0 || pending.length > 0 || storing > 0)
      await lastOnDisk
      await sending
    },
  }
}
