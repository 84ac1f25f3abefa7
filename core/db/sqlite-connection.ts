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
// flushed), and the transports acknowledge a write (a 200, a PUBACK) only after committedToDisk: an
// fdatasync of the WAL file on libuv's threadpool, shared by every commit made before it started. So
// an acknowledged write is on disk as with synchronous=FULL, but no fsync holds the event loop, and
// concurrent writers share one (a group commit). `--sqlite-synchronous normal` skips that wait.
//
// Direct: better-sqlite3 is synchronous, so a transaction run in one go (BEGIN IMMEDIATE …
// COMMIT without an await) cannot interleave with anything. The few hot paths (a controller's
// single value, the message history) run so with prepared statements when the connection is free,
// skipping Prisma's per-call cost (interpreting the query, preparing every statement afresh).
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
  /** commits made so far on the connection, and how many of them the last finished flush covered */
  commits = 0
  #flushed = 0
  /** the commits the running flush covers (-1 until it has started) */
  #runningUpTo = -1
  #file: string
  #handle: Promise<FileHandle | null> | undefined
  #running: Promise<void> | undefined
  #next: Promise<void> | undefined
  constructor(file: string) {
    this.#file = file
  }
  sync(): Promise<void> {
    if (this.#flushed >= this.commits) return Promise.resolve() // nothing new since the last flush
    if (this.#running && this.#runningUpTo >= this.commits) return this.#running
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
    // opened once, lazily: the WAL exists from the first commit on, and keeps its inode (started over, never removed)
    // while the server runs
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
    const upTo = (this.#runningUpTo = this.commits)
    try {
      await handle.datasync()
    } finally {
      this.#runningUpTo = -1
    }
    this.#flushed = Math.max(this.#flushed, upTo)
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
  transaction: ((fn: (direct: DirectSqlite) => unknown) => unknown) & {
    immediate(fn: (direct: DirectSqlite) => unknown): unknown
  }
}

const connections = new WeakMap<object, Connection>()
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
  const connection: Connection = {
    database,
    lock,
    wal: new WalSync(`${database.name}-wal`),
    syncCommits: commitSync.get(client) ?? true,
    direct,
    transaction,
  }
  connections.set(client, connection)
  const committed = <T>(result: T): T => {
    connection.wal.commits++
    return result
  }
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
  // a statement outside a transaction commits on its own (a read commits nothing)
  adapter.queryRaw = (query) =>
    alone(() => queryRaw(query)).then((result) => (READS.test(query.sql) ? result : committed(result)))
  adapter.executeRaw = (query) => alone(() => executeRaw(query)).then(committed)
  adapter.executeScript = (script) => alone(() => executeScript(script)).then(committed)
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
    transaction.commit = () => commit().finally(release).then(committed)
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
 * Resolves once everything the client has committed so far is on disk: what a transport awaits
 * before it acknowledges a write. At once when nothing was committed since the last flush, with
 * --sqlite-synchronous normal, and for PostgreSQL (which flushes in its own commit).
 */
export async function committedToDisk(client: object): Promise<void> {
  const connection = connections.get(client)
  if (connection?.syncCommits) await connection.wal.sync()
}

/** How many commits the client's connection made so far (0 for PostgreSQL): diagnostics, e.g. of batching. */
export function sqliteCommits(client: object): number {
  return connections.get(client)?.wal.commits ?? 0
}

/** How many times the client's WAL was flushed for commits so far (0 for PostgreSQL). */
export function sqliteWalFlushes(client: object): number {
  return connections.get(client)?.wal.flushes ?? 0
}

export interface DirectSqlite {
  /** a prepared statement, prepared once per connection */
  statement(sql: string): Statement
}

/** Whether the client's connection can be used directly now (see inDirectSqliteTransaction). */
function freeConnection(db: object): Connection | undefined {
  const connection = connections.get(db)
  if (!connection || !connection.lock.free || connection.database.inTransaction || !connection.database.open)
    return undefined
  return connection
}

/**
 * Runs fn, which only reads, on the client's connection outside any transaction (each statement sees
 * what is committed), or returns undefined under the same conditions as inDirectSqliteTransaction.
 */
export function readDirectSqlite<T>(db: object, fn: (direct: DirectSqlite) => T): { result: T } | undefined {
  const connection = freeConnection(db)
  return connection ? { result: fn(connection.direct) } : undefined
}

/**
 * Runs fn in one BEGIN IMMEDIATE … COMMIT on the client's connection (rolled back if fn throws), or
 * returns undefined without running it when there is no such connection to use now: a PostgreSQL
 * client or a transaction client, a client that has not connected yet, or a connection that a
 * transaction holds (the caller then goes Prisma's way, which waits its turn).
 */
export function inDirectSqliteTransaction<T>(db: object, fn: (direct: DirectSqlite) => T): { result: T } | undefined {
  const connection = freeConnection(db)
  if (!connection) return undefined
  const result = connection.transaction.immediate(fn) as T
  connection.wal.commits++
  return { result }
}
