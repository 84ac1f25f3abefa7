// Storing sequence values through Prisma, on either database: the inline path in one interactive
// transaction, and the blob path (bytes put in the blob store first, then one transaction inserts the
// revisions). SQL that differs by database is in sqlite.ts and postgresql.ts; the rules in rules.ts.
import type { BlobStore } from '../../blobs/index.ts'
import type { CoreContext } from '../../context.ts'
import { inTransaction, Prisma, type DbClient } from '../../db/index.ts'
import { dropResends, hasPackets } from '../../messages/packet-marks.ts'
import { dropReplays, hasEntries } from '../../messages/replays.ts'
import {
  ensureBlobsKept,
  holdBlobReferences,
  insertRevisionRows,
  placeRevisionBytes,
  providerOf,
} from '../revisions.ts'
import * as postgresql from './postgresql.ts'
import {
  checkSequenceId,
  dropTooFrequent,
  encodeBatch,
  inlineContent,
  latestOf,
  lastRevisionMoves,
  NEEDS_BLOB_STORE,
  needsNeighbourCheck,
  neighbourWindow,
  outgrowsRow,
  sequenceNotFound,
  sequenceRowOf,
  sequencesOf,
  storedValues,
  type Candidate,
  type InlineOutcome,
  type LoadedSequence,
  type RawSequenceRow,
  type SequenceRow,
  type SequenceValueInput,
  type StoredValue,
  type StoreResult,
} from './rules.ts'
import * as sqlite from './sqlite.ts'

/**
 * Values whose bytes all stay in the row, in one transaction: the sequences are read (locked) once,
 * and what they say about their newest value is current, since nothing can store between this read
 * and the insert. needs_blob_store, with everything rolled back, if an encoded value is larger than
 * its input suggested: blobs are put before a transaction, never inside one.
 */
export async function storeInlineInTransaction(ctx: CoreContext, input: SequenceValueInput[]): Promise<InlineOutcome> {
  try {
    return await inTransaction(ctx.db, async (tx) => {
      const outcome = await storeInline(ctx, tx, input)
      if (outcome.kind === 'needs_blob_store') throw new RolledBack()
      return outcome
    })
  } catch (err) {
    if (err instanceof RolledBack) return NEEDS_BLOB_STORE
    throw err
  }
}

/** Thrown only to make Prisma roll the transaction back (the marks written); caught right above. */
class RolledBack {}

async function storeInline(
  ctx: CoreContext,
  tx: Prisma.TransactionClient,
  input: SequenceValueInput[],
): Promise<InlineOutcome> {
  const unsent = hasPackets(input) ? await dropResends(tx, input) : input
  const replays = hasEntries(unsent) ? await dropReplays(tx, unsent) : undefined
  const outcome = await storeInlineValues(ctx, tx, replays?.fresh ?? unsent)
  if (outcome.kind === 'stored') await replays?.record()
  return outcome
}

async function storeInlineValues(
  ctx: CoreContext,
  tx: Prisma.TransactionClient,
  batch: SequenceValueInput[],
): Promise<InlineOutcome> {
  if (batch.length === 0) return { kind: 'stored', result: { stored: [], skipped: [] } }
  const ids = [...new Set(batch.map((v) => v.sequenceId))].sort((a, b) => a - b)
  const sequences = await loadSequences(tx, ids, true)
  const candidates = encodeBatch(batch, sequences, new Date(), ctx.config.textValueLimit)
  if (outgrowsRow(candidates, ctx.config.inlineBytes)) return NEEDS_BLOB_STORE
  const { keep, skipped } = dropTooFrequent(candidates, sequences, await storedNeighbours(tx, candidates, sequences))
  for (const c of keep) c.content = inlineContent(c)
  if (keep.length === 0) return { kind: 'stored', result: { stored: [], skipped } }
  const stored = storedValues(keep, await insertRows(tx, keep))
  await moveLastRevisions(tx, stored, latestOf(sequences))
  return { kind: 'stored', result: { stored, skipped } }
}

/**
 * Values some of which go to the blob store: the sequences are read and the values thinned without
 * a lock, the large bytes put, then one transaction drops replays and resends (their marks locked),
 * re-reads the sequences locked and inserts the revisions.
 */
export async function storeWithBlobs(
  ctx: CoreContext,
  blobs: BlobStore,
  batch: SequenceValueInput[],
): Promise<StoreResult> {
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

async function loadSequences(db: DbClient, ids: number[], lock = false): Promise<Map<number, LoadedSequence>> {
  const unique = [...new Set(ids)]
  for (const id of unique) checkSequenceId(id)
  return sequencesOf(unique, await readSequences(db, lock ? unique.sort((a, b) => a - b) : unique, lock))
}

/**
 * The live resources with these ids, each with the timestamp of its newest value, in one query;
 * not_found if any is missing or deleted. With `lock` (inside a transaction) the rows stay locked
 * until it ends: PostgreSQL row locks, taken in id order, BEFORE the read, so that the read's fresh
 * snapshot sees what a transaction that held them committed (a joined read with FOR UPDATE would
 * re-check the locked row but keep the stale joined revision). SQLite's write lock is already held.
 */
async function readSequences(db: DbClient, ids: number[], lock: boolean): Promise<Map<number, SequenceRow>> {
  if (lock && providerOf(db) === 'postgresql') await postgresql.lockSequences(db, ids)
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

/** The candidates (replays, see needsNeighbourCheck) that have a stored value closer than min_storage_interval. */
async function storedNeighbours(
  db: DbClient,
  candidates: Candidate[],
  sequences: Map<number, LoadedSequence>,
): Promise<Set<Candidate>> {
  const near = new Set<Candidate>()
  for (const c of candidates) {
    if (needsNeighbourCheck(c, sequences) && (await hasStoredValueNear(db, c, sequences))) near.add(c)
  }
  return near
}

/** Only for values older than the newest one (replays); uses the (resourceId, timestamp) index. */
async function hasStoredValueNear(
  db: DbClient,
  c: Candidate,
  sequences: Map<number, LoadedSequence>,
): Promise<boolean> {
  const { after, before } = neighbourWindow(c, sequences)
  const found = await db.resourceRevision.findFirst({
    where: { resourceId: c.sequenceId, timestamp: { gt: after, lt: before } },
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
  const stored = storedValues(keep, await insertRows(tx, keep))
  await moveLastRevisions(tx, stored, latest)
  return stored
}

const insertRows = (tx: Prisma.TransactionClient, keep: Candidate[]) =>
  insertRevisionRows(
    tx,
    keep.map((c) => ({
      resourceId: c.sequenceId,
      timestamp: c.timestamp,
      content: c.content!,
      numericValue: c.encoded.numericValue,
    })),
  )

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
  const moves = JSON.stringify(lastRevisionMoves(stored, latest))
  const dialect = providerOf(tx) === 'sqlite' ? sqlite : postgresql
  await tx.$executeRaw(dialect.moveLastRevisionsSql(moves, new Date()))
}
