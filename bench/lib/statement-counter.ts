// Counts the SQL statements this process sends to SQLite (better-sqlite3, whether through Prisma's
// adapter or a direct prepared statement) and to PostgreSQL (pg), by wrapping the drivers' methods:
// BEGIN and COMMIT count too. Worker threads (the WAL checkpointer) have drivers of their own.
import Database from 'better-sqlite3'
import pg from 'pg'

let statements = 0
/** the first 60 characters of each statement's SQL -> times run */
const texts = new Map<string, number>()

function textOf(self: unknown, args: unknown[]): string {
  const sql =
    (self as { source?: string }).source ??
    (typeof args[0] === 'string' ? args[0] : (args[0] as { text?: string } | undefined)?.text) ??
    '?'
  return sql.replace(/\s+/g, ' ').slice(0, 60)
}

function wrap(proto: Record<string, unknown>, names: string[]) {
  for (const name of names) {
    const original = proto[name] as (...args: unknown[]) => unknown
    proto[name] = function (this: unknown, ...args: unknown[]) {
      statements++
      const text = textOf(this, args)
      texts.set(text, (texts.get(text) ?? 0) + 1)
      return original.apply(this, args)
    }
  }
}

let installed = false
/** Starts counting (once per process). */
export function countStatements(): { read(): number; reset(): void; summary(): string } {
  if (!installed) {
    installed = true
    const probe = new Database(':memory:')
    wrap(Object.getPrototypeOf(probe.prepare('SELECT 1')), ['run', 'get', 'all', 'iterate'])
    wrap(Database.prototype as unknown as Record<string, unknown>, ['exec'])
    probe.close()
    wrap(pg.Client.prototype as unknown as Record<string, unknown>, ['query'])
  }
  return {
    read: () => statements,
    reset: () => void ((statements = 0), texts.clear()),
    summary: () =>
      [...texts]
        .sort((a, b) => b[1] - a[1])
        .map(([sql, n]) => `${n}× ${sql}`)
        .join('\n'),
  }
}
