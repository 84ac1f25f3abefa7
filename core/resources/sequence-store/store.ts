// Storing sequence values: the one entry for REST, MQTT and the JSON websocket. It picks a path;
// each path applies the same rules (rules.ts) with its database's SQL (sqlite.ts, postgresql.ts,
// prisma.ts). A batch is all or nothing: any bad value refuses it, and one transaction inserts the
// revisions, moves lastRevisionId and writes the packet and replay marks (packet-marks.ts, replays.ts).
import type { BlobStore } from '../../blobs/index.ts'
import type { CoreContext } from '../../context.ts'
import { providerOf } from '../revisions.ts'
import { storeKnownValuePostgres } from './postgresql.ts'
import { storeInlineInTransaction, storeWithBlobs } from './prisma.ts'
import {
  byteLength,
  knownCandidate,
  type InlineOutcome,
  type SequenceValueInput,
  type StoredValue,
  type StoreResult,
} from './rules.ts'
import { storeInlineDirect, storeKnownValueSqlite } from './sqlite.ts'

export async function storeSequenceValues(
  ctx: CoreContext,
  blobs: BlobStore,
  batch: SequenceValueInput[],
): Promise<StoreResult> {
  if (batch.length === 0) return { stored: [], skipped: [] }
  const [first] = batch
  if (batch.length === 1 && first!.known && !first!.entry && !first!.packet) {
    const stored = await storeKnownValue(ctx, first!, first!.known)
    if (stored) return { stored: [stored], skipped: [] }
  }
  // the usual case, values that stay inline (a number, a short text): one transaction does it all
  if (batch.every((v) => byteLength(v.value) <= ctx.config.inlineBytes)) {
    const outcome: InlineOutcome = storeInlineDirect(ctx, batch) ?? (await storeInlineInTransaction(ctx, batch))
    if (outcome.kind === 'stored') return outcome.result
    // else an encoded value grew past the inline limit: the long way
  }
  return storeWithBlobs(ctx, blobs, batch)
}

/**
 * One value for a sequence whose settings the caller knows, in one batch transaction of two or three
 * statements instead of an interactive one of six plus a read before it. The insert and the move
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
  const candidate = knownCandidate(input, known, ctx.config)
  if (!candidate) return null
  const attributes = JSON.stringify(known.systemAttributes)
  return providerOf(ctx.db) === 'sqlite'
    ? storeKnownValueSqlite(ctx.db, candidate, attributes)
    : storeKnownValuePostgres(ctx.db, candidate, attributes)
}
