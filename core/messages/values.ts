// Sequence values carried by messages (CSV "s," lines, update, update_sequence, write_resource, a raw
// value on a sequence's topic): resolve each name to a live sequence the sender may write, then store
// them all through storeSequenceValues — one transaction for a whole batch of messages.
import type { CoreContext } from '../context.ts'
import type { Resource } from '../db/index.ts'
import { invalid, TendrilError } from '../errors.ts'
import { queueSequenceThumbnails } from '../images/thumbnails.ts'
import { createAccessCache, type AccessCache } from '../resources/access-cache.ts'
import { createOnFirstValue } from '../resources/auto-create.ts'
import { createPathResolver, type PathResolver } from '../resources/resolver.ts'
import { canRead, canWrite, principalKey } from '../resources/permissions.ts'
import { encodeSequenceValue, imageValueBytes, sequenceRules } from '../resources/sequence-values.ts'
import { storeSequenceValues, type SequenceValueInput, type StoredValue } from '../resources/sequences.ts'
import { ResourceType, SequenceDataType } from '../resources/types.ts'
import { encodeDisplay, encodeImageUpdate } from './codecs.ts'
import { recordRefusals } from './refusal-log.ts'
import type { FolderPublisher, ValueRefusal, ValueRequest } from './types.ts'

export interface AnnouncedValue extends StoredValue {
  /** the sequence's folder and its name in it: announced as "d,<name>,<timestamp>,<value>" on the folder */
  folderPath: string
  name: string
}

export interface ValueOutcome {
  stored: AnnouncedValue[]
  /** requests refused, each with why (unknown sequence, no write access, bad value) */
  refused: ValueRefusal[]
}

const absolute = (r: ValueRequest) => (r.sequence.startsWith('/') ? r.sequence : `${r.folderPath}/${r.sequence}`)

/** How names and access are looked up; the broker passes caches that live across batches. */
export interface ValueLookups {
  resolver: PathResolver
  access: AccessCache
}

/** Stores every request it can, and refuses the others, each with why (messages from many senders share a batch). */
export async function storeValueRequests(ctx: CoreContext, requests: ValueRequest[], lookups?: ValueLookups): Promise<ValueOutcome> {
  const { accepted, refused } = await checkValueRequests(ctx, requests, lookups)
  const stored = await storeIsolatingBadValues(ctx, accepted, refused)
  await recordRefusals(ctx, refused)
  queueSequenceThumbnails(ctx, accepted.map((a) => a.sequence), stored)
  return { stored, refused }
}

/**
 * Stores all the requests or none (one sender's request over REST): any refusal is a TendrilError
 * 'invalid' naming the values refused, and nothing is stored.
 */
export async function storeValueRequestsAtomically(ctx: CoreContext, requests: ValueRequest[]): Promise<AnnouncedValue[]> {
  const { accepted, refused } = await checkValueRequests(ctx, requests)
  for (const a of accepted) {
    // each value encoded once beforehand, so that a refusal names its path (storing encodes it again)
    try {
      encodeSequenceValue(sequenceRules(a.sequence.systemAttributes), a.value)
    } catch (err) {
      if (!(err instanceof TendrilError)) throw err
      refused.push({ request: a.request, reason: `${a.path}: ${err.message}` })
    }
  }
  if (refused.length > 0) {
    await recordRefusals(ctx, refused)
    throw invalid(`${describeRefusals(refused)}; nothing was stored`)
  }
  if (accepted.length === 0) return []
  const stored = await storeResolvedValues(
    ctx,
    accepted.map((a) => ({ sequenceId: a.sequence.id, path: a.path, value: a.value, timestamp: a.request.timestamp })),
  )
  queueSequenceThumbnails(ctx, accepted.map((a) => a.sequence), stored.stored)
  return stored.stored
}

/** Each request's sequence found, its access and its value checked: accepted to store, or refused with why. */
async function checkValueRequests(ctx: CoreContext, requests: ValueRequest[], lookups?: ValueLookups) {
  const { resolver, access } = lookups ?? { resolver: createPathResolver(ctx.db), access: createAccessCache(ctx.db) }
  const refused: ValueOutcome['refused'] = []
  const accepted: Accepted[] = []
  for (const request of requests) {
    const path = absolute(request)
    let sequence = await resolver.resolve(path).catch(() => null)
    const level = await access.level(request.principal, path)
    if (!sequence && canWrite(level)) {
      const created = await createOnFirstValue(ctx, request.principal, path, request.value)
      if ('refusal' in created) {
        refused.push({ request, reason: created.refusal })
        continue
      }
      sequence = created.sequence
    }
    // refusals reach the sender (websocket, REST): what it may not read is "not found", existing or not
    if (!sequence || sequence.type !== ResourceType.sequence || !canRead(level)) {
      refused.push({ request, reason: `sequence not found: ${path}` })
      continue
    }
    if (!canWrite(level)) {
      refused.push({ request, reason: `no write access to ${path}` })
      continue
    }
    try {
      accepted.push({ request, sequence, path, value: valueFor(sequence, request.value) })
    } catch (err) {
      if (!(err instanceof TendrilError)) throw err
      refused.push({ request, reason: `${path}: ${err.message}` })
    }
  }
  return { accepted, refused }
}

interface Accepted {
  request: ValueRequest
  sequence: Resource
  path: string
  value: string | Buffer
}

/** A text value for an image sequence is base64 of its bytes (core/resources/sequence-values.ts). */
function valueFor(sequence: Resource, value: string | Buffer): string | Buffer {
  if (typeof value !== 'string') return value
  return sequenceRules(sequence.systemAttributes).dataType === SequenceDataType.image ? imageValueBytes(value) : value
}

/**
 * storeSequenceValues refuses a whole batch for one bad value. A batch here mixes messages from many
 * clients, so on refusal each request is stored on its own, and only the bad ones are refused.
 */
async function storeIsolatingBadValues(
  ctx: CoreContext,
  accepted: Accepted[],
  refused: ValueOutcome['refused'],
): Promise<AnnouncedValue[]> {
  const toInput = (a: Accepted): SequenceValueInput => {
    const input: SequenceValueInput = { sequenceId: a.sequence.id, value: a.value, timestamp: a.request.timestamp }
    if (a.request.entry) input.entry = { sender: principalKey(a.request.principal), ...a.request.entry }
    return input
  }
  const pathOf = new Map(accepted.map((a) => [a.sequence.id, a.path]))
  const located = (values: StoredValue[]) => values.map((v) => inFolder(v, pathOf.get(v.sequenceId)!))
  if (accepted.length === 0) return []
  try {
    return located((await storeSequenceValues(ctx, ctx.blobs, accepted.map(toInput))).stored)
  } catch (err) {
    if (!(err instanceof TendrilError) || accepted.length === 1) {
      if (err instanceof TendrilError) refused.push({ request: accepted[0]!.request, reason: `${accepted[0]!.path}: ${whyRefused(err)}` })
      else throw err
      return []
    }
  }
  const stored: StoredValue[] = []
  for (const a of accepted) {
    try {
      stored.push(...(await storeSequenceValues(ctx, ctx.blobs, [toInput(a)])).stored)
    } catch (err) {
      if (!(err instanceof TendrilError)) throw err
      refused.push({ request: a.request, reason: `${a.path}: ${whyRefused(err)}` })
    }
  }
  return located(stored)
}

const REFUSALS_SHOWN = 10

/** Refused values as one line for their sender (an error frame, a 400), the first few named. */
export function describeRefusals(refused: ValueOutcome['refused']): string {
  const shown = refused.slice(0, REFUSALS_SHOWN).map((r) => r.reason)
  const more = refused.length - shown.length
  return `not stored: ${shown.join('; ')}${more > 0 ? `; and ${more} more` : ''}`
}

/** What was wrong with the one value, without storeSequenceValues' words about its batch. */
const whyRefused = (err: TendrilError) => (err.cause instanceof TendrilError ? err.cause.message : err.message)

/** A stored value with its sequence's folder and name there, as announcements need them. */
function inFolder(value: StoredValue, path: string): AnnouncedValue {
  const slash = path.lastIndexOf('/')
  // (fields named, not spread: this runs for every value MQTT stores)
  const { sequenceId, revisionId, timestamp, size } = value
  return { sequenceId, revisionId, timestamp, value: value.value, size, folderPath: path.slice(0, slash), name: path.slice(slash + 1) }
}


/** A value for a sequence already found and access-checked by the caller (REST). */
export interface ResolvedValue {
  sequenceId: number
  /** the sequence's path, "/org/folder/name" */
  path: string
  value: string | Buffer
  timestamp?: Date
  /** the sequence's settings as the caller found them (see SequenceValueInput.known) */
  known?: { systemAttributes: unknown }
}

/**
 * Stores values whose sequences the caller has already resolved and checked, all or nothing (one bad
 * value refuses the batch), and returns what was stored in the form announceValues takes, plus what
 * min_storage_interval skipped.
 */
export async function storeResolvedValues(ctx: CoreContext, values: ResolvedValue[]) {
  const result = await storeSequenceValues(
    ctx,
    ctx.blobs,
    values.map((v) => ({ sequenceId: v.sequenceId, value: v.value, timestamp: v.timestamp, known: v.known })),
  )
  const pathOf = new Map(values.map((v) => [v.sequenceId, v.path]))
  return { stored: result.stored.map((s) => inFolder(s, pathOf.get(s.sequenceId)!)), skipped: result.skipped }
}

/**
 * Browsers watching a folder see each stored value as rhizo announced it, "d,<name>,<timestamp>,<value>"
 * on the sequence's folder; an image value as a sequence_update naming its revision, without its bytes.
 */
export function announceValues(bus: FolderPublisher, values: AnnouncedValue[]): void {
  for (const v of values) {
    const payload =
      v.value === null
        ? encodeImageUpdate({ id: v.sequenceId, path: `${v.folderPath}/${v.name}`, timestamp: v.timestamp, revisionId: v.revisionId, size: v.size })
        : encodeDisplay(v.name, v.timestamp, v.value)
    bus.publishToFolder(v.folderPath, Buffer.from(payload))
  }
}
