// A marker that changes whenever access rules change (permission lists, memberships), kept in the
// database so every instance and process sees it: live sessions re-check their cached access when
// it moves, instead of re-checking every topic every second.
import { randomUUID } from 'node:crypto'
import type { DbClient } from '../db/index.ts'

const SETTING = 'access_version'

export async function bumpAccessVersion(db: DbClient): Promise<void> {
  const value = randomUUID()
  await db.serverSetting.upsert({ where: { name: SETTING }, create: { name: SETTING, value }, update: { value } })
}

export async function readAccessVersion(db: DbClient): Promise<string> {
  return (await db.serverSetting.findUnique({ where: { name: SETTING } }))?.value ?? ''
}
