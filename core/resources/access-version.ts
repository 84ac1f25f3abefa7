// A marker that changes whenever access rules change (permission lists, memberships, renames, moves,
// deletes), kept in the database so every instance and process sees it: live sessions re-check their
// cached access when it moves, instead of re-checking every topic every second, and REST's path
// cache forgets what it found. Both read it through core/change-markers.ts.
import { ACCESS_VERSION_SETTING, bumpMarker } from '../change-markers.ts'
import type { DbClient } from '../db/index.ts'

export function bumpAccessVersion(db: DbClient): Promise<void> {
  return bumpMarker(db, 'access')
}

export async function readAccessVersion(db: DbClient): Promise<string> {
  return (await db.serverSetting.findUnique({ where: { name: ACCESS_VERSION_SETTING } }))?.value ?? ''
}
