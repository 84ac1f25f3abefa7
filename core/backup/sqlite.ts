// SQLite's online backup API (better-sqlite3's db.backup) from a connection of our own, beside the
// running server. The copy is made in one step: a step reads within one transaction, and under
// steady writes a backup made in many small steps starts over after every commit, maybe forever.
// In WAL mode that read does not hold writers back.
import Database from 'better-sqlite3'
import { REFERENCES_SQL, type BlobReference, type ReferencePage } from './references.ts'

const BUSY_TIMEOUT_MS = 10_000
const ALL_PAGES = 0x7fffffff

export async function snapshotSqlite(file: string, destination: string): Promise<void> {
  const source = new Database(file, { fileMustExist: true, timeout: BUSY_TIMEOUT_MS })
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

export function openSqliteReader(file: string, options: { readonly?: boolean } = {}): SqliteReader {
  const db = new Database(file, { fileMustExist: true, readonly: options.readonly ?? false, timeout: BUSY_TIMEOUT_MS })
  const page = db.prepare(REFERENCES_SQL.sqlite)
  const one = db.prepare('SELECT 1 FROM "ResourceRevision" WHERE "blobHash" = ? LIMIT 1')
  return {
    references: async (after, limit) => page.all(after, limit) as BlobReference[],
    isReferenced: (hash) => one.get(hash) !== undefined,
    close: () => db.close(),
  }
}
