// The only way into the database. Both providers share one data model, so the SQLite client's
// types describe the PostgreSQL client too; only the driver adapter differs.
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3'
import { PrismaPg } from '@prisma/adapter-pg'
import { PrismaClient as SqliteClient, Prisma } from '../../generated/sqlite/client.ts'
import { PrismaClient as PostgresClient } from '../../generated/postgresql/client.ts'
import type { DatabaseConfig } from '../config.ts'
import { shareSqliteConnection } from './sqlite-connection.ts'
import { timeAdapter, type ObserveQuery } from './timing.ts'

export type Db = SqliteClient
/**
 * A client or an open interactive transaction: core functions that take part in a caller's transaction accept either.
 */
export type DbClient = Db | Prisma.TransactionClient
export { Prisma }
export type { Resource, User, Key } from '../../generated/sqlite/client.ts'

/** How long a SQLite writer waits for another process (e.g. an admin command beside a running server). */
const SQLITE_BUSY_TIMEOUT_MS = 10_000

const sqliteClients = new WeakSet<Db>()

/** `observe`: told how long each statement took (/metrics) */
export function openDatabase(database: DatabaseConfig, observe?: ObserveQuery): Db {
  const timing = <F extends Parameters<typeof timeAdapter>[0]>(factory: F) =>
    observe ? timeAdapter(factory, observe) : factory
  if (database.provider === 'sqlite') {
    const adapter = new PrismaBetterSqlite3({ url: database.url, timeout: SQLITE_BUSY_TIMEOUT_MS })
    // the adapter opens its one connection on the client's first query (see sqlite-connection.ts)
    const connect = adapter.connect.bind(adapter)
    adapter.connect = async () => shareSqliteConnection(client, await connect())
    const client = new SqliteClient({ adapter: timing(adapter) })
    sqliteClients.add(client)
    return client
  }
  const adapter = new PrismaPg({ connectionString: database.url, max: 10 })
  return new PostgresClient({ adapter: timing(adapter) }) as unknown as Db
}

/** Runs fn in one transaction, so a multi-step creation never leaves anything half-made. */
export function inTransaction<T>(db: Db, fn: (tx: Prisma.TransactionClient) => Promise<T>): Promise<T> {
  const sqlite = sqliteClients.has(db)
  return db.$transaction(
    async (tx) => {
      // The adapter opens SQLite transactions with a plain (deferred) BEGIN: one that reads first and
      // writes later fails at once with SQLITE_BUSY when another process wrote meanwhile, since
      // SQLite cannot upgrade a stale snapshot. A write as the first statement takes the write lock
      // up front, waiting on the busy timeout like BEGIN IMMEDIATE would.
      if (sqlite) await tx.$executeRawUnsafe('DELETE FROM "ServerSetting" WHERE 0')
      return fn(tx)
    },
    { timeout: 20_000, maxWait: SQLITE_BUSY_TIMEOUT_MS },
  )
}

/** True when err is a unique-constraint violation (Prisma P2002). */
export function isUniqueViolation(err: unknown): boolean {
  return err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002'
}
