// The one SQLite connection a Prisma client holds (@prisma/adapter-better-sqlite3 opens one per
// client), made safe to share, and usable directly by hot paths.
//
// Serialized: the adapter runs an interactive transaction's BEGIN … COMMIT across awaits, yet runs
// every statement from outside the transaction on the same connection meanwhile — inside it. A
// write made then was rolled back with someone else's failed transaction, and a read saw what that
// transaction had not committed (test/integration/sqlite-connection.test.ts). Here a transaction
// holds the connection until it ends, and other statements wait for it, in arrival order.
//
// Durable without blocking: the connection commits with synchronous=NORMAL (WAL frames written, not
// flushed), and a commit is reported done only after an fdatasync of the WAL file, run on libuv's
// threadpool and shared by every commit that came before it started. So an acknowledged write is on
// disk as with synchronous=FULL, but no fsync holds the event loop, and concurrent writers share one
// (a group commit). `--sqlite-synchronous normal` skips that wait.
//
// Direct: better-sqlite3 is synchronous, so a transaction run in one go (BEGIN IMMEDIATE …
// COMMIT without an await) cannot interleave with anything. The few hot paths (a controller's
// single value, the message history) run so with prepared statements when the connection is free,
// skipping Prisma's per-call cost (interpreting the query, preparing every statement afresh).
import { AsyncLocalStorage } from 'node:async_hooks'
import { open, type FileHandle } from 'node:fs/promises'
import type { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3'
import type { Database, Statement } from 'better-sqlite3'

/** A first-come first-served lock: the connection's holder is one transaction or one statement. */
class ConnectionLock {
  #tail: Promise<void> = Promise.resolve()
  #held = 0
  get free(): boolean {
    return this.#held === 0
  }
  /** resolves with the release function once every earlier holder has released */
  acquire(): Promise<() => void> {
    this.#held++
    let release!: () => void
    const released = new Promise<void>((resolve) => (release = resolve))
    const turn = this.#tail.then(() => () => {
      this.#held--
      release()
    })
    this.#tail = this.#tail.then(() => released)
    return turn
  }
}

/** fdatasync of the WAL file, each covering every commit made before it started. */
class WalSync {
  /** how many flushes ran (diagnostics: commits per flush) */
  flushes = 0
  #file: string
  #handle: Promise<FileHandle | null> | undefined
  #running: Promise<void> | undefined
  #next: Promise<void> | undefined
  constructor(file: string) {
    this.#file = file
  }
  sync(): Promise<void> {
    if (!this.#running) return (this.#running = this.#run().finally(() => (this.#running = undefined)))
    // the sync under way may have started before the caller's commit: the next one covers it
    return (this.#next ??= this.#running
      .catch(() => {}) // its failure is its own callers'
      .then(() => {
        this.#next = undefined
        return this.sync()
      }))
  }
  async #run(): Promise<void> {
    // opened once, lazily: the WAL exists from the first commit on, and keeps its inode (emptied, never removed) while the server runs
    this.#handle ??= open(this.#file, 'r+').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return null
      throw err
    })
    let handle: FileHandle | null
    try {
      handle = await this.#handle
    } catch (err) {
      this.#handle = undefined // try opening again next time
      throw err
    }
    if (!handle) {
      this.#handle = undefined // nothing written yet: look again next time
      return
    }
    this.flushes++
    await handle.datasync()
  }
  async close(): Promise<void> {
    const handle = await this.#handle?.catch(() => null)
    this.#handle = undefined
    await handle?.close()
  }
}

type SqlDriverAdapter = Awaited<ReturnType<PrismaBetterSqlite3['connect']>>
type Transaction = Awaited<ReturnType<SqlDriverAdapter['startTransaction']>>

interface Connection {
  database: Database
  lock: ConnectionLock
  wal: WalSync
  /** wait for the WAL to be on disk before a commit counts as done (--sqlite-synchronous full) */
  syncCommits: boolean
  direct: DirectSqlite
  /** BEGIN IMMEDIATE, the function, COMMIT (or ROLLBACK if it throws); made once, it is not cheap */
  transaction: ((fn: (direct: DirectSqlite) => unknown) => unknown) & { immediate(fn: (direct: DirectSqlite) => unknown): unknown }
}

const connections = new WeakMap<object, Connection>()
/** set inside withoutDiskWait: commits there do not wait for the flush (the caller waits once, after) */
const deferred = new AsyncLocalStorage<true>()
/** syncSqliteCommits's choice, made before or after the client connects */
const commitSync = new WeakMap<object, boolean>()

/** Called by openDatabase when the client's adapter connects: serializes it and remembers its connection. */
export function shareSqliteConnection(client: object, adapter: SqlDriverAdapter): SqlDriverAdapter {
  const database = (adapter as unknown as { client: Database }).client
  const lock = new ConnectionLock()
  const statements = new Map<string, Statement>()
  const direct: DirectSqlite = {
    statement(sql) {
      let statement = statements.get(sql)
      if (!statement) statements.set(sql, (statement = database.prepare(sql)))
      return statement
    },
  }
  const transaction = database.transaction((fn: (direct: DirectSqlite) => unknown) => fn(direct))
  const connection: Connection = { database, lock, wal: new WalSync(`${database.name}-wal`), syncCommits: commitSync.get(client) ?? true, direct, transaction }
  connections.set(client, connection)
  const durable = <T>(result: T): Promise<T> | T => (connection.syncCommits && !deferred.getStore() ? connection.wal.sync().then(() => result) : result)
  const queryRaw = adapter.queryRaw.bind(adapter)
  const executeRaw = adapter.executeRaw.bind(adapter)
  const executeScript = adapter.executeScript.bind(adapter)
  const startTransaction = adapter.startTransaction.bind(adapter)
  const dispose = adapter.dispose.bind(adapter)
  const alone = async <T>(run: () => Promise<T>): Promise<T> => {
    if (lock.free) return run() // the adapter runs a statement synchronously: nothing can slip in
    const release = await lock.acquire()
    try {
      return await run()
    } finally {
      release()
    }
  }
  // a statement outside a transaction commits on its own; a read has nothing to make durable
  adapter.queryRaw = (query) => alone(() => queryRaw(query)).then((result) => (READS.test(query.sql) ? result : durable(result)))
  adapter.executeRaw = (query) => alone(() => executeRaw(query)).then(durable)
  adapter.executeScript = (script) => alone(() => executeScript(script)).then(durable)
  adapter.dispose = () => connection.wal.close().then(dispose)
  adapter.startTransaction = async (isolationLevel) => {
    const release = await lock.acquire()
    let transaction: Transaction
    try {
      transaction = await startTransaction(isolationLevel)
    } catch (err) {
      release()
      throw err
    }
    const commit = transaction.commit.bind(transaction)
    const rollback = transaction.rollback.bind(transaction)
    transaction.commit = () => commit().finally(release).then(durable)
    transaction.rollback = () => rollback().finally(release)
    return transaction
  }
  return adapter
}

/** Statements that write nothing (Prisma's reads, and raw SELECTs); anything else is waited for. */
const READS = /^\s*(SELECT|PRAGMA\s+\w+\s*$)/i

/** Whether an acknowledged commit waits for the WAL to be on disk (the default), per client. */
export function syncSqliteCommits(client: object, sync: boolean): void {
  commitSync.set(client, sync)
  const connection = connections.get(client)
  if (connection) connection.syncCommits = sync
}

/**
 * Resolves once what the client has committed is on disk (at once with --sqlite-synchronous normal,
 * for PostgreSQL, and inside withoutDiskWait).
 */
export async function committedToDisk(client: object): Promise<void> {
  const connection = connections.get(client)
  if (connection?.syncCommits && !deferred.getStore()) await connection.wal.sync()
}

/**
 * Runs fn with its commits not waiting for the disk, for a caller that pipelines batches: it awaits
 * committedToDisk itself, once, after fn, before it reports anything done.
 */
export function withoutDiskWait<T>(fn: () => Promise<T>): Promise<T> {
  return deferred.run(true, fn)
}

/** How many times the client's WAL was flushed for commits so far (0 for PostgreSQL). */
export function sqliteWalFlushes(client: object): number {
  return connections.get(client)?.wal.flushes ?? 0
}

export interface DirectSqlite {
  /** a prepared statement, prepared once per connection */
  statement(sql: string): Statement
}

/**
 * Runs fn in one BEGIN IMMEDIATE … COMMIT on the client's connection (rolled back if fn throws; the
 * caller awaits committedToDisk before reporting it done), or
 * returns undefined without running it when there is no such connection to use now: a PostgreSQL
 * client or a transaction client, a client that has not connected yet, or a connection that a
 * transaction holds (the caller then goes Prisma's way, which waits its turn).
 */
export function inDirectSqliteTransaction<T>(db: object, fn: (direct: DirectSqlite) => T): { result: T } | undefined {
  const connection = connections.get(db)
  if (!connection || !connection.lock.free || connection.database.inTransaction || !connection.database.open) return undefined
  return { result: connection.transaction.immediate(fn) as T }
}
