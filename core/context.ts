// What every core function needs: the parsed config, the database, the logger and the server secret.
// Only types, from modules that import nothing back: every core module imports this one.
import type { Config } from './config.ts'
import type { Db } from './db/index.ts'
import type { Logger } from './log.ts'
import type { BlobStore } from './blobs/store.ts'
import type { HistoryWriter, Outbox } from './messages/types.ts'
import type { Metrics } from './metrics.ts'

export interface CoreContext {
  config: Config
  db: Db
  log: Logger
  secret: string
  /** email and text message delivery */
  outbox: Outbox
  /** bulk storage for large revisions */
  blobs: BlobStore
  /** the folders' message history, some rows held back briefly (messages/history.ts) */
  history: HistoryWriter
  /** figures for /metrics and $SYS topics */
  metrics: Metrics
}
