// A marker that changes whenever access rules change (permission lists, memberships, renames, moves,
// deletes), kept in the database so every instance and process sees it: live sessions re-check their
// cached access when it moves, instead of re-checking every topic every second, and REST's path
// cache forgets what it found. Both read it through core/change-markers.ts.
import { randomUUID } from 'node:crypto'
import { ACCESS_VERSION_SETTING as SETTING, noteLocalChange } from '../change-markers.ts'
import type { DbClient } from '../db/index.ts'

export async function bumpAccessVersion(db: DbClient): Promise<void> {
  const value = randomUUID()
  noteLocalChange('access') // this process's caches forget at once, even before the caller's transaction commits
  await db.serverSetting.upsert({ where: { name: SETTING }, create: { name: SETTING, value }, update: { value } })
}

export async function readAccessVersion(db: DbClient): Promise<string> {
  return (await db.serverSetting.findUnique({ where: { name: SETTING } }))?.value ?? ''
}
