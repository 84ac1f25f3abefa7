// Sequence values: storing them (the one home of the rules for REST, MQTT and the JSON websocket).
// The value rules themselves are in sequence-values.ts; reading is sequence-history.ts.
//
// Storing a batch is a pipeline: load the sequences, encode every value (any bad value refuses
// the whole batch), drop values closer than min_storage_interval to a stored one, put large
// values in the blob store, then ONE transaction inserts the revisions and moves lastRevisionId.
import type { BlobStore } from '../blobs/index.ts'
import type { CoreContext } from '../context.ts'
import { inTransaction, Prisma, type DbClient } from '../db/index.ts'
import { inDirectSqliteTransaction, type DirectSqlite } from '../db/sqlite-connection.ts'
import { invalid, notFound, TendrilError, tooLarge } from '../errors.ts'
import { dropResends, dropResendsDirect, hasPackets } from '../messages/packet-marks.ts'
import { dropReplays, dropReplaysDirect, hasEntries, type ValueEntry } from '../messages/replays.ts'
import type { SentPacket } from '../messages/types.ts'
import { parseTimestamp } from '../messages/timestamps.ts'
import {
  ensureBlobsKept,
  holdBlobReferences,
  insertRevisionRows,
  placeRevisionBytes,
  providerOf,
  sqlTimestamp,
  type RevisionContent,
} from './revisions.ts'
import { encodeSequenceValue, sequenceRules, type EncodedValue, type SequenceRules } from './sequence-values.ts'
import { ResourceType, SequenceDataType } from './types.ts'

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

interface Candidate {
  sequenceId: number
  timestamp: Date
  encoded: EncodedValue
  content?: RevisionContent
  entry?: ValueEntry
  packet?: SentPacket
}

interface LoadedSequence {
  rules: SequenceRules
  /** timestamp of the newest stored value when the batch started */
  latest: Date | null
}

export async function storeSequenceValues(
  ctx: CoreContext,
  blobs: BlobStore,
  batch: SequenceValueInput[],
): Promise<StoreResult> {
  if (batch.length === 0) return { stored: [], skipped: [] }
  if (batch.length === 1 && batch[0]!.known && !batch[0]!.entry && !batch[0]!.packet) {
    const stored = await storeKnownValue(ctx, batch[0]!, batch[0]!.known)
    if (stored) return { stored: [stored], skipped: [] }
  }
  // the usual case, values that stay inline (a number, a short text): one transaction does it all
  if (batch.every((v) => byteLength(v.value) <= ctx.config.inlineBytes)) {
    try {
      return storeInlineDirect(ctx, batch) ?? (await inTransaction(ctx.db, (tx) => storeInline(ctx, tx, batch)))
    } catch (err) {
      if (err !== NEEDS_BLOB_STORE) throw err // else an encoded value grew past the inline limit: the long way
    }
  }
  const sequences = await loadSequences(
    ctx.db,
    batch.map((v) => v.sequenceId),
  )
  const candidates = encodeBatch(batch, sequences, new Date(), ctx.config.textValueLimit)
  const { keep, skipped } = dropTooFrequent(
    candidates,
    sequences,
    await storedNeighbours(ctx.db, candidates, sequences),
  )
  const written = await placeBytes(ctx, blobs, keep)
  const stored = await inTransaction(ctx.db, async (tx) => {
    if (!hasEntries(candidates) && !hasPackets(candidates)) return insertRevisions(tx, keep, written.size > 0)
    // the replays and resends are known only now, with their marks locked: their bytes were placed for nothing
    const unsent = hasPackets(candidates) ? await dropResends(tx, candidates) : candidates
    const replays = hasEntries(unsent) ? await dropReplays(tx, unsent) : undefined
    const fresh = new Set(replays?.fresh ?? unsent)
    const values = await insertRevisions(
      tx,
      keep.filter((c) => fresh.has(c)),
      written.size > 0,
    )
    await replays?.record()
    return values
  })
  await ensureBlobsKept(blobs, written)
  return { stored, skipped }
}

const byteLength = (value: string | Buffer) => (typeof value === 'string' ? Buffer.byteLength(value) : value.length)
const NEEDS_BLOB_STORE = new Error('a value needs the blob store')

/**
 * Values whose bytes all stay in the row, inside the caller's transaction: the sequences are read
 * (locked) once, and what they say about their newest value is current, since nothing can store
 * between this read and the insert. Throws NEEDS_BLOB_STORE, before writing anything, if an encoded
 * value is larger than its input suggested: blobs are put before a transaction, never inside one.
 */
async function storeInline(
  ctx: CoreContext,
  tx: Prisma.TransactionClient,
  input: SequenceValueInput[],
): Promise<StoreResult> {
  const unsent = hasPackets(input) ? await dropResends(tx, input) : input
  const replays = hasEntries(unsent) ? await dropReplays(tx, unsent) : undefined
  const result = await storeInlineValues(ctx, tx, replays?.fresh ?? unsent)
  await replays?.record()
  return result
}

async function storeInlineValues(
  ctx: CoreContext,
  tx: Prisma.TransactionClient,
  batch: SequenceValueInput[],
): Promise<StoreResult> {
  if (batch.length === 0) return { stored: [], skipped: [] }
  const ids = [...new Set(batch.map((v) => v.sequenceId))].sort((a, b) => a - b)
  const sequences = await loadSequences(tx, ids, true)
  const candidates = encodeBatch(batch, sequences, new Date(), ctx.config.textValueLimit)
  if (candidates.some((c) => c.encoded.bytes.length > ctx.config.inlineBytes)) throw NEEDS_BLOB_STORE
  const { keep, skipped } = dropTooFrequent(candidates, sequences, await storedNeighbours(tx, candidates, sequences))
  for (const c of keep)
    c.content = { data: c.encoded.bytes as Uint8Array<ArrayBuffer>, blobHash: null, size: c.encoded.bytes.length }
  if (keep.length === 0) return { stored: [], skipped }
  const revisionIds = await insertRevisionRows(
    tx,
    keep.map((c) => ({
      resourceId: c.sequenceId,
      timestamp: c.timestamp,
      content: c.content!,
      numericValue: c.encoded.numericValue,
    })),
  )
  const stored = keep.map((c, i) => ({
    sequenceId: c.sequenceId,
    revisionId: revisionIds[i]!,
    timestamp: c.timestamp,
    value: c.encoded.text,
    size: c.content!.size,
  }))
  await moveLastRevisions(tx, stored, latestOf(sequences))
  return { stored, skipped }
}

// storeInlineDirect: prepared statements on SQLite's connection, a row each
const SQLITE_READ_SEQUENCE = `SELECT r.id, r.type, r.deleted, r."systemAttributes", CAST(v."timestamp" AS TEXT) AS latest
  FROM "Resource" AS r LEFT JOIN "ResourceRevision" AS v ON v.id = r."lastRevisionId" WHERE r.id = ?`
const SQLITE_VALUE_NEAR = `SELECT 1 FROM "ResourceRevision" WHERE "resourceId" = ? AND "timestamp" > ? AND "timestamp" < ? LIMIT 1`
const SQLITE_INSERT_VALUE = `INSERT INTO "ResourceRevision" ("resourceId", "timestamp", "data", "blobHash", "size", "numericValue") VALUES (?, ?, ?, NULL, ?, ?)`
const SQLITE_MOVE_LAST = `UPDATE "Resource" SET "lastRevisionId" = coalesce(?, "lastRevisionId"), "modifiedAt" = ? WHERE id = ?`

/**
 * storeInline on SQLite when its connection is free: the same steps in one BEGIN IMMEDIATE on the
 * connection itself, which holds the write lock throughout, so what it reads is current. The broker
 * stores every MQTT value this way; through Prisma the batch's JSON statements and the interactive
 * transaction cost about half its CPU. undefined when the connection is not free now.
 */
function storeInlineDirect(ctx: CoreContext, input: SequenceValueInput[]): StoreResult | undefined {
  if (providerOf(ctx.db) !== 'sqlite') return undefined
  const direct = inDirectSqliteTransaction(ctx.db, (sqlite): StoreResult => {
    const unsent = hasPackets(input) ? dropResendsDirect(sqlite, input) : input
    const replays = hasEntries(unsent) ? dropReplaysDirect(sqlite, unsent) : undefined
    const result = storeInlineOnConnection(ctx, sqlite, replays?.fresh ?? unsent)
    replays?.record()
    return result
  })
  return direct?.result
}

function storeInlineOnConnection(ctx: CoreContext, sqlite: DirectSqlite, batch: SequenceValueInput[]): StoreResult {
  const read = sqlite.statement(SQLITE_READ_SEQUENCE)
  const ids = [...new Set(batch.map((v) => v.sequenceId))]
  const rows = new Map<number, SequenceRow>()
  for (const id of ids) {
    if (!Number.isSafeInteger(id)) throw invalid(`${JSON.stringify(id)} is not a sequence id`)
    const row = read.get(id) as RawSequenceRow | undefined
    if (row) rows.set(id, sequenceRowOf(row))
  }
  const sequences = sequencesOf(ids, rows)
  const candidates = encodeBatch(batch, sequences, new Date(), ctx.config.textValueLimit)
  if (candidates.some((c) => c.encoded.bytes.length > ctx.config.inlineBytes)) throw NEEDS_BLOB_STORE
  const near = sqlite.statement(SQLITE_VALUE_NEAR)
  const neighbours = new Set(
    candidates
      .filter((c) => needsNeighbourCheck(c, sequences))
      .filter((c) => {
        const t = c.timestamp.getTime()
        const interval = sequences.get(c.sequenceId)!.rules.minStorageIntervalMs
        return (
          near.get(
            c.sequenceId,
            sqlTimestamp('sqlite', new Date(t - interval)),
            sqlTimestamp('sqlite', new Date(t + interval)),
          ) !== undefined
        )
      }),
  )
  const { keep, skipped } = dropTooFrequent(candidates, sequences, neighbours)
  const insert = sqlite.statement(SQLITE_INSERT_VALUE)
  const stored = keep.map((c): StoredValue => {
    const bytes = c.encoded.bytes
    const { lastInsertRowid } = insert.run(
      c.sequenceId,
      sqlTimestamp('sqlite', c.timestamp),
      bytes,
      bytes.length,
      c.encoded.numericValue,
    )
    return {
      sequenceId: c.sequenceId,
      revisionId: Number(lastInsertRowid),
      timestamp: c.timestamp,
      value: c.encoded.text,
      size: bytes.length,
    }
  })
  const move = sqlite.statement(SQLITE_MOVE_LAST)
  const modifiedAt = sqlTimestamp('sqlite', new Date())
  for (const m of lastRevisionMoves(stored, latestOf(sequences))) move.run(m.rev, modifiedAt, m.id)
  return { stored, skipped }
}

const latestOf = (sequences: Map<number, LoadedSequence>) => new Map([...sequences].map(([id, s]) => [id, s.latest]))

// storeKnownValue on SQLite: the insert and the lastRevisionId move, each only while the sequence is live with the settings the value was encoded by
const SQLITE_SEQUENCE_UNCHANGED = `EXISTS (SELECT 1 FROM "Resource" WHERE id = ? AND deleted = 0 AND type = ? AND json("systemAttributes") = json(?))`
const SQLITE_INSERT_KNOWN = `INSERT INTO "ResourceRevision" ("resourceId", "timestamp", "data", "blobHash", "size", "numericValue")
  SELECT ?, ?, unhex(?), NULL, ?, ? WHERE ${SQLITE_SEQUENCE_UNCHANGED} RETURNING id`
const SQLITE_MOVE_KNOWN = `UPDATE "Resource" SET "modifiedAt" = ?,
  "lastRevisionId" = (SELECT id FROM "ResourceRevision" WHERE "resourceId" = ? ORDER BY "timestamp" DESC, id DESC LIMIT 1)
  WHERE id = ? AND ${SQLITE_SEQUENCE_UNCHANGED}`

/**
 * One value for a sequence whose settings the caller knows, in one batch transaction of three
 * statements (PostgreSQL: the row lock, the insert, the lastRevisionId move; SQLite: the insert, which
 * takes the write lock, and the move) instead of an interactive one of six plus a read before it. The insert and the move
 * happen only if the sequence is live with exactly the settings the value was encoded by; null when
 * they did not (or min_storage_interval, or a value too large to stay inline, needs the long way).
 * After the lock every statement sees what was committed before it, so lastRevisionId is recomputed
 * from the index as what it means: the value with the latest timestamp, ties to the one stored last.
 */
async function storeKnownValue(
  ctx: CoreContext,
  input: SequenceValueInput,
  known: { systemAttributes: unknown },
): Promise<StoredValue | null> {
  const rules = sequenceRules(known.systemAttributes)
  if (rules.minStorageIntervalMs > 0 || known.systemAttributes === null) return null
  const [candidate] = encodeBatch(
    [input],
    new Map([[input.sequenceId, { rules, latest: null }]]),
    new Date(),
    ctx.config.textValueLimit,
  )
  const { encoded, timestamp } = candidate!
  if (encoded.bytes.length > ctx.config.inlineBytes) return null
  const id = input.sequenceId
  if (!Number.isSafeInteger(id)) throw invalid(`${JSON.stringify(id)} is not a sequence id`)
  const provider = providerOf(ctx.db)
  const hex = encoded.bytes.toString('hex')
  const attributes = JSON.stringify(known.systemAttributes)
  const at = sqlTimestamp(provider, timestamp)
  const now = new Date()
  if (provider === 'sqlite') {
    const insertArgs = [id, at, hex, encoded.bytes.length, encoded.numericValue, id, ResourceType.sequence, attributes]
    const moveArgs = [sqlTimestamp(provider, now), id, id, id, ResourceType.sequence, attributes]
    // on the adapter's connection with prepared statements when it is free; else through Prisma, queued behind its transaction
    const direct = inDirectSqliteTransaction(ctx.db, (sqlite) => {
      const row = sqlite.statement(SQLITE_INSERT_KNOWN).get(...insertArgs) as { id: bigint } | undefined
      if (row) sqlite.statement(SQLITE_MOVE_KNOWN).run(...moveArgs)
      return row?.id
    })
    const revisionId = direct
      ? direct.result
      : (
          await ctx.db.$transaction([
            ctx.db.$queryRawUnsafe<{ id: number | bigint }[]>(SQLITE_INSERT_KNOWN, ...insertArgs),
            ctx.db.$executeRawUnsafe(SQLITE_MOVE_KNOWN, ...moveArgs),
          ])
        )[0][0]?.id
    return revisionId === undefined
      ? null
      : { sequenceId: id, revisionId: Number(revisionId), timestamp, value: encoded.text, size: encoded.bytes.length }
  }
  const latestId = Prisma.sql`(SELECT id FROM "ResourceRevision" WHERE "resourceId" = ${id} ORDER BY "timestamp" DESC, id DESC LIMIT 1)`
  const unchanged = Prisma.sql`EXISTS (SELECT 1 FROM "Resource" WHERE id = ${id} AND NOT deleted AND type = ${ResourceType.sequence} AND "systemAttributes" = ${attributes}::jsonb)`
  const [, inserted] = await ctx.db.$transaction([
    ctx.db.$executeRaw`SELECT id FROM "Resource" WHERE id = ${id} FOR UPDATE`,
    ctx.db.$queryRaw<{ id: number | bigint }[]>`
      INSERT INTO "ResourceRevision" ("resourceId", "timestamp", "data", "blobHash", "size", "numericValue")
      SELECT ${id}, ${at}::timestamp(3), decode(${hex}, 'hex'), NULL, ${encoded.bytes.length}, ${encoded.numericValue}::float8 WHERE ${unchanged} RETURNING id`,
    ctx.db
      .$executeRaw`UPDATE "Resource" SET "lastRevisionId" = ${latestId}, "modifiedAt" = ${now} WHERE id = ${id} AND ${unchanged}`,
  ])
  return inserted.length === 1
    ? {
        sequenceId: id,
        revisionId: Number(inserted[0]!.id),
        timestamp,
        value: encoded.text,
        size: encoded.bytes.length,
      }
    : null
}

export const sequenceNotFound = (id: number) => notFound(`sequence ${id} not found`)

async function loadSequences(db: DbClient, ids: number[], lock = false): Promise<Map<number, LoadedSequence>> {
  const unique = [...new Set(ids)]
  for (const id of unique) if (!Number.isSafeInteger(id)) throw invalid(`${JSON.stringify(id)} is not a sequence id`)
  return sequencesOf(unique, await readSequences(db, lock ? unique.sort((a, b) => a - b) : unique, lock))
}

/** The rules and newest value of each sequence read; not_found if one is missing or deleted, invalid if not a sequence. */
function sequencesOf(ids: number[], rows: Map<number, SequenceRow>): Map<number, LoadedSequence> {
  for (const id of ids) if (!rows.has(id)) throw sequenceNotFound(id)
  const sequences = new Map<number, LoadedSequence>()
  for (const row of rows.values()) {
    if (row.deleted) throw sequenceNotFound(row.id)
    if (row.type !== ResourceType.sequence) throw invalid(`resource ${row.id} is not a sequence`)
    sequences.set(row.id, { rules: sequenceRules(row.systemAttributes), latest: row.latest })
  }
  return sequences
}

interface SequenceRow {
  id: number
  type: number
  deleted: boolean
  systemAttributes: unknown
  /** timestamp of the newest stored value (the revision lastRevisionId names) */
  latest: Date | null
}

/**
 * The live resources with these ids, each with the timestamp of its newest value, in one query;
 * not_found if any is missing or deleted. With `lock` (inside a transaction) the rows stay locked
 * until it ends: PostgreSQL row locks, taken in id order, BEFORE the read, so that the read's fresh
 * snapshot sees what a transaction that held them committed (a joined read with FOR UPDATE would
 * re-check the locked row but keep the stale joined revision). SQLite's write lock is already held.
 */
async function readSequences(db: DbClient, ids: number[], lock: boolean): Promise<Map<number, SequenceRow>> {
  if (lock && providerOf(db) === 'postgresql') {
    await db.$executeRaw`SELECT id FROM "Resource" WHERE id IN (${Prisma.join(ids)}) ORDER BY id FOR UPDATE`
  }
  const rows = await db.$queryRaw<RawSequenceRow[]>`
    SELECT r.id, r.type, r.deleted, r."systemAttributes", v."timestamp" AS latest
    FROM "Resource" AS r LEFT JOIN "ResourceRevision" AS v ON v.id = r."lastRevisionId"
    WHERE r.id IN (${Prisma.join(ids)})`
  const found = new Map<number, SequenceRow>()
  for (const row of rows) {
    const sequence = sequenceRowOf(row)
    if (sequence.deleted) throw sequenceNotFound(sequence.id)
    found.set(sequence.id, sequence)
  }
  for (const id of ids) if (!found.has(id)) throw sequenceNotFound(id)
  return found
}

interface RawSequenceRow {
  id: number | bigint
  type: number | bigint
  deleted: boolean | number | bigint
  systemAttributes: unknown
  /** a Date through Prisma; the stored text on SQLite's connection */
  latest: Date | string | null
}

function sequenceRowOf(row: RawSequenceRow): SequenceRow {
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

function encodeBatch(
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
 * min_storage_interval: a value closer than the interval to a value already stored for its sequence,
 * or to one stored earlier in this batch, is skipped (rhizo-server resource_util.update_sequence_value,
 * generalised to values older than the newest: they are checked against their stored neighbours).
 */
function dropTooFrequent(candidates: Candidate[], sequences: Map<number, LoadedSequence>, storedNear: Set<Candidate>) {
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
function needsNeighbourCheck(c: Candidate, sequences: Map<number, LoadedSequence>): boolean {
  const { rules, latest } = sequences.get(c.sequenceId)!
  return rules.minStorageIntervalMs > 0 && latest !== null && c.timestamp.getTime() < latest.getTime()
}

/** The candidates (replays, see needsNeighbourCheck) that have a stored value closer than min_storage_interval. */
async function storedNeighbours(
  db: DbClient,
  candidates: Candidate[],
  sequences: Map<number, LoadedSequence>,
): Promise<Set<Candidate>> {
  const near = new Set<Candidate>()
  for (const c of candidates) {
    if (
      needsNeighbourCheck(c, sequences) &&
      (await hasStoredValueNear(
        db,
        c.sequenceId,
        c.timestamp.getTime(),
        sequences.get(c.sequenceId)!.rules.minStorageIntervalMs,
      ))
    )
      near.add(c)
  }
  return near
}

/** Only for values older than the newest one (replays); uses the (resourceId, timestamp) index. */
async function hasStoredValueNear(db: DbClient, sequenceId: number, t: number, interval: number): Promise<boolean> {
  const found = await db.resourceRevision.findFirst({
    where: { resourceId: sequenceId, timestamp: { gt: new Date(t - interval), lt: new Date(t + interval) } },
    select: { id: true },
  })
  return found !== null
}

/** Large values go to the blob store before the transaction; returns what was put, by hash. */
async function placeBytes(ctx: CoreContext, blobs: BlobStore, keep: Candidate[]): Promise<Map<string, Buffer>> {
  const written = new Map<string, Buffer>()
  for (const c of keep) {
    c.content = await placeRevisionBytes(ctx, blobs, c.encoded.bytes)
    if (c.content.blobHash !== null) written.set(c.content.blobHash, c.encoded.bytes)
  }
  return written
}

async function insertRevisions(
  tx: Prisma.TransactionClient,
  keep: Candidate[],
  refersToBlobs: boolean,
): Promise<StoredValue[]> {
  if (keep.length === 0) return []
  const ids = [...new Set(keep.map((c) => c.sequenceId))].sort((a, b) => a - b)
  const latest = new Map([...(await readSequences(tx, ids, true)).values()].map((r) => [r.id, r.latest]))
  if (refersToBlobs) await holdBlobReferences(tx)
  const revisionIds = await insertRevisionRows(
    tx,
    keep.map((c) => ({
      resourceId: c.sequenceId,
      timestamp: c.timestamp,
      content: c.content!,
      numericValue: c.encoded.numericValue,
    })),
  )
  const stored = keep.map((c, i) => ({
    sequenceId: c.sequenceId,
    revisionId: revisionIds[i]!,
    timestamp: c.timestamp,
    value: c.encoded.text,
    size: c.content!.size,
  }))
  await moveLastRevisions(tx, stored, latest)
  return stored
}

/**
 * lastRevisionId names the value with the latest timestamp (ties: the one stored last), so replayed
 * older values never displace it. modifiedAt is when the sequence last received a stored value.
 * One statement for the whole batch, however many sequences it touched.
 */
async function moveLastRevisions(
  tx: Prisma.TransactionClient,
  stored: StoredValue[],
  latest: Map<number, Date | null>,
): Promise<void> {
  const json = JSON.stringify(lastRevisionMoves(stored, latest))
  const modifiedAt = new Date()
  if (providerOf(tx) === 'sqlite') {
    await tx.$executeRaw`
      UPDATE "Resource" SET "lastRevisionId" = coalesce(m.value ->> 'rev', "lastRevisionId"), "modifiedAt" = ${modifiedAt}
      FROM json_each(${json}) AS m WHERE "Resource".id = m.value ->> 'id'`
  } else {
    await tx.$executeRaw`
      UPDATE "Resource" AS r SET "lastRevisionId" = coalesce(m.rev, r."lastRevisionId"), "modifiedAt" = ${modifiedAt}
      FROM json_to_recordset(${json}::json) AS m(id int, rev int) WHERE r.id = m.id`
  }
}

/** Per sequence touched: the revision lastRevisionId moves to, or null to keep it (only older values were stored). */
function lastRevisionMoves(
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
