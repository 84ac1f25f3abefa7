// A full disk, as each layer reports it: better-sqlite3 (SQLITE_FULL), Prisma's SQLite adapter (the
// driver's code as originalCode, in the cause of a DriverAdapterError inside a transaction, in
// meta.driverAdapterError outside one), PostgreSQL (SQLSTATE 53100) and node's fs (ENOSPC, EDQUOT). Writes are refused while it lasts; the log says so once per interval, not once per write.
import { TendrilError } from './errors.ts'
import type { Logger } from './log.ts'

const DISK_FULL_CODES = new Set(['SQLITE_FULL', 'ENOSPC', 'EDQUOT', '53100'])
const LOG_EVERY_MS = 10_000

/** Whether err (or what it wraps) says the disk or the database is full. */
export function isDiskFull(err: unknown): boolean {
  for (let e = err as ErrorShape | undefined, depth = 0; e && depth < 5; e = e.cause as ErrorShape, depth++) {
    if (e instanceof TendrilError) return e.code === 'disk_full'
    const adapter = e.meta?.driverAdapterError?.cause
    const codes = [e.code, e.originalCode, adapter?.originalCode, adapter?.code]
    if (codes.some((c) => typeof c === 'string' && DISK_FULL_CODES.has(c))) return true
  }
  return false
}

interface ErrorShape {
  code?: unknown
  originalCode?: unknown
  cause?: unknown
  meta?: { driverAdapterError?: { cause?: { originalCode?: unknown; code?: unknown } } }
}

/** per logger and door: when the last line was written, and refusals since */
const lastLines = new WeakMap<Logger, Map<string, { at: number; refused: number }>>()

/**
 * If err is a full disk, logs "the disk is full" (at most once per 10 s per door, e.g. "rest" or
 * "mqtt", with how many writes it refused since) and returns true; otherwise logs nothing, returns false.
 */
export function reportDiskFull(log: Logger, err: unknown, door: string, detail: Record<string, unknown> = {}): boolean {
  if (!isDiskFull(err)) return false
  const doors = lastLines.get(log) ?? new Map<string, { at: number; refused: number }>()
  lastLines.set(log, doors)
  const state = doors.get(door) ?? { at: -Infinity, refused: 0 }
  doors.set(door, state)
  state.refused++
  const now = Date.now()
  if (now - state.at < LOG_EVERY_MS) return true
  const reason = (err as Error)?.message?.split('\n').at(-1)
  log.error({ door, ...detail, refusedSinceLastLine: state.refused, reason }, 'the disk is full: writes are refused')
  state.at = now
  state.refused = 0
  return true
}
