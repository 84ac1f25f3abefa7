// The SQL of storing sequence values that only PostgreSQL runs: row locks, the known-settings single
// value, and the lastRevisionId move of the Prisma path (prisma.ts). The rules are in rules.ts.
import { Prisma, type Db, type DbClient } from '../../db/index.ts'
import { sqlTimestamp } from '../revisions.ts'
import { ResourceType } from '../types.ts'
import { storedValues, type Candidate, type StoredValue } from './rules.ts'

/** Locks the sequences' rows until the transaction ends, in id order (ids sorted by the caller). */
export async function lockSequences(tx: DbClient, ids: number[]): Promise<void> {
  await tx.$executeRaw`SELECT id FROM "Resource" WHERE id IN (${Prisma.join(ids)}) ORDER BY id FOR UPDATE`
}

/**
 * storeKnownValue on PostgreSQL: one batch transaction of the row lock, the insert and the
 * lastRevisionId move, the last two only while the sequence is live with the settings the value was encoded by.
 */
export async function storeKnownValuePostgres(db: Db, c: Candidate, attributes: string): Promise<StoredValue | null> {
  const id = c.sequenceId
  const { bytes, numericValue } = c.encoded
  const at = sqlTimestamp('postgresql', c.timestamp)
  const now = new Date()
  const latestId = Prisma.sql`(SELECT id FROM "ResourceRevision" WHERE "resourceId" = ${id} ORDER BY "timestamp" DESC, id DESC LIMIT 1)`
  const unchanged = Prisma.sql`EXISTS (SELECT 1 FROM "Resource" WHERE id = ${id} AND NOT deleted AND type = ${ResourceType.sequence} AND "systemAttributes" = ${attributes}::jsonb)`
  const [, inserted] = await db.$transaction([
    db.$executeRaw`SELECT id FROM "Resource" WHERE id = ${id} FOR UPDATE`,
    db.$queryRaw<{ id: number | bigint }[]>`
      INSERT INTO "ResourceRevision" ("resourceId", "timestamp", "data", "blobHash", "size", "numericValue")
      SELECT ${id}, ${at}::timestamp(3), decode(${bytes.toString('hex')}, 'hex'), NULL, ${bytes.length}, ${numericValue}::float8 WHERE ${unchanged} RETURNING id`,
    db.$executeRaw`UPDATE "Resource" SET "lastRevisionId" = ${latestId}, "modifiedAt" = ${now} WHERE id = ${id} AND ${unchanged}`,
  ])
  return inserted.length === 1 ? storedValues([c], [Number(inserted[0]!.id)])[0]! : null
}

/** Moves lastRevisionId (and modifiedAt) of every sequence the batch touched, in one statement. */
export const moveLastRevisionsSql = (moves: string, modifiedAt: Date) => Prisma.sql`
  UPDATE "Resource" AS r SET "lastRevisionId" = coalesce(m.rev, r."lastRevisionId"), "modifiedAt" = ${modifiedAt}
  FROM json_to_recordset(${moves}::json) AS m(id int, rev int) WHERE r.id = m.id`
