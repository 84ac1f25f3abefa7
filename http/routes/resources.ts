// /api/v1/resources: the resource tree over REST, rhizo-compatible (docs/rest.md; rhizo-server
// main/api/resources.py). Routes find the resource and check access (lookup.ts), then call one core
// function; sequence values are handed to sequences.ts so their rules stay in one place.
import { Router, type Request, type Response } from 'express'
import type { Core } from '../../core/index.ts'
import { conflict, forbidden, invalid, notFound, unauthorized } from '../../core/errors.ts'
import type { MessageBus } from '../../core/messages/types.ts'
import { jsonObject, SEQUENCE_SETTINGS } from '../../core/resources/attributes.ts'
import { createFromRequest, parseResourceType } from '../../core/resources/creation.ts'
import { deleteRevisions, deleteSubtree } from '../../core/resources/deletion.ts'
import { collectDownload, parseIds } from '../../core/resources/downloads.ts'
import {
  afterFileRevision,
  discardContent,
  fileRevision,
  fileThumbnail,
  listRevisions,
  receiveContent,
} from '../../core/resources/files.ts'
import { listFolder } from '../../core/resources/listing.ts'
import {
  freshFound,
  requireWriteAt,
  resourceById,
  resourceFor,
  resourceForCached,
  type Found,
} from '../../core/resources/lookup.ts'
import { joinPath, splitPath } from '../../core/resources/paths.ts'
import { canWrite } from '../../core/resources/permissions.ts'
import { permissionSource } from '../../core/resources/permission-source.ts'
import { describeResource } from '../../core/resources/resource-json.ts'
import { applyUpdate, type ResourceUpdate } from '../../core/resources/updates.ts'
import type { RevisionContent } from '../../core/resources/revisions.ts'
import { pathOf } from '../../core/resources/tree.ts'
import { isFolderType, ResourceType } from '../../core/resources/types.ts'
import { sendFileRevision, sendZip } from './resources/download.ts'
import { flag, presenceFlag, requestValues } from '../request-values.ts'
import { base64Bytes, isValueOnly, text, timestamp, wholeNumber, type Values } from './resources/params.ts'
import { isMultipart, readMultipart, type Multipart } from './resources/uploads.ts'
import { getSequence, sequenceValueRoutes, writeSequence } from './sequences.ts'

const ROOT = '/api/v1/resources'

/** The path in the URL, "/org/folder/name"; "self[/…]" stands for the calling controller's folder (rhizo). */
async function urlPath(core: Core, req: Request, res: Response): Promise<{ path: string; selfId?: number }> {
  const segments = (req.params as { path?: string[] }).path ?? []
  const principal = res.locals.principal
  if (segments[0] !== 'self') return { path: segments.join('/') }
  if (principal.kind === 'anonymous') throw unauthorized()
  if (principal.kind !== 'controller') throw forbidden('self means the calling controller; use a controller key')
  const own = await pathOf(core.db, principal.controllerId)
  if (segments.length === 1) return { path: own, selfId: principal.controllerId }
  return { path: `${own}/${segments.slice(1).join('/')}` }
}

/**
 * The resource at the URL's path, access checked. With fresh false the row may come from the shared
 * path cache (only a sequence value write takes that: storing reads the sequence again in its
 * transaction); otherwise its row is read again, so what is shown or changed is current.
 */
async function locate(core: Core, req: Request, res: Response, need: 'read' | 'write', fresh = true): Promise<Found> {
  const { path, selfId } = await urlPath(core, req, res)
  // the controller's own folder by id, so a deleted controller's key finds nothing rather than a namesake
  if (selfId !== undefined) return resourceById(core.db, res.locals.principal, selfId, path, need)
  const found = await resourceForCached(core, res.locals.principal, path, need)
  return fresh ? freshFound(core, res.locals.principal, found, need) : found
}

const hasSequenceValue = (values: Values) =>
  values.data !== undefined || values.contents !== undefined || values.value !== undefined

/** A file's new bytes from a JSON or form body: base64 `data` (or, as rhizo's POST took it, base64 `contents`). */
function encodedContent(values: Values, maxBytes: number, contentsIsText: boolean): Buffer | undefined {
  if (values.data !== undefined) return base64Bytes(values.data, 'data', maxBytes)
  if (values.contents === undefined) return undefined
  if (!contentsIsText) return base64Bytes(values.contents, 'contents', maxBytes)
  const contents = text(values.contents, 'contents')!
  if (Buffer.byteLength(contents) > maxBytes) throw invalid('contents is larger than the upload limit')
  return Buffer.from(contents, 'utf8')
}

/**
 * The request's values, and a multipart file: stored as it streamed in, or held until checkAccess can tell
 * (uploads.ts).
 */
async function readBody(core: Core, req: Request, res: Response, checkAccess?: (fields: Values) => Promise<boolean>) {
  if (!isMultipart(req)) return { values: requestValues(req), upload: undefined as Multipart['file'] }
  const multipart = await readMultipart(core, req, res, core.config.uploadLimit, checkAccess)
  return { values: { ...requestValues(req), ...multipart.fields } as Values, upload: multipart.file }
}

export function resourceRoutes(core: Core, bus: MessageBus): Router {
  const router = Router()
  const limit = () => core.config.uploadLimit

  // PUT /api/v1/resources (several sequences at once) belongs to the sequences routes
  router.use(sequenceValueRoutes(core, bus))

  router.get(`${ROOT}/*path`, async (req, res) => {
    const values = requestValues(req)
    const found = await locate(core, req, res, 'read')
    const { resource, path } = found
    // access: what the caller may do here, so a page offers only that (the API still enforces it)
    if (flag(values.meta)) return void res.json(await described(core, found))
    if (isFolderType(resource.type)) {
      if (flag(values.download) && values.ids !== undefined) {
        const entries = await collectDownload(
          core.db,
          res.locals.principal,
          resource,
          path,
          parseIds(values.ids),
          limit(),
        )
        return sendZip(core, res, resource, entries)
      }
      const type = values.type === undefined || values.type === '' ? undefined : parseResourceType(values.type)
      const filter = text(values.filter, 'filter') || undefined
      return void res.json(
        await listFolder(core.db, res.locals.principal, resource, path, {
          recursive: flag(values.recursive),
          type,
          filter,
          extended: presenceFlag(values.extended),
        }),
      )
    }
    if (resource.type === ResourceType.sequence) return getSequence(core, req, res, { sequence: resource, path })
    if (resource.type !== ResourceType.file) return void res.json(await describeResource(core.db, resource, path))
    if (flag(values.revisions)) return void res.json(await listRevisions(core.db, resource.id))
    const revision = await fileRevision(core.db, resource, wholeNumber(values.rev, 'rev'))
    if (flag(values.thumbnail)) {
      if (!revision) throw notFound('the file has no content yet')
      const thumbnail = await fileThumbnail(core.db, resource.id, revision.id)
      return void res.type('image/jpeg').send(Buffer.from(thumbnail.data))
    }
    return sendFileRevision(core, res, resource, revision, flag(values.download))
  })

  router.post(ROOT, async (req, res) => {
    const principal = res.locals.principal
    const parentOf = (values: Values) => text(values.path ?? values.parent, 'path')
    // access is checked before a byte of the file is stored: at once when the path came before it
    const { values, upload } = await readBody(core, req, res, async (fields) => {
      const parent = parentOf({ ...requestValues(req), ...fields })
      if (!parent) return false
      await requireWriteAt(core.db, principal, parent)
      return true
    })
    let content = upload?.content
    try {
      const parentPath = parentOf(values)
      if (!parentPath) throw invalid('path (the parent folder) is required')
      await requireWriteAt(core.db, principal, parentPath)
      const name = text(values.name, 'name') ?? upload?.filename
      if (!name) throw invalid('name is required')
      const type = values.type === undefined && upload ? ResourceType.file : parseResourceType(values.type)
      const bytes = upload ? upload.held : encodedContent(values, limit(), false)
      if (bytes) content = await receiveContent(core, core.blobs, bytes, limit())
      const created = await createFromRequest(core, core.blobs, {
        parentPath,
        name,
        type,
        systemAttributes: systemAttributesOf(values, type),
        userAttributes:
          values.user_attributes === undefined ? undefined : jsonObject(values.user_attributes, 'user_attributes'),
        content,
        createdAt: timestamp(values, 'creation_timestamp', 'creationTimestamp'),
        principal,
      })
      if (created.revisionId !== null) await afterFileRevision(core, core.blobs, created.resource, created.revisionId)
      res.json({ status: 'ok', id: created.resource.id })
    } catch (err) {
      await discardContent(core, core.blobs, content)
      throw err
    }
  })

  // rhizo's legacy write: a new revision of the file (or value of the sequence) at the path, creating it and missing
  // folders when needed
  router.post(`${ROOT}/*path`, async (req, res) => {
    const principal = res.locals.principal
    const { path: target } = await urlPath(core, req, res)
    const existing = await locate(core, req, res, 'write').catch(async (err: unknown) => {
      if ((err as { code?: string }).code !== 'not_found') throw err
      await requireWriteAt(core.db, principal, target)
      return null
    })
    if (existing?.resource.type === ResourceType.sequence)
      return writeSequence(core, bus, req, res, {
        sequence: existing.resource,
        path: existing.path,
        level: existing.level,
      })
    if (existing && existing.resource.type !== ResourceType.file)
      throw invalid(`${existing.path} is not a file or sequence`)
    const { values, upload } = await readBody(core, req, res)
    const encoded = upload ? undefined : encodedContent(values, limit(), false)
    const content = upload?.content ?? (await receiveContent(core, core.blobs, encoded ?? Buffer.alloc(0), limit()))
    try {
      const at = timestamp(
        values,
        'modification_timestamp',
        'modificationTimestamp',
        'creation_timestamp',
        'creationTimestamp',
      )
      if (existing) {
        const update = await applyUpdate(core, core.blobs, principal, existing, { content, revisionTimestamp: at })
        if (update.revisionId !== null) await afterFileRevision(core, core.blobs, existing.resource, update.revisionId)
        return void res.json({ status: 'ok', id: existing.resource.id })
      }
      const names = splitPath(target)
      const created = await createFromRequest(core, core.blobs, {
        parentPath: joinPath(names.slice(0, -1)),
        name: names.at(-1)!,
        type: ResourceType.file,
        content,
        createdAt: at,
        principal,
      })
      if (created.revisionId !== null) await afterFileRevision(core, core.blobs, created.resource, created.revisionId)
      res.json({ status: 'ok', id: created.resource.id })
    } catch (err) {
      await discardContent(core, core.blobs, content)
      throw err
    }
  })

  router.put(`${ROOT}/*path`, async (req, res) => {
    const cached = await locate(core, req, res, 'write', false) // before reading an upload
    const isSequence = cached.resource.type === ResourceType.sequence
    // an image value sent as multipart is the sequence rules' to read
    if (isSequence && isMultipart(req))
      return writeSequence(core, bus, req, res, { sequence: cached.resource, path: cached.path, level: cached.level })
    // a controller's value, many a second: nothing of the resource itself changes, so no fresh row is needed
    // (a PUT with nothing at all goes the same way, to be refused for want of a value)
    if (isSequence && !isMultipart(req) && isValueOnly(requestValues(req))) {
      return writeSequence(core, bus, req, res, { sequence: cached.resource, path: cached.path, level: cached.level })
    }
    const found = await freshFound(core, res.locals.principal, cached, 'write')
    const { values, upload } = await readBody(core, req, res)
    let content = upload?.content
    try {
      if (!content && !isSequence) {
        const encoded = encodedContent(values, limit(), true)
        if (encoded) content = await receiveContent(core, core.blobs, encoded, limit())
      }
      if (content && found.resource.type !== ResourceType.file)
        throw invalid('only a file takes data, contents or an uploaded file')
      checkIfRevision(values, found.resource)
      const changes = await updateOf(core, res, values, found, content)
      const givesValue =
        isSequence && (values.data !== undefined || values.contents !== undefined || values.value !== undefined)
      const nothing = Object.values(changes).every((v) => v === undefined)
      if (nothing && !givesValue)
        throw invalid('nothing to change: send a new name, parent, attributes, permissions, status or content')
      // a sequence value alone changes nothing of the resource: no empty transaction
      const update = nothing
        ? { revisionId: null }
        : await applyUpdate(core, core.blobs, res.locals.principal, found, changes)
      if (update.revisionId !== null) await afterFileRevision(core, core.blobs, found.resource, update.revisionId)
    } catch (err) {
      await discardContent(core, core.blobs, content)
      throw err
    }
    // a sequence's new value goes through the sequence rules, which answer the request themselves
    if (isSequence && hasSequenceValue(values)) {
      // renamed or moved by this request: the value is written where the sequence is now
      return writeSequence(core, bus, req, res, {
        sequence: found.resource,
        path: await pathOf(core.db, found.resource.id),
      })
    }
    res.json({ status: 'ok', id: found.resource.id })
  })

  router.delete(`${ROOT}/*path`, async (req, res) => {
    const found = await locate(core, req, res, 'write')
    const values = requestValues(req)
    if (flag(values.data_only)) await deleteRevisions(core, core.blobs, found.resource)
    else await deleteSubtree(core, res.locals.principal, found.resource)
    res.json({ status: 'ok', id: found.resource.id })
  })

  return router
}

/** meta=1; a writer also learns where the access comes from (permission_source, the nearest list, and that list). */
async function described(core: Core, { resource, path, level }: Found) {
  const json = { ...(await describeResource(core.db, resource, path)), access: canWrite(level) ? 'write' : 'read' }
  if (!canWrite(level)) return json
  const source = await permissionSource(core.db, resource.id)
  return { ...json, permission_source: source.path, effective_permissions: source.permissions }
}

/** if_revision: a browser editor's "the revision I loaded"; a newer one saved meanwhile is a 409, not overwritten. */
function checkIfRevision(values: Values, file: Found['resource']): void {
  if (values.if_revision === undefined || values.if_revision === '') return
  const expected = wholeNumber(values.if_revision, 'if_revision')
  if (file.lastRevisionId !== expected)
    throw conflict(
      `the file was changed since revision ${expected} (now revision ${file.lastRevisionId ?? 'none'}); reload it before saving`,
    )
}

/** system_attributes plus rhizo's separate sequence fields (data_type=…, decimal_places=…). */
function systemAttributesOf(values: Values, type: number): Record<string, unknown> | undefined {
  const given =
    values.system_attributes === undefined ? undefined : jsonObject(values.system_attributes, 'system_attributes')
  if (type !== ResourceType.sequence) return given
  const merged: Record<string, unknown> = { ...given }
  for (const key of SEQUENCE_SETTINGS) if (values[key] !== undefined && values[key] !== '') merged[key] = values[key]
  return merged
}

async function updateOf(
  core: Core,
  res: Response,
  values: Values,
  found: Found,
  content: RevisionContent | undefined,
): Promise<ResourceUpdate> {
  // rhizo's client sends the file's own modification time with a new version
  const update: ResourceUpdate = {
    content,
    revisionTimestamp: content ? timestamp(values, 'modification_timestamp', 'modificationTimestamp') : undefined,
  }
  if (values.name !== undefined) update.name = text(values.name, 'name')
  if (values.parent !== undefined) {
    const parentPath = text(values.parent, 'parent')
    if (parentPath === undefined) throw invalid('parent must be a folder path')
    // rhizo answered 400 for a missing parent; one the caller cannot read is just as missing
    update.parent = (
      await resourceFor(core.db, res.locals.principal, parentPath, 'write').catch((err: unknown) => {
        if ((err as { code?: string }).code === 'not_found') throw invalid(`no folder at ${parentPath}`)
        throw err
      })
    ).resource
  }
  if (values.user_attributes !== undefined)
    update.userAttributes = jsonObject(values.user_attributes, 'user_attributes')
  const hasSettings =
    values.system_attributes !== undefined || SEQUENCE_SETTINGS.some((k) => values[k] !== undefined && values[k] !== '')
  if (hasSettings) update.systemAttributes = systemAttributesOf(values, found.resource.type) ?? {}
  if (values.full_name !== undefined) update.fullName = text(values.full_name, 'full_name')
  if (values.permissions !== undefined) update.permissions = permissionsOf(values.permissions)
  if (values.status !== undefined) update.status = jsonObject(values.status, 'status')
  return update
}

function permissionsOf(value: unknown): unknown {
  if (typeof value !== 'string') return value
  if (value === '' || value === 'null') return null
  try {
    return JSON.parse(value)
  } catch {
    throw invalid('permissions must be a JSON list of [type, id, level] entries, or null to inherit')
  }
}
