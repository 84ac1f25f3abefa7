// Opens the core: brings the database schema up to date, connects, and loads the server secret.
import type { Config } from './config.ts'
import type { CoreContext } from './context.ts'
import { openDatabase } from './db/index.ts'
import { syncSqliteCommits } from './db/sqlite-connection.ts'
import { migrate } from './db/migrate.ts'
import { startCheckpointer, type Checkpointer } from './db/checkpointer.ts'
import type { Logger } from './log.ts'
import { loadServerSecret } from './accounts/secret.ts'
import { flushKeyUse } from './accounts/keys.ts'
import { createOutbox } from './messages/outgoing.ts'
import { createHistoryWriter } from './messages/history.ts'
import { createBlobStore } from './blobs/index.ts'
import { timedBlobStore } from './blobs/timing.ts'
import { createMetrics } from './metrics.ts'

export type { CoreContext }

export interface Core extends CoreContext {
  close(): Promise<void>
}

/** `worker`: one of several `tendril serve --workers` processes; their primary migrates and checkpoints SQLite */
export async function openCore(config: Config, log: Logger, { worker = false } = {}): Promise<Core> {
  if (!worker) {
    const { applied, unknown } = await migrate(config.database)
    if (applied.length) log.info({ migrations: applied }, 'applied database migrations')
    if (unknown.length)
      log.warn(
        { migrations: unknown },
        'the database has migrations this version does not know; was it used by a newer Tendril?',
      )
  }
  const metrics = createMetrics()
  // timed only when someone reads the times: the default path stays as it was
  const timing = config.metrics.enabled
  const db = openDatabase(config.database, timing ? metrics.observeQuery : undefined)
  let checkpointer: Checkpointer | undefined
  try {
    // A PUBACK or a 200 means "stored": by default (full) they go out once the WAL is on disk, flushed
    // on the threadpool and shared by concurrent writes (db/sqlite-connection.ts), not by an fsync
    // inside each commit, which held the event loop 6-30 ms each on a shared disk. The connection
    // itself runs NORMAL, which WAL keeps consistent. With normal nothing waits for the disk: a power
    // cut or OS crash may lose the commits since the last checkpoint (~200 ms).
    if (config.database.provider === 'sqlite') {
      syncSqliteCommits(db, config.sqliteSynchronous === 'full')
      await db.$executeRawUnsafe('PRAGMA synchronous = NORMAL')
    }
    if (config.database.provider === 'sqlite' && worker)
      await db.$queryRawUnsafe('PRAGMA wal_autocheckpoint = 0') // the primary's thread checkpoints
    else if (config.database.provider === 'sqlite')
      checkpointer = await startCheckpointer(db, config.database.file, log)
    const secret = await loadServerSecret(db, config.secret)
    const store = createBlobStore(config.blobstore, config.dataDir)
    const blobs = timing ? timedBlobStore(store, metrics.observeBlob) : store
    const history = createHistoryWriter(
      db,
      log,
      config.messageHistory.count,
      (rows) => (metrics.figures.historyRows += rows),
    )
    return {
      config,
      db,
      log,
      secret,
      outbox: createOutbox(config.outgoing),
      blobs,
      history,
      metrics,
      async close() {
        await blobs.close?.()
        await history.close() // what is held is written before the disconnect
        await flushKeyUse(db) // its delayed write would otherwise reopen the connection after the disconnect
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
