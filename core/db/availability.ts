// A database that does not answer (stopped, restarting, out of connections), as Prisma and its
// PostgreSQL adapter report it. It is no fault of the request: REST answers 503 and MQTT refuses a
// CONNECT as "server unavailable", so clients retry; the log says so once per interval, not per request.
import { TendrilError } from '../errors.ts'
import type { Logger } from '../log.ts'

/** Driver adapter error kinds: the server could not be reached or dropped the connection. */
const AWAY_KINDS = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections'])
/** Prisma's codes: can't reach, timed out, closed the connection, no pooled connection in time. */
const AWAY_PRISMA_CODES = new Set(['P1001', 'P1002', 'P1017', 'P2024'])
/** SQLSTATE class 08 (connection exception), 57P0x (shutting down, starting up), 53300 (too many connections). */
const AWAY_SQLSTATE = /^(08|57P0|53300)/
/** node-postgres' own, for a connection that broke inside a transaction (not wrapped by Prisma). */
const PG_CONNECTION_LOST = /^(Client has encountered a connection error|Connection terminated)/
const LOG_EVERY_MS = 10_000

interface ErrorShape {
  message?: unknown
  code?: unknown
  /** a driver adapter error's cause: { kind, … } */
  kind?: unknown
  cause?: unknown
  meta?: { driverAdapterError?: { cause?: { kind?: unknown; code?: unknown; originalCode?: unknown } } }
}

/** Whether err (or what it wraps) says the database does not answer. */
export function databaseUnreachable(err: unknown): boolean {
  for (let e = err as ErrorShape | undefined, depth = 0; e && depth < 5; e = e.cause as ErrorShape, depth++) {
    if (e instanceof TendrilError) return e.code === 'unavailable'
    if (typeof e.code === 'string' && AWAY_PRISMA_CODES.has(e.code)) return true
    if (typeof e.message === 'string' && PG_CONNECTION_LOST.test(e.message)) return true
    if (typeof e.kind === 'string' && AWAY_KINDS.has(e.kind)) return true
    const adapter = e.meta?.driverAdapterError?.cause
    if (typeof adapter?.kind === 'string' && AWAY_KINDS.has(adapter.kind)) return true
    const sqlState = adapter?.kind === 'postgres' ? (adapter.code ?? adapter.originalCode) : undefined
    if (typeof sqlState === 'string' && AWAY_SQLSTATE.test(sqlState)) return true
  }
  return false
}

/**
 * For a lookup's catch: `fallback` (no access, nothing found) for what is wrong with the input, but the error itself
 * when the database does not answer, so that a value is refused, not taken for one nobody may store and acknowledged.
 */
export function unlessUnreachable<T>(fallback: T): (err: unknown) => T {
  return (err) => {
    if (databaseUnreachable(err)) throw err
    return fallback
  }
}

const lastLine = new WeakMap<Logger, { at: number; refused: number }>()

/**
 * If err says the database does not answer, logs so (at most once per 10 s per logger, with how many
 * requests were refused since) and returns true; otherwise returns false and logs nothing.
 */
export function reportUnreachable(
  log: Logger,
  err: unknown,
  door: string,
  where: Record<string, unknown> = {},
): boolean {
  if (!databaseUnreachable(err)) return false
  const state = lastLine.get(log) ?? { at: -Infinity, refused: 0 }
  lastLine.set(log, state)
  state.refused++
  const now = Date.now()
  if (now - state.at < LOG_EVERY_MS) return true
  log.warn(
    { door, ...where, refusedSinceLastLine: state.refused, reason: (err as Error)?.message?.split('\n').at(-1) },
    'the database does not answer: what needs it is refused',
  )
  state.at = now
  state.refused = 0
  return true
}
