// SQLite WAL checkpoints on a thread of their own. By default the connection that commits the
// 1000th page of the WAL copies the WAL back into the database file then and there, fsync included:
// on the event loop, inside a request or an ingest batch, every few hundred commits (measured: half
// the cost of a small transaction on average, in stalls of one fsync). The server's connection turns
// that off, and a worker thread with its own connection copies frames (PASSIVE) five times a second.
//
// A steady writer keeps missing the moment when every frame is copied, the only one at which SQLite
// starts the WAL over, so past a limit the server's own connection makes it start over (RESTART: the
// few frames left and an fsync, while the thread waits; 1-8 ms measured). From another connection
// that made the server's writes fail at once with SQLITE_BUSY. TRUNCATE, which also shrinks the file,
// held the event loop 11-22 ms for a 4 MiB WAL and 85 ms for 64 MiB: the file keeps its largest
// size instead, written over from the start.
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { isDiskFull } from '../disk-full.ts'
import type { Logger } from '../log.ts'
import type { Db } from './index.ts'

const WORKER = fileURLToPath(new URL('./checkpoint-worker.mjs', import.meta.url))
/** SQLite's own default: what the committing connection goes back to if the thread dies */
const AUTOCHECKPOINT_PAGES = 1000
/**
 * What the WAL may hold before the server's connection starts it over: also the file's size on
 * disk. At 4 MiB (SQLite's own 1000 pages) one client writing values one by one over REST caused a
 * restart twice a second; a larger WAL costs readers little (its index grows by 32 KiB per 4,096 frames).
 */
export const WAL_LIMIT_BYTES = 64 * 1024 * 1024

interface CheckpointMessage {
  ready?: boolean
  walOverLimit?: boolean
  /** a failed checkpoint: the first of a run of failures, then one every 10 s (checkpoint-worker.mjs) */
  error?: string
  code?: string
  /** failures in a row so far, or in all when recovered */
  failures?: number
  recovered?: boolean
}

function reportFailure(log: Logger, { error, code, failures }: CheckpointMessage): void {
  if (isDiskFull({ code })) log.error({ err: error, failures }, 'WAL checkpoint failed: the disk is full; retrying')
  else log.warn({ err: error, failures }, 'WAL checkpoint failed; retrying')
}

export interface Checkpointer {
  stop(): Promise<void>
}

export async function startCheckpointer(
  db: Db,
  file: string,
  log: Logger,
  { intervalMs = 200, walLimitBytes = WAL_LIMIT_BYTES } = {},
): Promise<Checkpointer> {
  const worker = new Worker(WORKER, { workerData: { file, intervalMs, walLimitBytes } })
  let stopping = false
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()))
  let started!: (running: boolean) => void
  const running = new Promise<boolean>((resolve) => (started = resolve))
  worker.on('message', (message: CheckpointMessage) => {
    if (message.ready) return started(true)
    if (message.error) reportFailure(log, message)
    if (message.recovered) log.info({ failures: message.failures }, 'WAL checkpoints work again')
    if (!message.walOverLimit) return
    db.$queryRawUnsafe('PRAGMA wal_checkpoint(RESTART)')
      .catch((err: Error) => log.warn({ err }, 'starting the WAL over failed; retrying'))
      .finally(() => !stopping && worker.postMessage('restarted'))
  })
  worker.once('error', (err) => log.error({ err }, 'the WAL checkpoint thread failed'))
  void exited.then(async () => {
    started(false) // if it never got going
    if (stopping) return
    log.error('the WAL checkpoint thread stopped; the server checkpoints on its own connection again')
    await db.$queryRawUnsafe(`PRAGMA wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`).catch(() => undefined)
  })
  // the server connection stops checkpointing once the thread has its own connection open (the
  // thread keeps the process alive until then: a short script's openCore must not end while waiting)
  const isRunning = await running
  worker.unref()
  if (isRunning) await db.$queryRawUnsafe('PRAGMA wal_autocheckpoint = 0')
  return {
    async stop() {
      stopping = true
      worker.ref() // waited for now: keep the process alive until it has exited
      worker.postMessage('stop')
      await exited
    },
  }
}
