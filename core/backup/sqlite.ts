// SQLite's online backup API (better-sqlite3's db.backup) from a connection of our own, beside the
// running server. The copy is made in one step: a step reads within one transaction, and under
// steady writes a backup made in many small steps starts over after every commit, maybe forever.
// In WAL mode that read does not hold writers back.
import { existsSync } from 'node:fs'
import Database from 'better-sqlite3'
import { notFound } from '../errors.ts'
import { REFERENCES_SQL, type BlobReference, type ReferencePage } from './references.ts'

const BUSY_TIMEOUT_MS = 10_000
const ALL_PAGES = 0x7fffffff

function open(file: string): Database.Database {
  if (!existsSync(file)) throw notFound(`no SQLite database at ${file} (set --data-dir or --db as the server has them)`)
  return new Database(file, { fileMustExist: true, timeout: BUSY_TIMEOUT_MS })
}

export async function snapshotSqlite(file: string, destination: string): Promise<void> {
  const source = open(file)
  try {
    await source.backup(destination, { progress: () => ALL_PAGES })
  } finally {
    source.close()
  }
}

export interface SqliteReader {
  references: ReferencePage
  /** whether any revision refers to the hash now */
  isReferenced(hash: string): boolean
  close(): void
}

export function openSqliteReader(file: string): SqliteReader {
  const db = open(file)
  const page = db.prepare(REFERENCES_SQL.sqlite)
  const one = db.prepare('SELECT 1 FROM "ResourceRevision" WHERE "blobHash" = ? LIMIT 1')
  return {
    references: async (after, limit) => page.all(after, limit) as BlobReference[],
    isReferenced: (hash) => one.get(hash) !== undefined,
    close: () => db.close(),
  }
}
