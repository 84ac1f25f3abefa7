// Developer tool: `node --import tsx scripts/migration-diff.ts NAME` (npm run migration:diff -- NAME).
// For each provider it builds a throwaway database from the checked-in migrations, asks Prisma's schema
// engine what SQL would bring it to prisma/schema.prisma, and saves that as the next migration:
// prisma/migrations/<provider>/<UTC YYYYMMDDHHMMSS>_<NAME>/migration.sql. Review the SQL before committing.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3'
import pg from 'pg'
import { startPostgres } from '../test/harness/postgres.ts'
import { diffDatabaseToSchema, migrationsRoot, type Provider } from './schema-engine.ts'

const providers: Provider[] = ['sqlite', 'postgresql']

/**
 * Ctrl-C only raises a flag: the step under way finishes and the finally blocks stop the server and
 * remove the temp files (killing mid-step would strand a half-made server directory). A second Ctrl-C
 * exits at once.
 */
let interrupted = false

function stopIfInterrupted(): void {
  if (interrupted) throw new Error('interrupted')
}

/** The migration.sql files of a provider, oldest first (folder names start with their UTC stamp). */
function migrationScripts(provider: Provider): string[] {
  const dir = join(migrationsRoot, provider)
  if (!existsSync(dir)) return []
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(dir, entry.name, 'migration.sql')))
    .map((entry) => entry.name)
    .sort()
    .map((name) => readFileSync(join(dir, name, 'migration.sql'), 'utf8'))
}

/** Runs fn with the URL of a fresh SQLite file holding every existing migration. */
async function withMigratedSqlite<T>(fn: (url: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'tendril-migration-diff-'))
  try {
    const url = `file:${join(dir, 'migrated.db')}`
    // The adapter's executeScript is better-sqlite3's db.exec (and, unlike better-sqlite3, comes typed).
    const db = await new PrismaBetterSqlite3({ url }).connect()
    try {
      for (const sql of migrationScripts('sqlite')) await db.executeScript(sql)
    } finally {
      await db.dispose()
    }
    stopIfInterrupted()
    return await fn(url)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Runs fn with the URL of a database on a private PostgreSQL server, holding every existing migration. */
async function withMigratedPostgres<T>(fn: (url: string) => Promise<T>): Promise<T> {
  const server = await startPostgres()
  try {
    stopIfInterrupted()
    const url = await server.createDatabase()
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    try {
      for (const sql of migrationScripts('postgresql')) await client.query(sql)
    } finally {
      await client.end()
    }
    stopIfInterrupted()
    return await fn(url)
  } finally {
    await server.stop()
  }
}

function utcStamp(date: Date): string {
  return date.toISOString().replace(/\D/g, '').slice(0, 14)
}

async function main(): Promise<void> {
  const name = process.argv[2]
  if (!name || !/^[A-Za-z0-9_]+$/.test(name) || process.argv.length > 3) {
    console.error('usage: node --import tsx scripts/migration-diff.ts NAME   (NAME: letters, digits, _)')
    process.exitCode = 2
    return
  }
  const folder = `${utcStamp(new Date())}_${name}`
  for (const provider of providers) {
    stopIfInterrupted()
    const withMigrated = provider === 'sqlite' ? withMigratedSqlite : withMigratedPostgres
    const script = await withMigrated((url) => diffDatabaseToSchema(provider, url))
    if (script === '') {
      console.log(`${provider}: no changes`)
      continue
    }
    const dir = join(migrationsRoot, provider, folder)
    if (existsSync(dir)) throw new Error(`${dir} already exists`)
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, 'migration.sql'), script)
    console.log(`${provider}: wrote ${relative(process.cwd(), join(dir, 'migration.sql'))}`)
  }
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) process.exit(130)
    interrupted = true
    console.error('interrupted: cleaning up (press Ctrl-C again to quit at once)')
    // A terminal's Ctrl-C also reaches the PostgreSQL child, which then drops its connections; the
    // resulting client 'error' events must not crash the run before the cleanup is done.
    process.on('uncaughtException', () => {})
  })
}

await main().catch((err: unknown) => {
  if (!interrupted) console.error(err instanceof Error ? err.message : err)
  process.exitCode = interrupted ? 130 : 1
})
