// The one SQLite connection a Prisma client holds (@prisma/adapter-better-sqlite3 opens one per
// client), made safe to share, and usable directly by hot paths.
//
// Serialized: the adapter runs an interactive transaction's BEGIN … COMMIT across awaits, yet runs
// every statement from outside the transaction on the same connection meanwhile — inside it. A
// write made then was rolled back with someone else's failed transaction, and a read saw what that
// transaction had not committed (test/integration/sqlite-connection.test.ts). Here a transaction
// holds the connection until it ends, and other statements wait for it, in arrival order.
//
// Direct: better-sqlite3 is synchronous, so a transaction run in one go (BEGIN IMMEDIATE …
// COMMIT without an await) cannot interleave with anything. The few hot paths (a controller's
// single value, the message history) run so with prepared statements when the connection is free,
// skipping Prisma's per-call cost (interpreting the query, preparing every statement afresh).
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

type SqlDriverAdapter = Awaited<ReturnType<PrismaBetterSqlite3['connect']>>
type Transaction = Awaited<ReturnType<SqlDriverAdapter['startTransaction']>>

interface Connection {
  database: Database
  lock: ConnectionLock
  direct: DirectSqlite
  /** BEGIN IMMEDIATE, the function, COMMIT (or ROLLBACK if it throws); made once, it is not cheap */
  transaction: ((fn: (direct: DirectSqlite) => unknown) => unknown) & { immediate(fn: (direct: DirectSqlite) => unknown): unknown }
}

const connections = new WeakMap<object, Connection>()

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
  connections.set(client, { database, lock, direct, transaction })
  const queryRaw = adapter.queryRaw.bind(adapter)
  const executeRaw = adapter.executeRaw.bind(adapter)
  const executeScript = adapter.executeScript.bind(adapter)
  const startTransaction = adapter.startTransaction.bind(adapter)
  const alone = async <T>(run: () => Promise<T>): Promise<T> => {
    if (lock.free) return run() // the adapter runs a statement synchronously: nothing can slip in
    const release = await lock.acquire()
    try {
      return await run()
    } finally {
      release()
    }
  }
  adapter.queryRaw = (query) => alone(() => queryRaw(query))
  adapter.executeRaw = (query) => alone(() => executeRaw(query))
  adapter.executeScript = (script) => alone(() => executeScript(script))
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
    transaction.commit = () => commit().finally(release)
    transaction.rollback = () => rollback().finally(release)
    return transaction
  }
  return adapter
}

export interface DirectSqlite {
  /** a prepared statement, prepared once per connection */
  statement(sql: string): Statement
}

/**
 * Runs fn in one BEGIN IMMEDIATE … COMMIT on the client's connection (rolled back if fn throws), or
 * returns undefined without running it when there is no such connection to use now: a PostgreSQL
 * client or a transaction client, a client that has not connected yet, or a connection that a
 * transaction holds (the caller then goes Prisma's way, which waits its turn).
 */
export function inDirectSqliteTransaction<T>(db: object, fn: (direct: DirectSqlite) => T): { result: T } | undefined {
  const connection = connections.get(db)
  if (!connection || !connection.lock.free || connection.database.inTransaction || !connection.database.open) return undefined
  return { result: connection.transaction.immediate(fn) as T }
}
