// Database latency for /metrics: each statement through Prisma's driver adapter, timed where the
// adapter runs it (SQLite's direct history inserts, db/sqlite-connection.ts, are not included).
import type { SqlDriverAdapter, SqlDriverAdapterFactory, Transaction } from '@prisma/driver-adapter-utils'

export type ObserveQuery = (kind: 'query' | 'execute' | 'transaction', seconds: number) => void

function timed<A extends unknown[], T>(
  run: (...args: A) => Promise<T>,
  kind: 'query' | 'execute' | 'transaction',
  observe: ObserveQuery,
) {
  return (...args: A): Promise<T> => {
    const started = performance.now()
    return run(...args).finally(() => observe(kind, (performance.now() - started) / 1000))
  }
}

function timeStatements<C extends SqlDriverAdapter | Transaction>(
  connection: C,
  kind: 'query' | 'execute' | 'transaction',
  observe: ObserveQuery,
): C {
  connection.queryRaw = timed(connection.queryRaw.bind(connection), kind === 'transaction' ? kind : 'query', observe)
  connection.executeRaw = timed(
    connection.executeRaw.bind(connection),
    kind === 'transaction' ? kind : 'execute',
    observe,
  )
  return connection
}

/** Wraps the factory's connect so that the connection (and each transaction's statements) is timed. */
export function timeAdapter<F extends SqlDriverAdapterFactory>(factory: F, observe: ObserveQuery): F {
  const connect = factory.connect.bind(factory)
  factory.connect = async () => {
    const adapter = timeStatements(await connect(), 'query', observe)
    const startTransaction = adapter.startTransaction.bind(adapter)
    adapter.startTransaction = async (isolationLevel) =>
      timeStatements(await startTransaction(isolationLevel), 'transaction', observe)
    return adapter
  }
  return factory
}
