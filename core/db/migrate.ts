// Applies the checked-in Prisma migrations without Prisma's native schema engine (which these
// machines cannot download; see shared/PRISMA-OFFLINE.md). Each pending migration runs in its own
// transaction and is recorded in _prisma_migrations exactly as `prisma migrate deploy` records it,
// so either tool can take over from the other.
import { createHash, randomUUID } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import pg from 'pg'
import { redactUrl, type DatabaseConfig } from '../config.ts'

export const migrationsRoot = fileURLToPath(new URL('../../prisma/migrations/', import.meta.url))

export interface Migration {
  name: string
  sql: string
  checksum: string
}

export interface MigrationResult {
  applied: string[]
  /** migrations recorded in the database that this version of Tendril does not ship (a newer version ran) */
  unknown: string[]
}

/** Prisma takes a session-level advisory lock with this id while it migrates PostgreSQL. */
const PRISMA_ADVISORY_LOCK_ID = 72707369

const CONNECT_TIMEOUT_MS = 10_000

const migrationsTable = {
  sqlite: `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    TEXT PRIMARY KEY NOT NULL,
    "checksum"              TEXT NOT NULL,
    "finished_at"           DATETIME,
    "migration_name"        TEXT NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        DATETIME,
    "started_at"            DATETIME NOT NULL DEFAULT current_timestamp,
    "applied_steps_count"   INTEGER UNSIGNED NOT NULL DEFAULT 0
)`,
  postgresql: `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`,
}

export function readMigrations(provider: DatabaseConfig['provider'], root = migrationsRoot): Migration[] {
  const dir = join(root, provider)
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(dir, entry.name, 'migration.sql')))
    .map((entry) => entry.name)
    .sort()
    .map((name) => {
      const sql = readFileSync(join(dir, name, 'migration.sql'), 'utf8')
      return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') }
    })
}

interface AppliedRow {
  migration_name: string
  checksum: string
  finished_at: unknown
  rolled_back_at: unknown
}

/** Decides what to run, refusing to continue over a migration that Prisma left failed. */
function plan(migrations: Migration[], rows: AppliedRow[]): { pending: Migration[]; unknown: string[] } {
  const done = new Set<string>()
  for (const row of rows) {
    if (row.rolled_back_at) continue
    if (!row.finished_at) {
      throw new Error(
        `migration ${row.migration_name} failed earlier and was not resolved; fix the database, then run \`prisma migrate resolve\``,
      )
    }
    done.add(row.migration_name)
  }
  const known = new Set(migrations.map((m) => m.name))
  return { pending: migrations.filter((m) => !done.has(m.name)), unknown: [...done].filter((name) => !known.has(name)) }
}

function migrateSqlite(file: string, migrations: Migration[]): MigrationResult {
  mkdirSync(dirname(file), { recursive: true })
  const conn = new Database(file, { timeout: 10_000 })
  try {
    conn.pragma('journal_mode = WAL') // readers never block the writer; kept by the file from now on
    conn.exec(migrationsTable.sqlite)
    // Prisma rebuilds a SQLite table to change a column (create new, copy, DROP old, rename) and relies
    // on `PRAGMA foreign_keys=OFF`, which is a no-op inside a transaction: with keys on, dropping the old
    // table would fire ON DELETE CASCADE on the rows that point at it. So keys go off for the whole run
    // (the pragma must precede BEGIN) and integrity is checked before the commit instead.
    conn.pragma('foreign_keys = OFF')
    // IMMEDIATE takes the write lock up front, so two processes starting together migrate one at a time.
    const run = conn.transaction(() => {
      const rows = conn
        .prepare('SELECT migration_name, checksum, finished_at, rolled_back_at FROM _prisma_migrations')
        .all() as AppliedRow[]
      const { pending, unknown } = plan(migrations, rows)
      const record = conn.prepare(
        'INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count) VALUES (?, ?, ?, ?, NULL, NULL, ?, 1)',
      )
      for (const m of pending) {
        const started = Date.now()
        conn.exec(m.sql)
        record.run(randomUUID(), m.checksum, Date.now(), m.name, started)
      }
      const broken = conn.pragma('foreign_key_check') as unknown[]
      if (broken.length)
        throw new Error(`migrations would leave ${broken.length} rows with dangling foreign keys; nothing was applied`)
      return { applied: pending.map((m) => m.name), unknown }
    })
    return run.immediate()
  } finally {
    conn.close()
  }
}

async function migratePostgres(url: string, migrations: Migration[]): Promise<MigrationResult> {
  // a host that never answers fails the start instead of holding it (pg waits forever by default)
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS })
  await client.connect().catch((err: Error) => {
    throw new Error(`cannot reach PostgreSQL at ${redactUrl(url)}: ${err.message}`)
  })
  try {
    await client.query('SELECT pg_advisory_lock($1)', [PRISMA_ADVISORY_LOCK_ID])
    await client.query(migrationsTable.postgresql)
    const { rows } = await client.query<AppliedRow>(
      'SELECT migration_name, checksum, finished_at, rolled_back_at FROM _prisma_migrations',
    )
    const { pending, unknown } = plan(migrations, rows)
    for (const m of pending) {
      await client.query('BEGIN')
      try {
        const started = new Date()
        await client.query(m.sql)
        await client.query(
          'INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count) VALUES ($1, $2, now(), $3, NULL, NULL, $4, 1)',
          [randomUUID(), m.checksum, m.name, started],
        )
        await client.query('COMMIT')
      } catch (err) {
        await client.query('ROLLBACK')
        throw new Error(`migration ${m.name} failed: ${(err as Error).message}`, { cause: err })
      }
    }
    return { applied: pending.map((m) => m.name), unknown }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [PRISMA_ADVISORY_LOCK_ID]).catch(() => {})
    await client.end()
  }
}

/** Brings the database up to the migrations this version ships. Safe to call on every start. */
export async function migrate(database: DatabaseConfig, root = migrationsRoot): Promise<MigrationResult> {
  const migrations = readMigrations(database.provider, root)
  if (database.provider === 'sqlite') return migrateSqlite(database.file, migrations)
  return migratePostgres(database.url, migrations)
}
