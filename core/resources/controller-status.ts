// Controller presence: connect, disconnect and watchdog keep ControllerStatus current; and the
// status attributes a controller reports, beside Tendril's own (timestamp_correction).
import type { DbClient, Prisma } from '../db/index.ts'
import { readDirectSqlite } from '../db/sqlite-connection.ts'
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

/**
 * markConnected for many controllers at once (a connection storm): three statements whatever the
 * count. A row another writer created meanwhile makes the insert fail; then each is upserted alone.
 */
export async function markManyConnected(db: DbClient, controllerIds: number[], at = new Date()) {
  if (controllerIds.length === 0) return
  const existing = new Set((await db.controllerStatus.findMany({ where: { controllerId: { in: controllerIds } }, select: { controllerId: true } })).map((r) => r.controllerId))
  const missing = controllerIds.filter((id) => !existing.has(id))
  if (existing.size > 0) await db.controllerStatus.updateMany({ where: { controllerId: { in: [...existing] } }, data: { connected: true, lastConnectAt: at } })
  if (missing.length === 0) return
  try {
    await db.controllerStatus.createMany({ data: missing.map((controllerId) => ({ controllerId, connected: true, lastConnectAt: at })) })
  } catch {
    for (const id of missing) await markConnected(db, id)
  }
}

export async function markManyDisconnected(db: DbClient, controllerIds: number[]) {
  if (controllerIds.length === 0) return
  await db.controllerStatus.updateMany({ where: { controllerId: { in: controllerIds } }, data: { connected: false } })
}

/** The controllers shown connected (read every half minute: ~25 ms through Prisma for 10,000, ~2 ms directly). */
export async function connectedControllerIds(db: DbClient): Promise<number[]> {
  // (the connection reads integers as BigInt)
  const direct = readDirectSqlite(db, (sqlite) => (sqlite.statement('SELECT "controllerId" FROM "ControllerStatus" WHERE "connected" = 1').pluck().all() as bigint[]).map(Number))
  if (direct) return direct.result
  const rows = await db.$queryRaw<{ controllerId: number }[]>`SELECT "controllerId" FROM "ControllerStatus" WHERE "connected" = true`
  return rows.map((r) => r.controllerId)
}

/** A watchdog message proves the controller alive and re-arms the one notification per outage (watchdog.ts). */
export async function recordWatchdog(db: DbClient, controllerId: number, at = new Date()) {
  const rearmed = { lastWatchdogAt: at, watchdogNotificationSent: false, watchdogNoticeSentTo: null, watchdogNoticeClaimedUntil: null }
  await db.controllerStatus.upsert({ where: { controllerId }, create: { controllerId, ...rearmed }, update: rearmed })
}

/**
 * Merges keys into a controller's status attributes and returns the result. rhizo merged a reported
 * status into the one stored (main/api/resources.py: status.update(new); no key is ever removed),
 * and Tendril keeps its clock-drift correction there too (clock-drift.ts), so neither may replace
 * the whole. Runs in the caller's transaction; on PostgreSQL the row is locked before it is read, so
 * two merges at once both land (SQLite's transaction already holds the write lock).
 */
export async function mergeStatusAttributes(tx: Prisma.TransactionClient, controllerId: number, patch: Record<string, unknown>, maxBytes = Infinity) {
  if (providerOf(tx) === 'postgresql') await tx.$executeRaw`SELECT id FROM "ControllerStatus" WHERE "controllerId" = ${controllerId} FOR UPDATE`
  const row = await tx.controllerStatus.findUnique({ where: { controllerId }, select: { attributes: true } })
  const merged = mergeObject(row?.attributes, patch, { what: "the controller's status", maxBytes }) as Prisma.InputJsonObject
  await tx.controllerStatus.upsert({ where: { controllerId }, create: { controllerId, attributes: merged }, update: { attributes: merged } })
  return merged as Record<string, unknown>
}
