// A marker that changes whenever credentials may have lost their power: a key revoked, a controller
// or user deleted, a membership removed. Kept in the database so every instance and process sees it;
// the broker reads this one row every second and re-checks the keys of its live sessions only when
// it moved, instead of re-reading every connected key every second; REST's key cache (key-cache.ts)
// forgets what it verified when it moves. Both read it through core/change-markers.ts.
import { randomUUID } from 'node:crypto'
import { CREDENTIALS_VERSION_SETTING, noteLocalChange } from '../change-markers.ts'
import type { DbClient } from '../db/index.ts'

export { CREDENTIALS_VERSION_SETTING }

export async function bumpCredentialsVersion(db: DbClient): Promise<void> {
  const value = randomUUID()
  noteLocalChange('credentials') // this process's caches forget at once, even before the caller's transaction commits
  await db.serverSetting.upsert({ where: { name: CREDENTIALS_VERSION_SETTING }, create: { name: CREDENTIALS_VERSION_SETTING, value }, update: { value } })
}

export async function readCredentialsVersion(db: DbClient): Promise<string> {
  return (await db.serverSetting.findUnique({ where: { name: CREDENTIALS_VERSION_SETTING } }))?.value ?? ''
}
