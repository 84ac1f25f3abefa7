// The PUBLISH path, as aedes' handlers write theirs: a list of named steps. Aedes parses a PUBLISH
// and calls authorizePublish, which runs PUBLISH_STEPS; once they pass, Aedes sends the QoS 1 PUBACK
// and relays the packet (already relayed by publishBeforeAck), asking authorizeForward for each subscriber.
// A refusal closes the connection.
import type { AedesOptions, Client, PublishPacket } from 'aedes'
import type { Core } from '../core/index.ts'
import { authorizeWrite, mayForward, type Acl } from './acl.ts'
import { sessionOf } from './clients.ts'
import type { Ingest } from './ingest.ts'
import { runSteps, type Step, type Verdict } from './pipeline.ts'
import { stillValid } from './revalidate.ts'

/** What the PUBLISH steps share. */
export interface PublishContext {
  core: Core
  figures: Core['metrics']['figures']
  acl: Acl
  ingest: Ingest
  /** false when the client is past --mqtt-publish-rate (limits.ts) */
  withinRate: (client: Client) => boolean
  /** clears the retain flag of a retained PUBLISH past --mqtt-retained-per-org (retained.ts) */
  keepRetained: (client: Client, packet: PublishPacket) => Promise<void>
  /** Aedes' publish (retained, queued for persistent sessions, relayed), ahead of the PUBACK (publish-first.ts) */
  publishFirst: (client: Client, packet: PublishPacket) => Promise<void>
}

type PublishStep = Step<PublishContext, Client | null, PublishPacket>

/** A PUBLISH, in order: authorized first, then stored, then acknowledged and relayed by Aedes. */
export const PUBLISH_STEPS: readonly PublishStep[] = [
  countReceived,
  refuseRevokedSession,
  checkWill,
  limitRate,
  checkWriteAccess,
  keepRetained,
  storeValues,
  publishBeforeAck,
]

/** Aedes' hooks for a PUBLISH and its forwarding, over one context. */
export function publishHooks(ctx: PublishContext): Pick<AedesOptions, 'authorizePublish' | 'authorizeForward'> {
  return {
    authorizePublish: (client, packet, callback) => runSteps(PUBLISH_STEPS, ctx, client, packet, callback),
    authorizeForward: (client, packet) => forward(ctx, client, packet),
  }
}

// counted as they pass: an increment per message, nothing more
function countReceived(ctx: PublishContext, client: Client | null, packet: PublishPacket): Verdict {
  if (!client) return undefined
  ctx.figures.publishReceived++
  ctx.figures.publishBytesReceived += packet.payload.length
  return undefined
}

// Aedes publishes a will through here too: a session closed for its credentials leaves none
function refuseRevokedSession(ctx: PublishContext, client: Client | null): Verdict {
  if (!sessionOf(client)?.revoked) return undefined
  ctx.figures.refused.revoked++
  return new Error('the session was closed: its credentials lost their power')
}

// nor one that dropped after a revocation but before revalidation's next tick: a will waits for a check
function checkWill(ctx: PublishContext, client: Client | null, packet: PublishPacket): Verdict {
  const session = sessionOf(client)
  if (!session || session.willChecked || packet !== (client as { will?: unknown }).will) return undefined
  session.willChecked = true
  return stillValid(ctx.core, client!.id, session.principal).then((valid) => {
    if (valid) return refuseRevokedSession(ctx, client) // revoked while it was checked
    ctx.core.log.info({ clientId: client!.id }, 'mqtt will not published: its credentials lost their power')
    return new Error('the will was not published: its credentials lost their power')
  })
}

function limitRate(ctx: PublishContext, client: Client | null): Verdict {
  if (!client || ctx.withinRate(client)) return undefined
  ctx.core.log.info(
    { clientId: client.id, limit: ctx.core.config.mqtt.publishRate },
    'mqtt connection closed: publish rate exceeded',
  )
  ctx.figures.refused.rate++
  return new Error('publish rate exceeded')
}

// write access to the topic (acl.ts)
function checkWriteAccess(ctx: PublishContext, client: Client | null, packet: PublishPacket): Verdict {
  const verdict = authorizeWrite(ctx.acl, client, packet)
  if (verdict === undefined) return undefined
  if (verdict instanceof Error) return refusedAccess(ctx, verdict)
  return verdict.then(
    (err) => err && refusedAccess(ctx, err),
    (err: Error) => refusedAccess(ctx, err),
  )
}

function refusedAccess(ctx: PublishContext, err: Error): Error {
  ctx.figures.refused.access++
  return err
}

function keepRetained(ctx: PublishContext, client: Client | null, packet: PublishPacket): Verdict {
  return packet.retain ? ctx.keepRetained(client!, packet) : undefined
}

// stored before the PUBACK (ingest.ts); undefined when there is nothing to store or it is only queued
function storeValues(ctx: PublishContext, client: Client | null, packet: PublishPacket): Verdict {
  const storing = ctx.ingest.accept(client!, packet)
  if (!storing) return undefined
  return storing.then(undefined, (err: Error) => {
    ctx.figures.refused.storeFailed++
    return err
  })
}

// a QoS 1 PUBACK says the message is queued for every persistent session: a kill after it loses nothing
function publishBeforeAck(ctx: PublishContext, client: Client | null, packet: PublishPacket): Verdict {
  if (!client || packet.qos !== 1 || packet === (client as { will?: unknown }).will) return undefined
  return ctx.publishFirst(client, packet).then(undefined, (err: Error) => err)
}

/** Whether a subscriber gets a packet: what its subscriptions may read (acl.ts), counted as it is sent. */
function forward<P extends PublishPacket>(ctx: PublishContext, client: Client, packet: P): P | null {
  if (!mayForward(client, packet)) return null
  ctx.figures.publishSent++
  ctx.figures.publishBytesSent += packet.payload.length
  return packet
}
