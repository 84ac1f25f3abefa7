// Controller presence: connect, disconnect and watchdog keep ControllerStatus current.
import type { DbClient } from '../db/index.ts'

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

/** A watchdog message proves the controller alive and re-arms the one notification per outage. */
export async function recordWatchdog(db: DbClient, controllerId: number, at = new Date()) {
  await db.controllerStatus.upsert({
    where: { controllerId },
    create: { controllerId, lastWatchdogAt: at, watchdogNotificationSent: false },
    update: { lastWatchdogAt: at, watchdogNotificationSent: false },
  })
}
