// PostgreSQL backups run pg_dump and pg_restore (the PostgreSQL client, same major version as the
// server or newer). The dump and the list of blobs come from one exported snapshot, so the blobs
// copied are exactly those the dump refers to.
import { spawn } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'
import pg from 'pg'
import { TendrilError } from '../errors.ts'
import { REFERENCES_SQL, type BlobReference, type ReferencePage } from './references.ts'

export type PgTool = 'pg_dump' | 'pg_restore'

/** The tool in binDir, else on PATH; a clear refusal when neither has it. */
export function findPgTool(tool: PgTool, binDir?: string): string {
  const dirs = binDir ? [binDir] : (process.env.PATH ?? '').split(delimiter).filter(Boolean)
  for (const dir of dirs) {
    const path = join(dir, tool)
    try {
      accessSync(path, constants.X_OK)
      return path
    } catch {
      // not here
    }
  }
  const where = binDir ? `in ${binDir}` : 'on PATH'
  throw new TendrilError(
    'not_found',
    `${tool} not found ${where}: install the PostgreSQL client (the server's major version or newer) or pass --pg-bin DIR; see "Backups" in docs/operations.md`,
  )
}

/** libpq's environment for the URL: the password stays out of the command line (and ps). */
function libpqEnv(url: string): NodeJS.ProcessEnv {
  const u = new URL(url)
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PGHOST: u.searchParams.get('host') ?? decodeURIComponent(u.hostname),
    PGPORT: u.port || '5432',
    PGDATABASE: decodeURIComponent(u.pathname.slice(1)),
  }
  if (u.username) env.PGUSER = decodeURIComponent(u.username)
  if (u.password) env.PGPASSWORD = decodeURIComponent(u.password)
  const sslmode = u.searchParams.get('sslmode')
  if (sslmode) env.PGSSLMODE = sslmode
  return env
}

function runTool(path: string, args: string[], url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(path, args, { env: libpqEnv(url), stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`${path} exited ${code}: ${stderr.trim()}`)),
    )
  })
}

async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url })
  client.on('error', () => {}) // a dropped connection fails the query in progress
  await client.connect()
  return client
}

export interface PostgresReader {
  references: ReferencePage
  isReferenced(hash: string): Promise<boolean>
  close(): Promise<void>
}

export async function openPostgresReader(url: string): Promise<PostgresReader> {
  const client = await connect(url)
  return {
    references: async (after, limit) =>
      (await client.query<BlobReference>(REFERENCES_SQL.postgresql, [after, limit])).rows,
    isReferenced: async (hash) =>
      (await client.query('SELECT 1 FROM "ResourceRevision" WHERE "blobHash" = $1 LIMIT 1', [hash])).rowCount! > 0,
    close: () => client.end(),
  }
}

/**
 * Runs pg_dump into `dumpFile` while `withReferences` reads the blob list, both in one snapshot
 * (REPEATABLE READ, exported to pg_dump), and resolves once both are done.
 */
export async function dumpPostgres(
  url: string,
  dumpFile: string,
  pgDump: string,
  withReferences: (page: ReferencePage) => Promise<void>,
): Promise<void> {
  const client = await connect(url)
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
    const { rows } = await client.query<{ snapshot: string }>('SELECT pg_export_snapshot() AS snapshot')
    const dumped = runTool(
      pgDump,
      ['--format=custom', '--no-owner', '--no-privileges', `--snapshot=${rows[0]!.snapshot}`, `--file=${dumpFile}`],
      url,
    )
    const listed = withReferences(
      async (after, limit) => (await client.query<BlobReference>(REFERENCES_SQL.postgresql, [after, limit])).rows,
    )
    // the snapshot must outlive both; the first failure is the one reported
    const [dump, list] = await Promise.allSettled([dumped, listed])
    if (list.status === 'rejected') throw list.reason
    if (dump.status === 'rejected') throw dump.reason
    await client.query('COMMIT')
  } finally {
    await client.end()
  }
}

export async function restorePostgres(url: string, dumpFile: string, pgRestore: string): Promise<void> {
  const database = decodeURIComponent(new URL(url).pathname.slice(1))
  await runTool(
    pgRestore,
    ['--no-owner', '--no-privileges', '--exit-on-error', '--single-transaction', `--dbname=${database}`, dumpFile],
    url,
  )
}

/** Tables outside the system schemas: a restore goes into a database without any. */
export async function postgresTableCount(url: string): Promise<number> {
  const client = await connect(url)
  try {
    const { rows } = await client.query<{ n: string }>(
      "SELECT count(*) AS n FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema')",
    )
    return Number(rows[0]!.n)
  } finally {
    await client.end()
  }
}
