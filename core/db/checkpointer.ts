// SQLite WAL checkpoints on a thread of their own. By default the connection that commits the
// 1000th page of the WAL copies the WAL back into the database file then and there, fsync included:
// on the event loop, inside a request or an ingest batch, every few hundred commits (measured: half
// the cost of a small transaction on average, in stalls of one fsync). The server's connection turns
// that off, and a worker thread with its own connection copies frames (PASSIVE) five times a second.
//
// A steady writer keeps missing the moment when every frame is copied, the only one at which SQLite
// starts the WAL over, so past a limit the server's own connection empties it (TRUNCATE: the few
// frames left and the fsyncs, while the thread waits). From another connection a TRUNCATE made the
// server's writes fail at once with SQLITE_BUSY.
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import type { Logger } from '../log.ts'
import type { Db } from './index.ts'

const WORKER = fileURLToPath(new URL('./checkpoint-worker.mjs', import.meta.url))
/** SQLite's own default: what the committing connection goes back to if the thread dies */
const AUTOCHECKPOINT_PAGES = 1000
/**
 * The WAL size past which the server's connection empties the file. Emptying it holds the event loop
 * for two or three fsyncs (11-22 ms measured), so not often: at 4 MiB (SQLite's own 1000 pages) one
 * client writing values one by one over REST caused it twice a second, 5% of the server's time. A
 * larger WAL costs readers little (its index grows by 32 KiB per 4,096 frames).
 */
export const WAL_LIMIT_BYTES = 64 * 1024 * 1024

export interface Checkpointer {
  stop(): Promise<void>
}

export async function startCheckpointer(db: Db, file: string, log: Logger, { intervalMs = 200, walLimitBytes = WAL_LIMIT_BYTES } = {}): Promise<Checkpointer> {
  const worker = new Worker(WORKER, { workerData: { file, intervalMs, walLimitBytes } })
  worker.unref()
  let stopping = false
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()))
  worker.on('message', (message: { error?: string; walOverLimit?: boolean }) => {
    if (message.error) log.warn({ err: message.error }, 'WAL checkpoint failed; retrying')
    if (!message.walOverLimit) return
    db.$queryRawUnsafe('PRAGMA wal_checkpoint(TRUNCATE)')
      .catch((err: Error) => log.warn({ err }, 'emptying the WAL failed; retrying'))
      .finally(() => !stopping && worker.postMessage('emptied'))
  })
  worker.once('error', (err) => log.error({ err }, 'the WAL checkpoint thread failed'))
  void exited.then(async () => {
    if (stopping) return
    log.error('the WAL checkpoint thread stopped; the server checkpoints on its own connection again')
    await db.$queryRawUnsafe(`PRAGMA wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`).catch(() => undefined)
  })
  await db.$queryRawUnsafe('PRAGMA wal_autocheckpoint = 0')
  return {
    async stop() {
      stopping = true
      worker.ref() // waited for now: keep the process alive until it has exited
      worker.postMessage('stop')
      await exited
    },
  }
}
