// Opens the core: brings the database schema up to date, connects, and loads the server secret.
import type { Config } from './config.ts'
import type { CoreContext } from './context.ts'
import { openDatabase } from './db/index.ts'
import { migrate } from './db/migrate.ts'
import type { Logger } from './log.ts'
import { loadServerSecret } from './accounts/secret.ts'
import { createOutbox } from './messages/outgoing.ts'
import { createBlobStore } from './blobs/index.ts'

export type { CoreContext }

export interface Core extends CoreContext {
  close(): Promise<void>
}

export async function openCore(config: Config, log: Logger): Promise<Core> {
  const { applied, unknown } = await migrate(config.database)
  if (applied.length) log.info({ migrations: applied }, 'applied database migrations')
  if (unknown.length) log.warn({ migrations: unknown }, 'the database has migrations this version does not know; was it used by a newer Tendril?')
  const db = openDatabase(config.database)
  try {
    // WAL with synchronous=NORMAL: a commit no longer waits for an fsync (measured 6-30 ms each on a
    // shared disk, which capped one client at 30-150 REST writes/s); the database stays consistent,
    // and only the last transactions before a power cut or OS crash (not a process crash) can be lost.
    // SQLite recommends it for WAL. The adapter keeps one connection per client, so once is enough.
    if (config.database.provider === 'sqlite') await db.$executeRawUnsafe('PRAGMA synchronous = NORMAL')
    const secret = await loadServerSecret(db, config.secret)
    const blobs = createBlobStore(config.blobstore, config.dataDir)
    return {
      config,
      db,
      log,
      secret,
      outbox: createOutbox(config.outgoing),
      blobs,
      async close() {
        await blobs.close?.()
        await db.$disconnect()
      },
    }
  } catch (err) {
    await db.$disconnect()
    throw err
  }
}
