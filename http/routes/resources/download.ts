// Sending file bytes and folder zips. Large revisions stream from the blob store (verified as they
// go: a corrupt blob aborts the response rather than completing it), never buffered whole.
import { once } from 'node:events'
import { extname } from 'node:path'
import { Transform, type Readable } from 'node:stream'
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

export async function sendFileRevision(
  core: Core,
  res: Response,
  file: Resource,
  revision: (RevisionContent & { id: number }) | null,
  download: boolean,
) {
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
  await streamBody(core, res, body, { fileId: file.id }, 'file download')
}

/**
 * Streams a body that is already under way into the response. A failure midway (the client hung up,
 * a blob turned out corrupt, a database page failed) ends only this response: it is logged and the
 * connection closed, so the client sees a cut-off body, never a complete-looking one, and the
 * route's error handling (which can no longer answer) never sees it.
 */
export async function streamBody(
  core: Core,
  res: Response,
  body: Readable,
  context: Record<string, unknown>,
  what: string,
): Promise<void> {
  try {
    await pipeline(body, holdLastChunk(), res)
  } catch (err) {
    cutOff(core, res, err, context, what)
  }
}

const CLIENT_GONE = new Set(['ERR_STREAM_PREMATURE_CLOSE', 'ECONNRESET', 'EPIPE'])

function cutOff(core: Core, res: Response, err: unknown, context: Record<string, unknown>, what: string): void {
  // a client that hangs up is routine; anything else is the server's own failure
  if (CLIENT_GONE.has((err as { code?: string })?.code ?? ''))
    core.log.info(context, `${what} ended early: the client went away`)
  else core.log.warn({ err, ...context }, `${what} aborted`)
  res.destroy()
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

/**
 * A zip of the entries, streamed: the archive is filled one file at a time while the response
 * drains it. Whichever side fails first (the client hangs up, a blob is missing or corrupt) stops
 * the other, so neither waits forever and no failure is left unhandled.
 */
export async function sendZip(core: Core, res: Response, folder: Resource, entries: DownloadEntry[]) {
  res.set('content-type', 'application/zip')
  res.set('content-disposition', attachment(`${folder.name}_files.zip`))
  const archive = new ZipArchive({ zlib: { level: 6 } })
  // every error reaches us through the pipeline or the entry wait; this keeps a late one from being thrown
  archive.on('error', () => {})
  const stop = new AbortController()
  let cause: unknown
  const fail = (err: unknown) => {
    cause ??= err
    stop.abort(err)
  }
  let reading: Readable | undefined
  const sent = pipeline(archive, res, { signal: stop.signal }).catch(fail)
  const filled = (async () => {
    for (const entry of entries) {
      // one file open at a time: the next is read only when the archive has taken the previous
      const revision =
        entry.revisionId === null
          ? null
          : await core.db.resourceRevision.findUnique({ where: { id: entry.revisionId } })
      stop.signal.throwIfAborted()
      const body = revision ? await readRevision(core, core.blobs, revision) : Buffer.alloc(0)
      if (!Buffer.isBuffer(body)) {
        reading = body
        // the archiver may never report a source that fails (a corrupt blob): it is watched here
        body.once('error', fail)
      }
      const added = once(archive, 'entry', { signal: stop.signal })
      archive.append(body, { name: entry.name, date: entry.modifiedAt })
      await added
      reading = undefined
    }
    // the archive's end is the pipeline's: its own promise is not needed
    archive.finalize().catch(() => {})
  })().catch(fail)
  await Promise.all([sent, filled])
  if (cause === undefined) return
  reading?.destroy() // the file being read when it stopped: its descriptor is closed
  archive.abort()
  cutOff(core, res, cause, { folderId: folder.id }, 'zip download')
}
