// Which files a folder download (download=1&ids=…, rhizo-server batch_download) contains: the
// named children of the folder, files as they are and folders with all their readable files, each
// at its latest revision. The total is known before any byte is sent, so an oversized download is
// refused up front instead of being cut off midway.
import type { DbClient, Resource } from '../db/index.ts'
import { invalid, notFound, tooLarge } from '../errors.ts'
import { listFolder } from './listing.ts'
import type { Principal } from './permissions.ts'
import { canRead, effectiveLevel } from './permissions.ts'
import { ResourceType } from './types.ts'

export interface DownloadEntry {
  /** path inside the zip, e.g. "data/2024/run-1.csv" */
  name: string
  revisionId: number | null
  size: number
  modifiedAt: Date
}

const MAX_IDS = 1000

export function parseIds(value: unknown): number[] {
  const ids = String(value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  if (ids.length === 0 || ids.length > MAX_IDS)
    throw invalid(`ids must list 1 to ${MAX_IDS} resource ids, separated by commas`)
  return ids.map((id) => {
    if (!/^\d{1,10}$/.test(id) || Number(id) > 2 ** 31 - 1) throw invalid(`${JSON.stringify(id)} is not a resource id`)
    return Number(id)
  })
}

export async function collectDownload(
  db: DbClient,
  principal: Principal,
  folder: Resource,
  folderPath: string,
  ids: number[],
  maxBytes: number,
): Promise<DownloadEntry[]> {
  const children = await db.resource.findMany({ where: { id: { in: ids }, parentId: folder.id, deleted: false } })
  const entries: DownloadEntry[] = []
  for (const id of ids) {
    const child = children.find((c) => c.id === id)
    // a child the caller cannot read is as absent as one that is not there
    if (!child || (Array.isArray(child.permissions) && !canRead(effectiveLevel(principal, [child]))))
      throw notFound(`resource ${id} not found in ${folderPath}`)
    if (child.type === ResourceType.file) entries.push(await entryFor(db, child, zipEntryName([child.name])))
    else if (child.type === ResourceType.basicFolder) {
      const inside = await listFolder(db, principal, child, child.name, { recursive: true, type: ResourceType.file })
      const files = await db.resource.findMany({ where: { id: { in: inside.map((f) => f.id) } } })
      const byId = new Map(files.map((f) => [f.id, f]))
      for (const f of inside)
        entries.push(await entryFor(db, byId.get(f.id)!, zipEntryName(String(f.fullPath).split('/'))))
    }
    const total = entries.reduce((sum, e) => sum + e.size, 0)
    if (total > maxBytes) throw tooLarge(`the download would hold more than ${maxBytes} bytes; choose fewer files`)
  }
  return entries
}

/**
 * A zip entry's name from resource names (which never hold "/"), each made harmless on its own: a "\"
 * or ":" in a name made before they were refused would be a separator or drive to whoever extracts it.
 */
export function zipEntryName(names: string[]): string {
  return names
    .map((name) => name.replace(/[\\:]/g, '_'))
    .map((name) => (name === '' || name === '.' || name === '..' ? '_' : name))
    .join('/')
}

async function entryFor(db: DbClient, file: Resource, name: string): Promise<DownloadEntry> {
  const revision =
    file.lastRevisionId === null
      ? null
      : await db.resourceRevision.findUnique({
          where: { id: file.lastRevisionId },
          select: { size: true, timestamp: true },
        })
  return {
    name,
    revisionId: revision ? file.lastRevisionId : null,
    size: revision?.size ?? 0,
    modifiedAt: revision?.timestamp ?? file.createdAt,
  }
}
