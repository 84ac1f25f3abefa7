// The server secret keys every stored hash of keys and tokens. Configured explicitly (--secret) it
// never touches the database; otherwise one is generated on first start and kept in ServerSetting,
// so every instance and admin command on the same database agrees without extra setup.
import { randomBytes } from 'node:crypto'
import type { Db } from '../db/index.ts'

const SETTING = 'server_secret'

export async function loadServerSecret(db: Db, configured?: string): Promise<string> {
  if (configured) return configured
  const existing = await db.serverSetting.findUnique({ where: { name: SETTING } })
  if (existing) return existing.value
  // Two processes may start together: both try to insert, the loser reads the winner's value.
  await db.serverSetting
    .createMany({ data: [{ name: SETTING, value: randomBytes(32).toString('hex') }] })
    .catch(() => {})
  const stored = await db.serverSetting.findUnique({ where: { name: SETTING } })
  if (!stored) throw new Error('could not store the server secret')
  return stored.value
}
