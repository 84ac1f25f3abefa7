// Sending file bytes and folder zips. Large revisions stream from the blob store (verified as they
// go: a corrupt blob aborts the response rather than completing it), never buffered whole.
import { once } from 'node:events'
import { extname } from 'node:path'
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { Response } from 'express'
import { ZipArchive } from 'archiver'
import type { Core } from '../../../core/index.ts'
import type { Resource } from '../../../core/db/index.ts'
import type { DownloadEntry } from '../../../core/resources/downloads.ts'
import { readRevision, type RevisionContent } from '../../../core/resources/revisions.ts'

/** Types safe to serve inline from the API's origin; anything else (html, svg, js…) is a download. */
const CONTENT_TYPES: Record<string, string> = {
  '.txt': 'text/plain; charset=utf-8',
  '.log': 'text/plain; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.csv': 'text/csv; charset=utf-8',
  '.json': 'application/json',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.pdf': 'application/pdf',
}

export const contentTypeOf = (name: string) => CONTENT_TYPES[extname(name).toLowerCase()] ?? 'application/octet-stream'

const attachment = (name: string) => `attachment; filename*=UTF-8''${encodeURIComponent(name)}`

export async function sendFileRevision(core: Core, res: Response, file: Resource, revision: (RevisionContent & { id: number }) | null, download: boolean) {
  res.set('content-type', contentTypeOf(file.name))
  // a user's file must never run as a page of this origin
  res.set('content-security-policy', "sandbox; default-src 'none'")
  if (download) res.set('content-disposition', attachment(file.name))
  if (revision) res.set('x-revision-id', String(revision.id))
  if (!revision) return void res.status(200).end()
  res.set('content-length', String(revision.size))
  if (res.req.method === 'HEAD') return void res.end() // the headers say it all; the blob stays unread
  const body = await readRevision(core, core.blobs, revision)
  if (Buffer.isBuffer(body)) return void res.end(body)
  try {
    await pipeline(body, holdLastChunk(), res)
  } catch (err) {
    core.log.warn({ err, fileId: file.id }, 'file download aborted')
    res.destroy()
  }
}

/**
 * Passes chunks on one behind, and the last only once the source ended cleanly: a blob store stream
 * reports a hash mismatch at its very end, and with Content-Length set, sending every byte first
 * would let the client take the corrupt bytes for a complete response.
 */
function holdLastChunk(): Transform {
  let held: Buffer | undefined
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      const previous = held
      held = chunk
      done(null, previous)
    },
    flush(done) {
      done(null, held)
    },
  })
}

export async function sendZip(core: Core, res: Response, folder: Resource, entries: DownloadEntry[]) {
  res.set('content-type', 'application/zip')
  res.set('content-disposition', attachment(`${folder.name}_files.zip`))
  const archive = new ZipArchive({ zlib: { level: 6 } })
  const sent = pipeline(archive, res)
  try {
    for (const entry of entries) {
      // one file open at a time: the next is read only when the archive has taken the previous
      const revision = entry.revisionId === null ? null : await core.db.resourceRevision.findUnique({ where: { id: entry.revisionId } })
      const body = revision ? await readRevision(core, core.blobs, revision) : Buffer.alloc(0)
      const added = once(archive, 'entry')
      archive.append(body, { name: entry.name, date: entry.modifiedAt })
      await added
    }
    await archive.finalize()
    await sent
  } catch (err) {
    core.log.warn({ err, folderId: folder.id }, 'zip download aborted')
    archive.abort()
    res.destroy()
  }
}
