// The rules of storing sequence values, without any SQL: what a stored value looks like, how a
// batch is encoded, which values min_storage_interval thins out, and which revision becomes a
// sequence's latest. Every store path (sqlite.ts, postgresql.ts, prisma.ts) applies these.
import { invalid, notFound, TendrilError, tooLarge } from '../../errors.ts'
import type { ValueEntry } from '../../messages/replays.ts'
import type { SentPacket } from '../../messages/types.ts'
import { parseTimestamp } from '../../messages/timestamps.ts'
import type { RevisionContent } from '../revisions.ts'
import { encodeSequenceValue, sequenceRules, type EncodedValue, type SequenceRules } from '../sequence-values.ts'
import { ResourceType, SequenceDataType } from '../types.ts'

export interface SequenceValueInput {
  sequenceId: number
  value: string | Buffer
  /** when the value was measured; default now. Older than stored values is fine (controllers replay queues). */
  timestamp?: Date
  /**
   * The sequence's systemAttributes as the caller last saw them (REST's path cache): a single value
   * then goes in one short transaction that stores it only if the sequence is live and its settings
   * are still exactly these (else it is stored the usual way, which reads them afresh).
   */
  known?: { systemAttributes: unknown }
  /** the SDK queue entry the value is: stored once, its mark written in the values' transaction (replays.ts) */
  entry?: ValueEntry
  /** the MQTT QoS 1/2 packet it came in: a resend is not stored again (packet-marks.ts, same transaction) */
  packet?: SentPacket
}

/** What the broker needs to announce a stored value ("d,<path>,<timestamp>,<value>"). */
export interface StoredValue {
  sequenceId: number
  revisionId: number
  timestamp: Date
  /** the value as stored, as text (numbers rounded and formatted); null for image sequences */
  value: string | null
  size: number
}

/** A value not stored because one of the sequence's values is closer in time than min_storage_interval. */
export interface SkippedValue {
  sequenceId: number
  timestamp: Date
  value: string | null
  reason: 'min_storage_interval'
}

export interface StoreResult {
  stored: StoredValue[]
  skipped: SkippedValue[]
}

/** What an inline path did: stored the batch, or nothing because an encoded value outgrew the row. */
export type InlineOutcome = { kind: 'stored'; result: StoreResult } | { kind: 'needs_blob_store' }

export const NEEDS_BLOB_STORE: InlineOutcome = { kind: 'needs_blob_store' }

export interface Candidate {
  sequenceId: number
  timestamp: Date
  encoded: EncodedValue
  content?: RevisionContent
  entry?: ValueEntry
  packet?: SentPacket
}

export interface LoadedSequence {
  rules: SequenceRules
  /** timestamp of the newest stored value when the batch started */
  latest: Date | null
}

export interface SequenceRow {
  id: number
  type: number
  deleted: boolean
  systemAttributes: unknown
  /** timestamp of the newest stored value (the revision lastRevisionId names) */
  latest: Date | null
}

export interface RawSequenceRow {
  id: number | bigint
  type: number | bigint
  deleted: boolean | number | bigint
  systemAttributes: unknown
  /** a Date through Prisma; the stored text on SQLite's connection */
  latest: Date | string | null
}

export const sequenceNotFound = (id: number) => notFound(`sequence ${id} not found`)

export function checkSequenceId(id: number): void {
  if (!Number.isSafeInteger(id)) throw invalid(`${JSON.stringify(id)} is not a sequence id`)
}

export const byteLength = (value: string | Buffer) =>
  typeof value === 'string' ? Buffer.byteLength(value) : value.length

/** Whether an encoded value is larger than a row keeps inline (it then goes to the blob store). */
export const outgrowsRow = (candidates: Candidate[], inlineBytes: number) =>
  candidates.some((c) => c.encoded.bytes.length > inlineBytes)

export function sequenceRowOf(row: RawSequenceRow): SequenceRow {
  return {
    id: Number(row.id),
    type: Number(row.type),
    deleted: row.deleted === true || Number(row.deleted) === 1,
    // SQLite hands JSON columns to raw queries as text
    systemAttributes:
      typeof row.systemAttributes === 'string' ? JSON.parse(row.systemAttributes) : row.systemAttributes,
    latest: typeof row.latest === 'string' ? new Date(row.latest) : row.latest,
  }
}

/**
 * The rules and newest value of each sequence read; not_found if one is missing or deleted, invalid if not a sequence.
 */
export function sequencesOf(ids: number[], rows: Map<number, SequenceRow>): Map<number, LoadedSequence> {
  for (const id of ids) if (!rows.has(id)) throw sequenceNotFound(id)
  const sequences = new Map<number, LoadedSequence>()
  for (const row of rows.values()) {
    if (row.deleted) throw sequenceNotFound(row.id)
    if (row.type !== ResourceType.sequence) throw invalid(`resource ${row.id} is not a sequence`)
    sequences.set(row.id, { rules: sequenceRules(row.systemAttributes), latest: row.latest })
  }
  return sequences
}

export const latestOf = (sequences: Map<number, LoadedSequence>) =>
  new Map([...sequences].map(([id, s]) => [id, s.latest]))

export function encodeBatch(
  batch: SequenceValueInput[],
  sequences: Map<number, LoadedSequence>,
  now: Date,
  maxTextBytes: number,
): Candidate[] {
  return batch.map((input, i) => {
    try {
      const timestamp = input.timestamp === undefined ? now : parseTimestamp(input.timestamp)
      const rules = sequences.get(input.sequenceId)!.rules
      const encoded = encodeSequenceValue(rules, input.value)
      // --text-value-limit: history reads build every value as a string, so one is kept small
      if (rules.dataType === SequenceDataType.text && encoded.bytes.length > maxTextBytes)
        throw tooLarge(
          `a text value may be at most ${maxTextBytes} bytes (--text-value-limit); this one is ${encoded.bytes.length}`,
        )
      const candidate: Candidate = { sequenceId: input.sequenceId, timestamp, encoded }
      if (input.entry) candidate.entry = input.entry
      if (input.packet) candidate.packet = input.packet
      return candidate
    } catch (err) {
      if (!(err instanceof TendrilError)) throw err
      const where =
        batch.length > 1
          ? `value ${i + 1} of ${batch.length} (sequence ${input.sequenceId})`
          : `sequence ${input.sequenceId}`
      throw new TendrilError(err.code, `${where}: ${err.message}; nothing was stored`, { cause: err })
    }
  })
}

/**
 * A single value for a sequence whose settings the caller knows (storeKnownValue), encoded by them;
 * null when it needs the usual way: settings not known, min_storage_interval set, or too large to stay inline.
 */
export function knownCandidate(
  input: SequenceValueInput,
  known: { systemAttributes: unknown },
  limits: { textValueLimit: number; inlineBytes: number },
): Candidate | null {
  const rules = sequenceRules(known.systemAttributes)
  if (rules.minStorageIntervalMs > 0 || known.systemAttributes === null) return null
  const [candidate] = encodeBatch(
    [input],
    new Map([[input.sequenceId, { rules, latest: null }]]),
    new Date(),
    limits.textValueLimit,
  )
  if (outgrowsRow([candidate!], limits.inlineBytes)) return null
  checkSequenceId(input.sequenceId)
  return candidate!
}

/**
 * min_storage_interval: a value closer than the interval to a value already stored for its sequence,
 * or to one stored earlier in this batch, is skipped (rhizo-server resource_util.update_sequence_value,
 * generalised to values older than the newest: they are checked against their stored neighbours).
 */
export function dropTooFrequent(
  candidates: Candidate[],
  sequences: Map<number, LoadedSequence>,
  storedNear: Set<Candidate>,
) {
  const keep: Candidate[] = []
  const skipped: SkippedValue[] = []
  const accepted = new Map<number, number[]>() // per sequence, timestamps kept from this batch
  for (const c of candidates) {
    const { rules, latest } = sequences.get(c.sequenceId)!
    const interval = rules.minStorageIntervalMs
    if (interval > 0) {
      const t = c.timestamp.getTime()
      const inBatch = accepted.get(c.sequenceId) ?? accepted.set(c.sequenceId, []).get(c.sequenceId)!
      const near = (s: number) => Math.abs(t - s) < interval
      const tooClose = inBatch.some(near) || (latest !== null && near(latest.getTime())) || storedNear.has(c)
      if (tooClose) {
        skipped.push({
          sequenceId: c.sequenceId,
          timestamp: c.timestamp,
          value: c.encoded.text,
          reason: 'min_storage_interval',
        })
        continue
      }
      inBatch.push(t)
    }
    keep.push(c)
  }
  return { keep, skipped }
}

/** Whether a value is older than its sequence's newest and must be checked against its stored neighbours. */
export function needsNeighbourCheck(c: Candidate, sequences: Map<number, LoadedSequence>): boolean {
  const { rules, latest } = sequences.get(c.sequenceId)!
  return rules.minStorageIntervalMs > 0 && latest !== null && c.timestamp.getTime() < latest.getTime()
}

/** The bounds (exclusive) within which a stored value makes this one too frequent. */
export function neighbourWindow(c: Candidate, sequences: Map<number, LoadedSequence>): { after: Date; before: Date } {
  const t = c.timestamp.getTime()
  const interval = sequences.get(c.sequenceId)!.rules.minStorageIntervalMs
  return { after: new Date(t - interval), before: new Date(t + interval) }
}

/** The values kept, as stored under the revision ids their inserts returned (in the same order). */
export function storedValues(keep: Candidate[], revisionIds: number[]): StoredValue[] {
  return keep.map((c, i) => ({
    sequenceId: c.sequenceId,
    revisionId: revisionIds[i]!,
    timestamp: c.timestamp,
    value: c.encoded.text,
    size: c.content?.size ?? c.encoded.bytes.length,
  }))
}

/** Bytes that stay in the row (inline paths only: outgrowsRow was checked first). */
export function inlineContent(c: Candidate): RevisionContent {
  return { data: c.encoded.bytes as Uint8Array<ArrayBuffer>, blobHash: null, size: c.encoded.bytes.length }
}

/** Per sequence touched: the revision lastRevisionId moves to, or null to keep it (only older values were stored). */
export function lastRevisionMoves(
  stored: StoredValue[],
  latest: Map<number, Date | null>,
): { id: number; rev: number | null }[] {
  const newest = new Map<number, StoredValue>()
  for (const s of stored) {
    const best = newest.get(s.sequenceId)
    if (!best || s.timestamp >= best.timestamp) newest.set(s.sequenceId, s)
  }
  return [...newest].map(([id, s]) => {
    const current = latest.get(id) ?? null
    return { id, rev: current === null || s.timestamp >= current ? s.revisionId : null }
  })
}
