// A marker that changes whenever credentials may have lost their power: a key revoked, a controller
// or user deleted, a membership removed. Kept in the database so every instance and process sees it;
// the broker reads this one row every second and re-checks the keys of its live sessions only when
// it moved, instead of re-reading every connected key every second.
import { randomUUID } from 'node:crypto'
import type { DbClient } from '../db/index.ts'

export const CREDENTIALS_VERSION_SETTING = 'credentials_version'

export async function bumpCredentialsVersion(db: DbClient): Promise<void> {
  const value = randomUUID()
  await db.serverSetting.upsert({ where: { name: CREDENTIALS_VERSION_SETTING }, create: { name: CREDENTIALS_VERSION_SETTING, value }, update: { value } })
}

export async function readCredentialsVersion(db: DbClient): Promise<string> {
  return (await db.serverSetting.findUnique({ where: { name: CREDENTIALS_VERSION_SETTING } }))?.value ?? ''
}
