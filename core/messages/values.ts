// The one use case for writing sequence values, whichever door they came through (REST, the value
// lane, POST /api/v1/messages, MQTT, the JSON websocket): resolve each path → check access → decode
// (an image's base64) → store → say what became of each value (stored, skipped, refused with a kind).
// Stored values are then announced and their thumbnails queued in one place: valuesStored.
import type { CoreContext } from '../context.ts'
import type { Resource } from '../db/index.ts'
import { TendrilError, type ErrorCode } from '../errors.ts'
import { queueSequenceThumbnails } from '../images/thumbnails.ts'
import { accessToPath } from '../resources/access.ts'
import type { AccessCache } from '../resources/access-cache.ts'
import { createOnFirstValue } from '../resources/auto-create.ts'
import { currentPathResolver, type PathResolver } from '../resources/resolver.ts'
import { canRead, canWrite, principalKey } from '../resources/permissions.ts'
import { encodeSequenceValue, imageValueBytes, sequenceRules } from '../resources/sequence-values.ts'
import type { SequenceValueInput, SkippedValue, StoredValue } from '../resources/sequence-store/rules.ts'
import { storeSequenceValues } from '../resources/sequence-store/store.ts'
import { ResourceType, SequenceDataType } from '../resources/types.ts'
import { encodeDisplay, encodeImageUpdate } from './codecs.ts'
import { recordRefusals } from './refusal-log.ts'
import type { FolderPublisher, RefusalKind, ValueRefusal, ValueRequest } from './types.ts'
import { unlessUnreachable } from '../db/availability.ts'

export interface AnnouncedValue extends StoredValue {
  /** the sequence's folder and its name in it: announced as "d,<name>,<timestamp>,<value>" on the folder */
  folderPath: string
  name: string
  /** the sequence as found when the value was stored (thumbnails need its settings) */
  sequence: Resource
}

/** What became of a write: each value stored, skipped (min_storage_interval) or refused with why. */
export interface ValueOutcome {
  stored: AnnouncedValue[]
  skipped: SkippedValue[]
  /** requests refused, each with its kind and why (unknown sequence, no write access, bad value) */
  refused: ValueRefusal[]
}

const absolute = (r: ValueRequest) => (r.sequence.startsWith('/') ? r.sequence : `${r.folderPath}/${r.sequence}`)

/** How names and access are looked up; the broker passes caches that live across batches. */
export interface ValueLookups {
  resolver: PathResolver
  access: Pick<AccessCache, 'level'>
}

export interface WriteOptions {
  /** all or none (one sender waiting over REST): any refusal stores nothing */
  atomic?: boolean
  /** the broker's caches; else the core's shared path resolver */
  lookups?: ValueLookups
  /**
   * a controller's value for a missing sequence in its own folder creates it (messages); REST's resource doors do not
   */
  createMissing?: boolean
}

/** The use case: every request stored or refused. Refusals are written to the controller's log. */
export async function writeSequenceValues(
  ctx: CoreContext,
  requests: ValueRequest[],
  options: WriteOptions = {},
): Promise<ValueOutcome> {
  const lookups = options.lookups ?? (requests.every((r) => r.found) ? undefined : await sharedLookups(ctx))
  const { accepted, refused } = await checkValueRequests(ctx, requests, lookups, options.createMissing ?? true)
  const { stored, skipped } = options.atomic
    ? await storeAllOrNone(ctx, accepted, refused)
    : await storeIsolatingBadValues(ctx, accepted, refused)
  await recordRefusals(ctx, refused)
  return { stored, skipped, refused }
}

/**
 * writeSequenceValues for one sender waiting for its answer (REST): all or none, a refusal thrown as
 * refusalError, what was stored announced at once.
 */
export async function writeSequenceValuesOrRefuse(
  ctx: CoreContext,
  bus: FolderPublisher,
  requests: ValueRequest[],
  options: Omit<WriteOptions, 'atomic'> = {},
) {
  const outcome = await writeSequenceValues(ctx, requests, { ...options, atomic: true })
  if (outcome.refused.length > 0) throw refusalError(outcome.refused)
  valuesStored(ctx, bus, outcome.stored)
  return outcome
}

/** Refused values as one error: the first refusal's kind (its HTTP status), every refusal named. */
export function refusalError(refused: ValueRefusal[]): TendrilError {
  return new TendrilError(refused[0]!.kind, `${describeRefusals(refused)}; nothing was stored`)
}

/** What follows from values stored, whichever door they came through: announced, and thumbnails queued. */
export function valuesStored(ctx: CoreContext, bus: FolderPublisher, stored: AnnouncedValue[]): void {
  if (stored.length === 0) return
  announceValues(bus, stored)
  queueSequenceThumbnails(ctx, [...new Set(stored.map((v) => v.sequence))], stored)
}

/**
 * The core's shared path resolver (emptied by renames, moves, deletes and permission changes), as REST's lookups use
 * it.
 */
async function sharedLookups(ctx: CoreContext): Promise<ValueLookups> {
  const resolver = await currentPathResolver(ctx)
  return {
    resolver,
    access: {
      level: (principal, path) => accessToPath(ctx.db, principal, path, resolver.findLive).catch(unlessUnreachable(0)),
    },
  }
}

const refusal = (request: ValueRequest, kind: RefusalKind, reason: string): ValueRefusal => ({ request, kind, reason })
/** An error's code as a refusal kind; anything else wrong with a value is "invalid". */
const asKind = (code: ErrorCode): RefusalKind =>
  code === 'not_found' || code === 'forbidden' || code === 'too_large' ? code : 'invalid'
const kindOf = (err: TendrilError) => asKind(err.code)

/** Each request's sequence found, its access and its value checked: accepted to store, or refused with why. */
async function checkValueRequests(
  ctx: CoreContext,
  requests: ValueRequest[],
  lookups: ValueLookups | undefined,
  createMissing: boolean,
) {
  const refused: ValueRefusal[] = []
  const accepted: Accepted[] = []
  for (const request of requests) {
    const path = absolute(request)
    const { found } = request
    let sequence = found ? found.resource : await lookups!.resolver.resolve(path).catch(unlessUnreachable(null))
    const level = found ? found.level : await lookups!.access.level(request.principal, path)
    if (!sequence && canWrite(level) && createMissing) {
      const created = await createOnFirstValue(ctx, request.principal, path, request.value)
      if ('refusal' in created) {
        refused.push(refusal(request, asKind(created.code), created.refusal))
        continue
      }
      sequence = created.sequence
    }
    // refusals reach the sender (websocket, REST): what it may not read is "not found", existing or not
    if (!sequence || sequence.type !== ResourceType.sequence || !canRead(level)) {
      refused.push(refusal(request, 'not_found', `sequence not found: ${path}`))
      continue
    }
    if (!canWrite(level)) {
      refused.push(refusal(request, 'forbidden', `no write access to ${path}`))
      continue
    }
    try {
      accepted.push({ request, sequence, path, value: valueFor(sequence, request.value) })
    } catch (err) {
      if (!(err instanceof TendrilError)) throw err
      refused.push(refusal(request, kindOf(err), `${path}: ${err.message}`))
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

const toInput = (a: Accepted): SequenceValueInput => {
  const input: SequenceValueInput = { sequenceId: a.sequence.id, value: a.value, timestamp: a.request.timestamp }
  if (a.request.entry) input.entry = { sender: principalKey(a.request.principal), ...a.request.entry }
  if (a.request.origin?.packet) input.packet = a.request.origin.packet
  return input
}

const located = (accepted: Accepted[], values: StoredValue[]) => {
  const of = new Map(accepted.map((a) => [a.sequence.id, a]))
  return values.map((v) => inFolder(v, of.get(v.sequenceId)!))
}

/**
 * Every value encoded once beforehand, so that a refusal names its path (storing encodes it again);
 * then all stored in one transaction, or none when anything was refused.
 */
async function storeAllOrNone(ctx: CoreContext, accepted: Accepted[], refused: ValueRefusal[]) {
  for (const a of accepted) {
    try {
      encodeSequenceValue(sequenceRules(a.sequence.systemAttributes), a.value)
    } catch (err) {
      if (!(err instanceof TendrilError)) throw err
      refused.push(refusal(a.request, kindOf(err), `${a.path}: ${err.message}`))
    }
  }
  if (refused.length > 0 || accepted.length === 0) return { stored: [], skipped: [] }
  // one value: its settings as found, so it is stored in one short transaction if they still hold
  const known = accepted.length === 1 ? { systemAttributes: accepted[0]!.sequence.systemAttributes } : undefined
  const result = await storeSequenceValues(
    ctx,
    ctx.blobs,
    accepted.map((a) => ({ ...toInput(a), known })),
  )
  return { stored: located(accepted, result.stored), skipped: result.skipped }
}

/**
 * storeSequenceValues refuses a whole batch for one bad value. A batch here mixes messages from many
 * clients, so on refusal each request is stored on its own, and only the bad ones are refused.
 */
async function storeIsolatingBadValues(ctx: CoreContext, accepted: Accepted[], refused: ValueRefusal[]) {
  if (accepted.length === 0) return { stored: [], skipped: [] }
  try {
    const result = await storeSequenceValues(ctx, ctx.blobs, accepted.map(toInput))
    return { stored: located(accepted, result.stored), skipped: result.skipped }
  } catch (err) {
    if (!(err instanceof TendrilError) || accepted.length === 1) {
      if (err instanceof TendrilError)
        refused.push(
          refusal(accepted[0]!.request, kindOf(whyRefused(err)), `${accepted[0]!.path}: ${whyRefused(err).message}`),
        )
      else throw err
      return { stored: [], skipped: [] }
    }
  }
  const stored: StoredValue[] = []
  const skipped: SkippedValue[] = []
  for (const a of accepted) {
    try {
      const result = await storeSequenceValues(ctx, ctx.blobs, [toInput(a)])
      stored.push(...result.stored)
      skipped.push(...result.skipped)
    } catch (err) {
      if (!(err instanceof TendrilError)) throw err
      refused.push(refusal(a.request, kindOf(whyRefused(err)), `${a.path}: ${whyRefused(err).message}`))
    }
  }
  return { stored: located(accepted, stored), skipped }
}

const REFUSALS_SHOWN = 10

/** Refused values as one line for their sender (an error frame, a 400), the first few named. */
export function describeRefusals(refused: ValueOutcome['refused']): string {
  const shown = refused.slice(0, REFUSALS_SHOWN).map((r) => r.reason)
  const more = refused.length - shown.length
  return `not stored: ${shown.join('; ')}${more > 0 ? `; and ${more} more` : ''}`
}

/** What was wrong with the one value, without storeSequenceValues' words about its batch. */
const whyRefused = (err: TendrilError) => (err.cause instanceof TendrilError ? err.cause : err)

/** A stored value with its sequence's folder and name there, as announcements need them. */
function inFolder(value: StoredValue, { path, sequence }: Accepted): AnnouncedValue {
  const slash = path.lastIndexOf('/')
  // (fields named, not spread: this runs for every value MQTT stores)
  const { sequenceId, revisionId, timestamp, size } = value
  return {
    sequenceId,
    revisionId,
    timestamp,
    value: value.value,
    size,
    folderPath: path.slice(0, slash),
    name: path.slice(slash + 1),
    sequence,
  }
}

/**
 * Browsers watching a folder see each stored value as rhizo announced it, "d,<name>,<timestamp>,<value>"
 * on the sequence's folder; an image value as a sequence_update naming its revision, without its bytes.
 */
function announceValues(bus: FolderPublisher, values: AnnouncedValue[]): void {
  for (const v of values) {
    const payload =
      v.value === null
        ? encodeImageUpdate({
            id: v.sequenceId,
            path: `${v.folderPath}/${v.name}`,
            timestamp: v.timestamp,
            revisionId: v.revisionId,
            size: v.size,
          })
        : encodeDisplay(v.name, v.timestamp, v.value)
    bus.publishToFolder(v.folderPath, Buffer.from(payload))
  }
}
