// Prisma's schema engine, compiled to WebAssembly (@prisma/schema-engine-wasm), for developer tooling
// and tests: diff a live database or an empty one against prisma/schema.prisma. The server itself never
// loads this (core/db/migrate.ts applies the checked-in migration SQL); see shared/PRISMA-OFFLINE.md.
import { readdirSync, readFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as wasmGlue from '@prisma/schema-engine-wasm/schema_engine_bg'
import type { SchemaEngine } from '@prisma/schema-engine-wasm/schema_engine_bg'
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3'
import { PrismaPg } from '@prisma/adapter-pg'
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils'
import type {
  ErrorRegistry,
  SqlDriverAdapter,
  SqlMigrationAwareDriverAdapterFactory,
} from '@prisma/driver-adapter-utils'
import pg from 'pg'
import { postgresSchemaText } from './postgres-schema.mjs'

export type Provider = 'sqlite' | 'postgresql'
export type { SchemaEngine }

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
export const schemaPath = join(root, 'prisma', 'schema.prisma')
export const migrationsRoot = join(root, 'prisma', 'migrations')
const noFilters = { externalTables: [], externalEnums: [] }

/** schema.prisma as written (SQLite), or the PostgreSQL variant scripts/prisma-generate.mjs derives from it. */
export function schemaTextFor(provider: Provider): string {
  const sqliteText = readFileSync(schemaPath, 'utf8')
  return provider === 'sqlite' ? sqliteText : postgresSchemaText(sqliteText)
}

let engineClass: Promise<typeof wasmGlue.SchemaEngine> | undefined

/**
 * The package is a wasm-bindgen "bundler" build (its entry imports the .wasm as an ES module, which
 * Node 20 only allows with --experimental-wasm-modules). Doing the entry's three steps by hand needs no
 * flag: instantiate the .wasm with the JS glue as its only import module, hand the exports to the glue,
 * run the start function. Once per process: the glue module holds the single instance.
 */
export function loadSchemaEngine(): Promise<typeof wasmGlue.SchemaEngine> {
  engineClass ??= (async () => {
    const gluePath = createRequire(import.meta.url).resolve('@prisma/schema-engine-wasm/schema_engine_bg')
    const bytes = await readFile(join(dirname(gluePath), 'schema_engine_bg.wasm'))
    const { instance } = await WebAssembly.instantiate(bytes, { './schema_engine_bg.js': { ...wasmGlue } })
    wasmGlue.__wbg_set_wasm(instance.exports)
    ;(instance.exports.__wbindgen_start as () => void)()
    return wasmGlue.SchemaEngine
  })()
  return engineClass
}

/**
 * The engine introspects PostgreSQL's catalogs, whose columns such as pg_constraint.contype have the
 * internal one-byte type "char" (OID 18). @prisma/adapter-pg has no column type for OID 18 and fails
 * with UnsupportedNativeDataType, which the engine reports as "Column type 'char' could not be
 * deserialized from the database". pg already returns those values as strings (pg-types has no parser
 * for 18), so relabelling the field as text (OID 25) before the adapter looks at it is all that is
 * needed. It is done in the pg.Client the adapter's pool creates (pg.Pool's `Client` option), which
 * covers plain queries, transactions and the shadow database pool alike.
 */
class CharAsTextClient extends pg.Client {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- one override takes all of query's overloads
  override query(...args: any[]): any {
    const last = args.length - 1
    const callback = args[last]
    if (typeof callback === 'function') {
      args[last] = (err: unknown, result: unknown) => callback(err, err ? result : relabelCharFields(result))
      return (super.query as (...a: unknown[]) => unknown)(...args)
    }
    const returned = (super.query as (...a: unknown[]) => unknown)(...args)
    return returned instanceof Promise ? returned.then(relabelCharFields) : returned
  }
}

const PG_CHAR_OID = 18
const PG_TEXT_OID = 25

function relabelCharFields<T>(result: T): T {
  for (const one of Array.isArray(result) ? result : [result]) {
    for (const field of (one as Partial<pg.QueryResult> | undefined)?.fields ?? []) {
      if (field.dataTypeID === PG_CHAR_OID) field.dataTypeID = PG_TEXT_OID
    }
  }
  return result
}

function adapterFactoryFor(provider: Provider, url: string): SqlMigrationAwareDriverAdapterFactory {
  if (provider === 'sqlite') return singleQuotedIndexNames(new PrismaBetterSqlite3({ url, fileMustExist: true }))
  return new PrismaPg({ connectionString: url, max: 2, Client: CharAsTextClient })
}

/**
 * The engine reads a partial index's WHERE clause with `… AND name = \"<index>\";` (the name in
 * double quotes, each escaped with a backslash): not valid SQL, and a double-quoted string besides,
 * which better-sqlite3's build (SQLITE_DQS=0) refuses. The name is passed as a parameter instead.
 */
function singleQuotedIndexNames(factory: SqlMigrationAwareDriverAdapterFactory): SqlMigrationAwareDriverAdapterFactory {
  const INDEX_SQL = /^(SELECT sql FROM sqlite_master WHERE type = 'index' AND name = )\\?"(.*?)\\?";?$/
  const fixed = <A extends SqlDriverAdapter>(adapter: A): A => {
    const queryRaw = adapter.queryRaw.bind(adapter)
    adapter.queryRaw = (query) => {
      const match = INDEX_SQL.exec(query.sql.trim())
      if (!match) return queryRaw(query)
      return queryRaw({
        ...query,
        sql: `${match[1]}?`,
        args: [match[2]],
        argTypes: [{ scalarType: 'string', arity: 'scalar' }],
      })
    }
    return adapter
  }
  return {
    provider: factory.provider,
    adapterName: factory.adapterName,
    connect: async () => fixed(await factory.connect()),
    connectToShadowDb: async () => fixed(await factory.connectToShadowDb()),
  }
}

/**
 * Wraps a factory so that every connection the engine opens (including shadow databases) can be closed
 * afterwards: freeing the engine does not dispose its adapters. Each adapter disposes at most once.
 */
function trackingConnections(factory: SqlMigrationAwareDriverAdapterFactory) {
  const open: Array<() => Promise<void>> = []
  const tracked = <A extends SqlDriverAdapter>(adapter: A): A => {
    const dispose = adapter.dispose.bind(adapter)
    let disposing: Promise<void> | undefined
    adapter.dispose = () => (disposing ??= dispose())
    open.push(adapter.dispose)
    return adapter
  }
  const wrapped: SqlMigrationAwareDriverAdapterFactory = {
    provider: factory.provider,
    adapterName: factory.adapterName,
    connect: async () => tracked(await factory.connect()),
    connectToShadowDb: async () => tracked(await factory.connectToShadowDb()),
  }
  const closeAll = async () => {
    await Promise.allSettled(open.map((dispose) => dispose()))
  }
  return { wrapped, closeAll }
}

export interface EngineOptions {
  /** Receives the engine's log lines (JSON strings). */
  log?: (line: string) => void
}

/**
 * Runs fn with an engine connected to the database at url (file:/abs/path.db or postgresql://…) and the
 * provider's schema.prisma loaded, then frees the engine and closes every connection it opened.
 */
export function withSchemaEngine<T>(
  provider: Provider,
  url: string,
  fn: (engine: SchemaEngine) => Promise<T>,
  options: EngineOptions = {},
): Promise<T> {
  return runEngine(provider, adapterFactoryFor(provider, url), fn, options)
}

async function runEngine<T>(
  provider: Provider,
  factory: SqlMigrationAwareDriverAdapterFactory,
  fn: (engine: SchemaEngine) => Promise<T>,
  options: EngineOptions = {},
): Promise<T> {
  const Engine = await loadSchemaEngine()
  const { wrapped, closeAll } = trackingConnections(factory)
  const bound = bindMigrationAwareSqlAdapterFactory(wrapped)
  try {
    const datamodels: [string, string][] = [[schemaPath, schemaTextFor(provider)]]
    const engine = await Engine.new({ datamodels }, (line: string) => options.log?.(line), bound)
    try {
      return await fn(engine)
    } finally {
      engine.free()
    }
  } catch (err) {
    throw withDriverError(err, bound.errorRegistry)
  } finally {
    await closeAll()
  }
}

/**
 * Errors thrown by the driver (e.g. "unable to open database file", ECONNREFUSED) reach the caller
 * as "External error id#N"; the original is kept in the bound factory's registry, so attach it.
 */
function withDriverError(err: unknown, registry: ErrorRegistry): unknown {
  const message = err instanceof Error ? err.message : String(err)
  const id = /External error id#(\d+)/.exec(message)?.[1]
  const cause = id === undefined ? undefined : registry.consumeError(Number(id))?.error
  if (cause === undefined) return err
  return new Error(`${message}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause })
}

/**
 * The engine answers an empty diff with a comment only ("-- This is an empty migration."). Callers get
 * '' whenever the script holds nothing but SQL comments and whitespace, and the script as the engine
 * wrote it otherwise.
 */
function scriptOrEmpty(script: string | null): string {
  const statements = (script ?? '').replace(/^\s*--.*$/gm, '').trim()
  return statements === '' ? '' : (script ?? '')
}

function schemaTarget(provider: Provider) {
  return { tag: 'schemaDatamodel' as const, files: [{ path: schemaPath, content: schemaTextFor(provider) }] }
}

/** SQL that brings the live database at url to schema.prisma; '' when they already agree. */
export async function diffDatabaseToSchema(provider: Provider, url: string): Promise<string> {
  return withSchemaEngine(provider, url, async (engine) => {
    // "schemaDatasource" = the database the engine's adapter is connected to (the wasm engine refuses "url").
    const from = {
      tag: 'schemaDatasource' as const,
      files: schemaTarget(provider).files,
      configDir: dirname(schemaPath),
    }
    const result = await engine.diff({
      from,
      to: schemaTarget(provider),
      script: true,
      exitCode: null,
      filters: noFilters,
    })
    return scriptOrEmpty(result.stdout)
  })
}

/** The full creation script for schema.prisma: what an initial migration.sql holds. Needs no database. */
export async function diffEmptyToSchema(provider: Provider): Promise<string> {
  // The engine opens a connection even for a diff that touches no database (it fails at start-up when
  // PostgreSQL is unreachable), so an in-memory SQLite adapter stands in: the script's dialect follows
  // the schema's provider, and the PostgreSQL script came out identical to one made over a live server.
  return runEngine(provider, new PrismaBetterSqlite3({ url: ':memory:' }), async (engine) => {
    const result = await engine.diff({
      from: { tag: 'empty' },
      to: schemaTarget(provider),
      script: true,
      exitCode: null,
      filters: noFilters,
    })
    return scriptOrEmpty(result.stdout)
  })
}

/** The checked-in migrations of a provider in the shape the engine's applyMigrations/diagnose take. */
export function migrationsListFor(provider: Provider, root = migrationsRoot) {
  const baseDir = join(root, provider)
  return {
    baseDir,
    lockfile: { path: 'migration_lock.toml', content: readFileSync(join(baseDir, 'migration_lock.toml'), 'utf8') },
    shadowDbInitScript: '',
    migrationDirectories: readdirSync(baseDir, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name)
      .sort()
      .map((name) => ({
        path: name,
        migrationFile: {
          path: 'migration.sql',
          content: { tag: 'ok' as const, value: readFileSync(join(baseDir, name, 'migration.sql'), 'utf8') },
        },
      })),
  }
}

/** What Prisma's own migrate would still apply to the database at url: [] when Tendril's runner already did it all. */
export async function prismaPendingMigrations(provider: Provider, url: string): Promise<string[]> {
  return withSchemaEngine(provider, url, async (engine) => {
    const result = await engine.applyMigrations({ migrationsList: migrationsListFor(provider), filters: noFilters })
    return result.appliedMigrationNames
  })
}
