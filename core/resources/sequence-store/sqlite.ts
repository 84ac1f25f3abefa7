// The SQL of storing sequence values on SQLite: the direct path (prepared statements on the
// adapter's own connection, in one BEGIN IMMEDIATE), the known-settings single value, and the
// lastRevisionId move that the Prisma path (prisma.ts) runs. The rules are in rules.ts.
import type { CoreContext } from '../../context.ts'
import { Prisma, type Db } from '../../db/index.ts'
import { inDirectSqliteTransaction, type DirectSqlite } from '../../db/sqlite-connection.ts'
import { dropResendsDirect, hasPackets } from '../../messages/packet-marks.ts'
import { dropReplaysDirect, hasEntries } from '../../messages/replays.ts'
import { providerOf, sqlTimestamp } from '../revisions.ts'
import { ResourceType } from '../types.ts'
import {
  checkSequenceId,
  dropTooFrequent,
  encodeBatch,
  latestOf,
  lastRevisionMoves,
  NEEDS_BLOB_STORE,
  needsNeighbourCheck,
  neighbourWindow,
  outgrowsRow,
  sequenceRowOf,
  sequencesOf,
  storedValues,
  type Candidate,
  type InlineOutcome,
  type RawSequenceRow,
  type SequenceRow,
  type SequenceValueInput,
  type StoredValue,
} from './rules.ts'

// storeInlineDirect: a row each
const READ_SEQUENCE = `SELECT r.id, r.type, r.deleted, r."systemAttributes", CAST(v."timestamp" AS TEXT) AS latest
  FROM "Resource" AS r LEFT JOIN "ResourceRevision" AS v ON v.id = r."lastRevisionId" WHERE r.id = ?`
const VALUE_NEAR = `SELECT 1 FROM "ResourceRevision" WHERE "resourceId" = ? AND "timestamp" > ? AND "timestamp" < ? LIMIT 1`
const INSERT_VALUE = `INSERT INTO "ResourceRevision" ("resourceId", "timestamp", "data", "blobHash", "size", "numericValue") VALUES (?, ?, ?, NULL, ?, ?)`
const MOVE_LAST = `UPDATE "Resource" SET "lastRevisionId" = coalesce(?, "lastRevisionId"), "modifiedAt" = ? WHERE id = ?`

/**
 * The inline path (prisma.ts storeInline) on SQLite when its connection is free: the same steps in
 * one BEGIN IMMEDIATE on the connection itself, which holds the write lock throughout, so what it
 * reads is current. The broker stores every MQTT value this way; through Prisma the batch's JSON
 * statements and the interactive transaction cost about half its CPU. undefined when the
 * connection is not free now; needs_blob_store (everything rolled back) when a value outgrew the row.
 */
export function storeInlineDirect(ctx: CoreContext, input: SequenceValueInput[]): InlineOutcome | undefined {
  if (providerOf(ctx.db) !== 'sqlite') return undefined
  try {
    return inDirectSqliteTransaction(ctx.db, (sqlite): InlineOutcome => {
      const unsent = hasPackets(input) ? dropResendsDirect(sqlite, input) : input
      const replays = hasEntries(unsent) ? dropReplaysDirect(sqlite, unsent) : undefined
      const outcome = storeInlineOnConnection(ctx, sqlite, replays?.fresh ?? unsent)
      if (outcome.kind === 'needs_blob_store') throw new RolledBack()
      replays?.record()
      return outcome
    })?.result
  } catch (err) {
    if (err instanceof RolledBack) return NEEDS_BLOB_STORE
    throw err
  }
}

/** Thrown only to make better-sqlite3 roll the transaction back (the marks written); caught right above. */
class RolledBack {}

function storeInlineOnConnection(ctx: CoreContext, sqlite: DirectSqlite, batch: SequenceValueInput[]): InlineOutcome {
  const read = sqlite.statement(READ_SEQUENCE)
  const ids = [...new Set(batch.map((v) => v.sequenceId))]
  const rows = new Map<number, SequenceRow>()
  for (const id of ids) {
    checkSequenceId(id)
    const row = read.get(id) as RawSequenceRow | undefined
    if (row) rows.set(id, sequenceRowOf(row))
  }
  const sequences = sequencesOf(ids, rows)
  const candidates = encodeBatch(batch, sequences, new Date(), ctx.config.textValueLimit)
  if (outgrowsRow(candidates, ctx.config.inlineBytes)) return NEEDS_BLOB_STORE
  const near = sqlite.statement(VALUE_NEAR)
  const hasNeighbour = (c: Candidate) => {
    const { after, before } = neighbourWindow(c, sequences)
    return near.get(c.sequenceId, sqlTimestamp('sqlite', after), sqlTimestamp('sqlite', before)) !== undefined
  }
  const neighbours = new Set(candidates.filter((c) => needsNeighbourCheck(c, sequences)).filter(hasNeighbour))
  const { keep, skipped } = dropTooFrequent(candidates, sequences, neighbours)
  const insert = sqlite.statement(INSERT_VALUE)
  const revisionIds = keep.map((c) => {
    const bytes = c.encoded.bytes
    const at = sqlTimestamp('sqlite', c.timestamp)
    return Number(insert.run(c.sequenceId, at, bytes, bytes.length, c.encoded.numericValue).lastInsertRowid)
  })
  const stored = storedValues(keep, revisionIds)
  const move = sqlite.statement(MOVE_LAST)
  const modifiedAt = sqlTimestamp('sqlite', new Date())
  for (const m of lastRevisionMoves(stored, latestOf(sequences))) move.run(m.rev, modifiedAt, m.id)
  return { kind: 'stored', result: { stored, skipped } }
}

// storeKnownValue: the insert and the lastRevisionId move, each only while the sequence is live with the settings the
// value was encoded by
const SEQUENCE_UNCHANGED = `EXISTS (SELECT 1 FROM "Resource" WHERE id = ? AND deleted = 0 AND type = ? AND json("systemAttributes") = json(?))`
const INSERT_KNOWN = `INSERT INTO "ResourceRevision" ("resourceId", "timestamp", "data", "blobHash", "size", "numericValue")
  SELECT ?, ?, unhex(?), NULL, ?, ? WHERE ${SEQUENCE_UNCHANGED} RETURNING id`
const MOVE_KNOWN = `UPDATE "Resource" SET "modifiedAt" = ?,
  "lastRevisionId" = (SELECT id FROM "ResourceRevision" WHERE "resourceId" = ? ORDER BY "timestamp" DESC, id DESC LIMIT 1)
  WHERE id = ? AND ${SEQUENCE_UNCHANGED}`

/**
 * storeKnownValue on SQLite: the insert, which takes the write lock, and the move, on the adapter's
 * connection with prepared statements when it is free; else through Prisma, queued behind its transaction.
 */
export async function storeKnownValueSqlite(db: Db, c: Candidate, attributes: string): Promise<StoredValue | null> {
  const id = c.sequenceId
  const { bytes, numericValue } = c.encoded
  const insertArgs = [id, sqlTimestamp('sqlite', c.timestamp), bytes.toString('hex'), bytes.length, numericValue]
  const unchanged = [id, ResourceType.sequence, attributes]
  const moveArgs = [sqlTimestamp('sqlite', new Date()), id, id, ...unchanged]
  const direct = inDirectSqliteTransaction(db, (sqlite) => {
    const row = sqlite.statement(INSERT_KNOWN).get(...insertArgs, ...unchanged) as { id: bigint } | undefined
    if (row) sqlite.statement(MOVE_KNOWN).run(...moveArgs)
    return row?.id
  })
  const revisionId = direct
    ? direct.result
    : (
        await db.$transaction([
          db.$queryRawUnsafe<{ id: number | bigint }[]>(INSERT_KNOWN, ...insertArgs, ...unchanged),
          db.$executeRawUnsafe(MOVE_KNOWN, ...moveArgs),
        ])
      )[0][0]?.id
  return revisionId === undefined ? null : storedValues([c], [Number(revisionId)])[0]!
}

/** Moves lastRevisionId (and modifiedAt) of every sequence the batch touched, in one statement. */
export const moveLastRevisionsSql = (moves: string, modifiedAt: Date) => Prisma.sql`
  UPDATE "Resource" SET "lastRevisionId" = coalesce(m.value ->> 'rev', "lastRevisionId"), "modifiedAt" = ${modifiedAt}
  FROM json_each(${moves}) AS m WHERE "Resource".id = m.value ->> 'id'`
