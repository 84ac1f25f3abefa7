// max_history: a sequence keeps only its newest N values (rhizo-server trimmed after each store;
// Tendril trims in the background so ingestion never pays for it). Deleting revisions may leave
// blobs that nothing refers to; those are deleted too (revisions.ts explains the locking).
// Work per call is bounded (sequences examined, revisions deleted), and each delete is its own short
// transaction, so a large backlog never holds SQLite's write lock for long. Safe to run on several
// instances at once: deletes are idempotent.
import type { BlobStore } from '../blobs/index.ts'
import type { CoreContext } from '../context.ts'
import { inTransaction } from '../db/index.ts'
import { collectUnreferencedBlobs, lockBlobCollection } from './revisions.ts'
import { sequenceRules } from './sequence-values.ts'
import { ResourceType } from './types.ts'

export interface RetentionOptions {
  /** when this pass starts (default: now); returned as startedAt */
  now?: Date
  /** only sequences that stored a value at or after this instant (modifiedAt); default all */
  modifiedSince?: Date
  /** continue a pass after this sequence id (resumeAfterId of the previous call) */
  afterId?: number
  /** sequences examined per call */
  maxSequences?: number
  /** revisions deleted per call */
  maxDeletes?: number
}

export interface RetentionResult {
  startedAt: Date
  sequencesChecked: number
  revisionsDeleted: number
  blobsDeleted: number
  /** null when the pass is complete; otherwise pass it as afterId to continue where a bound stopped it */
  resumeAfterId: number | null
}

const PAGE = 200
const DELETE_BATCH = 1000

export async function enforceRetention(
  ctx: CoreContext,
  blobs: BlobStore,
  options: RetentionOptions = {},
): Promise<RetentionResult> {
  const maxSequences = options.maxSequences ?? 1000
  let budget = options.maxDeletes ?? 20_000
  const result: RetentionResult = {
    startedAt: options.now ?? new Date(),
    sequencesChecked: 0,
    revisionsDeleted: 0,
    blobsDeleted: 0,
    resumeAfterId: null,
  }
  let afterId = options.afterId ?? 0
  for (;;) {
    const page = await ctx.db.resource.findMany({
      where: {
        type: ResourceType.sequence,
        deleted: false,
        id: { gt: afterId },
        modifiedAt: options.modifiedSince ? { gte: options.modifiedSince } : undefined,
      },
      orderBy: { id: 'asc' },
      take: PAGE,
      select: { id: true, systemAttributes: true },
    })
    for (const sequence of page) {
      if (result.sequencesChecked === maxSequences || budget === 0) {
        result.resumeAfterId = afterId
        return result
      }
      result.sequencesChecked++
      const maxHistory = maxHistoryOf(sequence.systemAttributes)
      if (maxHistory !== undefined) {
        const trimmed = await trimSequence(ctx, blobs, sequence.id, maxHistory, budget)
        result.revisionsDeleted += trimmed.revisions
        result.blobsDeleted += trimmed.blobs
        budget -= trimmed.revisions
        if (!trimmed.finished) {
          result.resumeAfterId = afterId // come back to this sequence
          return result
        }
      }
      afterId = sequence.id
    }
    if (page.length < PAGE) return result
  }
}

function maxHistoryOf(systemAttributes: unknown): number | undefined {
  try {
    return sequenceRules(systemAttributes).maxHistory
  } catch {
    return undefined // no valid data_type: not a sequence we store values in
  }
}

/** Deletes a sequence's revisions older than its newest maxHistory (in timestamp order, ties by id), oldest first. */
async function trimSequence(
  ctx: CoreContext,
  blobs: BlobStore,
  sequenceId: number,
  maxHistory: number,
  budget: number,
) {
  const trimmed = { revisions: 0, blobs: 0, finished: false }
  // the newest revision beyond the limit: it and everything older goes
  const boundary = await ctx.db.resourceRevision.findFirst({
    where: { resourceId: sequenceId },
    orderBy: [{ timestamp: 'desc' }, { id: 'desc' }],
    skip: maxHistory,
    select: { id: true, timestamp: true },
  })
  if (!boundary) return { ...trimmed, finished: true }
  while (trimmed.revisions < budget) {
    const take = Math.min(DELETE_BATCH, budget - trimmed.revisions)
    const oldest = await ctx.db.resourceRevision.findMany({
      where: { resourceId: sequenceId, timestamp: { lte: boundary.timestamp } },
      orderBy: [{ timestamp: 'asc' }, { id: 'asc' }],
      take,
      select: { id: true, timestamp: true, blobHash: true },
    })
    // in (timestamp, id) order the boundary and everything before it are older; ties after it are newer
    const isOld = (r: { id: number; timestamp: Date }) =>
      r.timestamp < boundary.timestamp ||
      (r.timestamp.getTime() === boundary.timestamp.getTime() && r.id <= boundary.id)
    const victims = oldest.filter(isOld)
    if (victims.length > 0) {
      const deleted = await deleteRevisions(ctx, blobs, victims)
      trimmed.revisions += deleted.revisions
      trimmed.blobs += deleted.blobs
    }
    if (victims.length < take) return { ...trimmed, finished: true }
  }
  return trimmed
}

async function deleteRevisions(ctx: CoreContext, blobs: BlobStore, victims: { id: number; blobHash: string | null }[]) {
  const hashes = victims.flatMap((v) => (v.blobHash === null ? [] : [v.blobHash]))
  return inTransaction(ctx.db, async (tx) => {
    if (hashes.length > 0) await lockBlobCollection(tx)
    const { count } = await tx.resourceRevision.deleteMany({ where: { id: { in: victims.map((v) => v.id) } } })
    const blobsDeleted = await collectUnreferencedBlobs(ctx, tx, blobs, hashes)
    return { revisions: count, blobs: blobsDeleted }
  })
}

/** How far back a pass looks beyond its own start, for other instances' clocks and writes committing late. */
const CLOCK_SLACK_MS = 60_000

/**
 * Runs enforceRetention every intervalMs: a first pass over every sequence, then passes over those
 * written since the previous pass began. Returns a function that stops the job and waits for a run in progress.
 */
export function startRetentionJob(ctx: CoreContext, blobs: BlobStore, intervalMs = 60_000): () => Promise<void> {
  let modifiedSince: Date | undefined
  let passStartedAt: Date | undefined
  let afterId: number | undefined
  let running: Promise<void> | undefined
  const run = async () => {
    const result = await enforceRetention(ctx, blobs, { modifiedSince, afterId })
    passStartedAt ??= result.startedAt
    if (result.revisionsDeleted > 0)
      ctx.log.debug({ revisions: result.revisionsDeleted, blobs: result.blobsDeleted }, 'sequence history trimmed')
    if (result.resumeAfterId !== null) {
      afterId = result.resumeAfterId
      return
    }
    modifiedSince = new Date(passStartedAt.getTime() - CLOCK_SLACK_MS)
    passStartedAt = undefined
    afterId = undefined
  }
  const timer = setInterval(() => {
    if (running) return
    running = run()
      .catch((err) => ctx.log.error({ err }, 'sequence retention failed'))
      .finally(() => (running = undefined))
  }, intervalMs)
  timer.unref()
  return async () => {
    clearInterval(timer)
    await running
  }
}
