// Opens a migrated Tendril core on a fresh database of either provider, for tests.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig, type Config, type DatabaseConfig } from '../../core/config.ts'
import { openCore, type Core } from '../../core/index.ts'
import { createLogger, type Logger } from '../../core/log.ts'
import { sharedPostgres } from '../harness/postgres.ts'

export const providers = ['sqlite', 'postgresql'] as const
export type Provider = (typeof providers)[number]

export interface TestDatabase {
  database: DatabaseConfig
  /** a --db URL for the CLI */
  url: string
  dataDir: string
  cleanup(): void
}

/** A fresh, empty database: a SQLite file in a private temp dir, or a new database on the shared PostgreSQL. */
export async function freshDatabase(provider: Provider): Promise<TestDatabase> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tendril-test-'))
  const url =
    provider === 'sqlite' ? `file:${join(dataDir, 'tendril.db')}` : await (await sharedPostgres()).createDatabase()
  const database = loadConfig({ flags: { db: url }, env: {} }).database
  return { database, url, dataDir, cleanup: () => rmSync(dataDir, { recursive: true, force: true }) }
}

export interface TestCore extends Core {
  cleanup(): Promise<void>
}

/** bcrypt's minimum cost keeps the suite fast; the cost itself is tested separately. The core logs
 *  nothing unless given a logger (e.g. one writing to a buffer a test reads). */
export async function openTestCore(
  provider: Provider,
  overrides: Record<string, unknown> = {},
  logger?: Logger,
): Promise<TestCore> {
  const fresh = await freshDatabase(provider)
  const config: Config = loadConfig({
    flags: { db: fresh.url, 'data-dir': fresh.dataDir, 'bcrypt-cost': 4, ...overrides },
    env: {},
  })
  const core = await openCore(config, logger ?? createLogger({ logLevel: 'silent', logFormat: 'json' }))
  return {
    ...core,
    async cleanup() {
      await core.close()
      fresh.cleanup()
    },
  }
}
