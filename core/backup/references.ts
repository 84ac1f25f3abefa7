// The blobs a database refers to: every distinct ResourceRevision.blobHash, read a page at a time
// (keyset order on the partial blobHash index), so a database of millions of revisions streams.
export interface BlobReference {
  hash: string
  /** the revision's size: what the blob's bytes must add up to */
  size: number
}

/** The next `limit` references after `after` in hash order, from whatever connection holds the snapshot. */
export type ReferencePage = (after: string, limit: number) => Promise<BlobReference[]>

const SELECT =
  'SELECT "blobHash" AS hash, MAX("size") AS size FROM "ResourceRevision" WHERE "blobHash" IS NOT NULL AND "blobHash" >'
const GROUPED = 'GROUP BY "blobHash" ORDER BY "blobHash" LIMIT'
export const REFERENCES_SQL = {
  sqlite: `${SELECT} ? ${GROUPED} ?`,
  postgresql: `${SELECT} $1 ${GROUPED} $2`,
}

export async function* blobReferences(page: ReferencePage, pageSize = 1000): AsyncGenerator<BlobReference> {
  let after = ''
  for (;;) {
    const rows = await page(after, pageSize)
    for (const row of rows) yield { hash: row.hash, size: Number(row.size) }
    if (rows.length < pageSize) return
    after = rows.at(-1)!.hash
  }
}
