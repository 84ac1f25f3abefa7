// Controller presence: connect, disconnect and watchdog keep ControllerStatus current; and the
// status attributes a controller reports, beside Tendril's own (timestamp_correction).
import { Prisma, type DbClient } from '../db/index.ts'
import { inDirectSqliteTransaction, readDirectSqlite } from '../db/sqlite-connection.ts'
import { mergeObject } from './attributes.ts'
import { providerOf } from './revisions.ts'

export async function markConnected(db: DbClient, controllerId: number, clientVersion?: string) {
  const now = new Date()
  await db.controllerStatus.upsert({
    where: { controllerId },
    create: { controllerId, connected: true, lastConnectAt: now, clientVersion: clientVersion ?? null },
    update: { connected: true, lastConnectAt: now, ...(clientVersion ? { clientVersion } : {}) },
  })
}

export async function markDisconnected(db: DbClient, controllerId: number) {
  await db.controllerStatus.updateMany({ where: { controllerId }, data: { connected: false } })
}

/** Rows per upsert statement: two parameters each, well inside both providers' limits. */
const UPSERT_CHUNK = 1000

/**
 * markConnected for many controllers at once (a connection storm): one upsert statement per 1000,
 * in id order, so that two instances writing at once lock rows in the same order.
 */
export async function markManyConnected(db: DbClient, controllerIds: number[], at = new Date()) {
  const ids = [...new Set(controllerIds)].sort((a, b) => a - b)
  if (ids.length === 0) return
  // on SQLite one prepared statement on the connection (a storm's thousands of rows cost Prisma milliseconds to bind)
  const iso = at.toISOString().replace('Z', '+00:00') // as Prisma's adapter writes dates
  if (inDirectSqliteTransaction(db, (sqlite) => sqlite.statement(DIRECT_UPSERT_SQL).run(iso, JSON.stringify(ids))))
    return
  // on PostgreSQL one array parameter, not three per row
  if (providerOf(db) === 'postgresql') {
    await db.$executeRaw`INSERT INTO "ControllerStatus" ("controllerId", "connected", "lastConnectAt")
      SELECT id, true, ${at} FROM unnest(${ids}::int[]) AS id ORDER BY id
      ON CONFLICT ("controllerId") DO UPDATE SET "connected" = true, "lastConnectAt" = excluded."lastConnectAt"`
    return
  }
  for (let i = 0; i < ids.length; i += UPSERT_CHUNK) {
    const rows = ids.slice(i, i + UPSERT_CHUNK).map((id) => Prisma.sql`(${id}, true, ${at})`)
    await db.$executeRaw`INSERT INTO "ControllerStatus" ("controllerId", "connected", "lastConnectAt") VALUES ${Prisma.join(rows)}
      ON CONFLICT ("controllerId") DO UPDATE SET "connected" = true, "lastConnectAt" = excluded."lastConnectAt"`
  }
}

// (WHERE true: SQLite's upsert after a SELECT needs it)
const DIRECT_UPSERT_SQL = `INSERT INTO "ControllerStatus" ("controllerId", "connected", "lastConnectAt")
  SELECT value, 1, ? FROM json_each(?) WHERE true
  ON CONFLICT ("controllerId") DO UPDATE SET "connected" = 1, "lastConnectAt" = excluded."lastConnectAt"`

export async function markManyDisconnected(db: DbClient, controllerIds: number[]) {
  if (controllerIds.length === 0) return
  await db.controllerStatus.updateMany({ where: { controllerId: { in: controllerIds } }, data: { connected: false } })
}

/** The controllers shown connected (read every half minute: ~25 ms through Prisma for 10,000, ~2 ms directly). */
export async function connectedControllerIds(db: DbClient): Promise<number[]> {
  // (the connection reads integers as BigInt)
  const direct = readDirectSqlite(db, (sqlite) =>
    (
      sqlite.statement('SELECT "controllerId" FROM "ControllerStatus" WHERE "connected" = 1').pluck().all() as bigint[]
    ).map(Number),
  )
  if (direct) return direct.result
  const rows = await db.$queryRaw<
    { controllerId: number }[]
  >`SELECT "controllerId" FROM "ControllerStatus" WHERE "connected" = true`
  return rows.map((r) => r.controllerId)
}

/** A watchdog message proves the controller alive and re-arms the one notification per outage (watchdog.ts). */
export async function recordWatchdog(db: DbClient, controllerId: number, at = new Date()) {
  const rearmed = {
    lastWatchdogAt: at,
    watchdogNotificationSent: false,
    watchdogNoticeSentTo: null,
    watchdogNoticeClaimedUntil: null,
  }
  await db.controllerStatus.upsert({ where: { controllerId }, create: { controllerId, ...rearmed }, update: rearmed })
}

/**
 * Merges keys into a controller's status attributes and returns the result. rhizo merged a reported
 * status into the one stored (main/api/resources.py: status.update(new); no key is ever removed),
 * and Tendril keeps its clock-drift correction there too (clock-drift.ts), so neither may replace
 * the whole. Runs in the caller's transaction; on PostgreSQL the row is locked before it is read, so
 * two merges at once both land (SQLite's transaction already holds the write lock).
 */
export async function mergeStatusAttributes(
  tx: Prisma.TransactionClient,
  controllerId: number,
  patch: Record<string, unknown>,
  maxBytes = Infinity,
) {
  if (providerOf(tx) === 'postgresql')
    await tx.$executeRaw`SELECT id FROM "ControllerStatus" WHERE "controllerId" = ${controllerId} FOR UPDATE`
  const row = await tx.controllerStatus.findUnique({ where: { controllerId }, select: { attributes: true } })
  const merged = mergeObject(row?.attributes, patch, {
    what: "the controller's status",
    maxBytes,
  }) as Prisma.InputJsonObject
  await tx.controllerStatus.upsert({
    where: { controllerId },
    create: { controllerId, attributes: merged },
    update: { attributes: merged },
  })
  return merged as Record<string, unknown>
}
