// multipart/form-data uploads, streamed with busboy straight into the revision store (inline or
// blob), never held whole in memory. The declared Content-Length is checked before anything is read;
// bytes are counted as they stream, and past the limit the upload is abandoned (413) and the
// connection closed rather than drained.
import type { Readable } from 'node:stream'
import type { Request, Response } from 'express'
import busboy from 'busboy'
import type { Core } from '../../../core/index.ts'
import { invalid, tooLarge } from '../../../core/errors.ts'
import { discardContent, receiveContent } from '../../../core/resources/files.ts'
import type { RevisionContent } from '../../../core/resources/revisions.ts'

/** Room for the multipart framing and the small fields beside the file. */
const MULTIPART_OVERHEAD = 64 * 1024
const MAX_FIELD_BYTES = 64 * 1024

export interface Multipart {
  fields: Record<string, string>
  /** content: stored as it arrived; held: the bytes of a file that came before access could be checked, not stored */
  file?: { filename: string; content?: RevisionContent; held?: Buffer }
}

export const isMultipart = (req: Request) =>
  (req.headers['content-type'] ?? '').toLowerCase().startsWith('multipart/form-data')

/** Refuses a body whose declared length is over the limit before reading any of it. */
export function checkDeclaredLength(req: Request, res: Response, maxBytes: number): void {
  const declared = Number(req.headers['content-length'])
  if (Number.isFinite(declared) && declared > maxBytes + MULTIPART_OVERHEAD) {
    res.set('connection', 'close')
    throw tooLarge(`the upload is larger than the limit of ${maxBytes} bytes`)
  }
}

/** A file part sent before the fields that say where it goes is held in memory up to this, then refused. */
export const HELD_FILE_BYTES = 64 * 1024

/**
 * Parses a multipart body: small fields, and at most one file. With no access check, access was
 * checked before (the URL names the target) and the file is stored as it arrives. Otherwise the check
 * runs when the file part starts, with the fields seen so far: true, it passed and the file is stored
 * as it arrives; false, those fields cannot tell yet, and the file is held (up to HELD_FILE_BYTES) for
 * the route to check and store once every field is in. Nothing is stored before access is known.
 */
export async function readMultipart(
  core: Core,
  req: Request,
  res: Response,
  maxBytes: number,
  checkAccess?: (fields: Record<string, string>) => Promise<boolean>,
): Promise<Multipart> {
  const parsed = await parseMultipart(req, res, maxBytes, {
    async receive(stream, part, fields) {
      const filename = part.filename ?? part.name
      if (checkAccess && !(await checkAccess({ ...fields }))) {
        return {
          filename,
          held: await bytesOf(stream, HELD_FILE_BYTES, () =>
            invalid(`send the path field before a file larger than ${HELD_FILE_BYTES} bytes`),
          ),
        }
      }
      return { filename, content: await receiveContent(core, core.blobs, stream, maxBytes) }
    },
    discard: (received) => discardContent(core, core.blobs, received.content),
  })
  return { fields: parsed.fields, file: parsed.file }
}

/** The parts of a multipart sequence value: its fields, and the file part's bytes when there is one. */
export interface MultipartValue {
  fields: Record<string, string>
  /** the bytes of the file part, named one of VALUE_PARTS */
  bytes?: Buffer
}

/** Names a file part may have to be taken as a sequence's value (as the form fields that carry one). */
const VALUE_PARTS = ['file', 'data', 'value']

/** Reads a multipart sequence value: fields, and a file part (up to maxBytes) kept in memory byte for byte. */
export async function readMultipartValue(req: Request, res: Response, maxBytes: number): Promise<MultipartValue> {
  const parsed = await parseMultipart(req, res, maxBytes, {
    async receive(stream, part) {
      if (!VALUE_PARTS.includes(part.name)) throw invalid(`send the value as a part named ${VALUE_PARTS.join(', ')}`)
      return bytesOf(stream, maxBytes)
    },
    discard: async () => {},
  })
  return { fields: parsed.fields, bytes: parsed.file }
}

const uploadTooLarge = (maxBytes: number) => () => tooLarge(`the upload is larger than the limit of ${maxBytes} bytes`)

async function bytesOf(stream: Readable, maxBytes: number, refusal = uploadTooLarge(maxBytes)): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of stream) {
    size += (chunk as Buffer).length
    if (size > maxBytes) throw refusal()
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks)
}

interface FilePart {
  /** the part's field name */
  name: string
  filename?: string
}

interface FileReceiver<T> {
  /** takes the file part's stream (reading it to its end, or failing); fields holds those seen so far */
  receive(stream: Readable, part: FilePart, fields: Record<string, string>): Promise<T>
  /** undoes a received file when the request fails after it */
  discard(received: T): Promise<void>
}

async function parseMultipart<T>(
  req: Request,
  res: Response,
  maxBytes: number,
  receiver: FileReceiver<T>,
): Promise<{ fields: Record<string, string>; file?: T }> {
  checkDeclaredLength(req, res, maxBytes)
  const fields: Record<string, string> = {}
  let parser: busboy.Busboy
  try {
    parser = busboy({ headers: req.headers, limits: { files: 1, fields: 100, fieldSize: MAX_FIELD_BYTES, parts: 101 } })
  } catch {
    throw invalid('malformed multipart body')
  }
  let file: Promise<T> | undefined
  let fileStream: Readable | undefined
  const parsed = new Promise<void>((resolve, reject) => {
    parser.on('field', (name, value, info) => {
      if (info.valueTruncated) return reject(invalid(`the field ${name} is longer than ${MAX_FIELD_BYTES} bytes`))
      fields[name] = value
    })
    parser.on('file', (name, stream, info) => {
      fileStream = stream
      file = receiver.receive(stream, { name, filename: info.filename }, fields)
      file.catch(() => {
        stream.resume() // let busboy finish the part; the request itself is abandoned below
        reject(new Error('upload failed'))
      })
    })
    parser.on('filesLimit', () => reject(invalid('send one file per request')))
    parser.on('partsLimit', () => reject(invalid('too many parts in the multipart body')))
    parser.on('error', () => reject(invalid('malformed multipart body')))
    parser.on('close', () => resolve())
    req.on('close', () => {
      if (!req.complete) reject(invalid('the upload was interrupted'))
    })
  })
  req.pipe(parser)
  try {
    await parsed
    return { fields, file: file ? await file : undefined }
  } catch (err) {
    // the body will not be read further: stop, and close the connection after the error response
    req.unpipe(parser)
    if (!res.headersSent) res.set('connection', 'close') // (a body refused midway was answered already: http/auth.ts)
    // a file part cut off midway would otherwise wait forever for its end; one that was refused
    // before being read has no reader to take the error, which would otherwise be thrown
    if (fileStream && !fileStream.readableEnded)
      fileStream.on('error', () => {}).destroy(invalid('the upload was abandoned'))
    const received = await file?.catch((fileErr: unknown) => {
      throw fileErr // the file's own failure (e.g. too_large) is the better answer
    })
    if (received !== undefined) await receiver.discard(received)
    throw err
  }
}
