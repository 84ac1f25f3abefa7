// Opens the core: brings the database schema up to date, connects, and loads the server secret.
import type { Config } from './config.ts'
import type { CoreContext } from './context.ts'
import { openDatabase } from './db/index.ts'
import { migrate } from './db/migrate.ts'
import { startCheckpointer, type Checkpointer } from './db/checkpointer.ts'
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
  let checkpointer: Checkpointer | undefined
  try {
    // A PUBACK or a 200 means "stored", so by default every commit waits for the disk (FULL). NORMAL
    // (with WAL) skips that fsync — measured 6-30 ms per commit on a shared disk, which capped one REST
    // client at 30-150 writes/s — keeping the database consistent but able to lose the last commits
    // to a power cut or OS crash (not to a process crash). The adapter keeps one connection per client.
    if (config.database.provider === 'sqlite') await db.$executeRawUnsafe(`PRAGMA synchronous = ${config.sqliteSynchronous === 'normal' ? 'NORMAL' : 'FULL'}`)
    checkpointer = config.database.provider === 'sqlite' ? await startCheckpointer(db, config.database.file, log) : undefined
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
        await checkpointer?.stop()
        await db.$disconnect()
      },
    }
  } catch (err) {
    await checkpointer?.stop()
    await db.$disconnect()
    throw err
  }
}
