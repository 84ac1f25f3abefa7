// Creating a resource through REST (rhizo-server ResourceList.post): folders, controller folders
// (with their log and status sequences), sequences with checked settings, and files with their first
// revision. Missing folders on the way to the parent are created, all in one transaction.
import { requireMayProvisionControllers } from '../accounts/roles.ts'
import type { BlobStore } from '../blobs/index.ts'
import type { CoreContext } from '../context.ts'
import { inTransaction, type Prisma } from '../db/index.ts'
import { conflict, invalid } from '../errors.ts'
import { mergeSequenceSettings } from './attributes.ts'
import { addFileRevision } from './files.ts'
import { checkName, joinPath, splitPath } from './paths.ts'
import type { RevisionContent } from './revisions.ts'
import { pathResolverFor } from './resolver.ts'
import { createControllerFolder, createResource, ensureFolders } from './tree.ts'
import type { Principal } from './permissions.ts'
import { isFolderType, ResourceType } from './types.ts'
import { checkWatchdogAttributes } from './watchdog.ts'

/** rhizo's type names (GET ?type= and POST type=), besides the numbers. */
const TYPE_NAMES: Record<string, number> = {
  basic_folder: ResourceType.basicFolder,
  folder: ResourceType.basicFolder,
  organization_folder: ResourceType.organizationFolder,
  controller_folder: ResourceType.controllerFolder,
  controller: ResourceType.controllerFolder,
  remote_folder: ResourceType.remoteFolder,
  file: ResourceType.file,
  sequence: ResourceType.sequence,
  app: ResourceType.app,
}
const KNOWN_TYPES = new Set<number>(Object.values(ResourceType))

export function parseResourceType(value: unknown): number {
  const text = String(value ?? '')
    .trim()
    .toLowerCase()
  const type = /^\d+$/.test(text) ? Number(text) : TYPE_NAMES[text]
  if (type === undefined || !KNOWN_TYPES.has(type))
    throw invalid(
      `unknown resource type ${JSON.stringify(value ?? null)}: use 10 folder, 12 controller folder, 13 remote folder, 20 file, 21 sequence or 22 app`,
    )
  return type
}

export interface CreateRequest {
  parentPath: string
  name: string
  type: number
  /** sequences: settings (data_type, …); other types: stored as given */
  systemAttributes?: Record<string, unknown>
  userAttributes?: Record<string, unknown>
  /** a file's first revision (from receiveContent); a file without one starts empty */
  content?: RevisionContent
  createdAt?: Date
  /** who asks: only users set watchdog_* attributes */
  principal: Principal
}

export async function createFromRequest(ctx: CoreContext, blobs: BlobStore, input: CreateRequest) {
  const parentNames = splitPath(input.parentPath)
  checkName(input.name)
  if (input.type === ResourceType.organizationFolder)
    throw invalid('organizations are created through /api/v1/organizations')
  if (input.content && input.type !== ResourceType.file) throw invalid('only a file takes data or an uploaded file')
  if (input.systemAttributes) checkWatchdogAttributes(input.principal, input.systemAttributes)
  const systemAttributes =
    input.type === ResourceType.sequence
      ? defaultSequenceSettings(input.systemAttributes ?? {})
      : input.systemAttributes
  const created = await inTransaction(ctx.db, async (tx) => {
    const parent = await ensureFolders(tx, parentNames)
    if (!isFolderType(parent.type)) throw conflict(`${joinPath(parentNames)} is not a folder`)
    if (input.type === ResourceType.controllerFolder)
      await requireMayProvisionControllers(tx, input.principal, parent.organizationId!)
    const path = joinPath([...parentNames, input.name])
    const created =
      input.type === ResourceType.controllerFolder
        ? (await createControllerFolder(tx, path)).controller
        : await createResource(tx, {
            parentId: parent.id,
            organizationId: parent.organizationId,
            name: input.name,
            type: input.type,
            systemAttributes: systemAttributes as Prisma.InputJsonObject | undefined,
          })
    const extra: Prisma.ResourceUpdateInput = {}
    if (input.userAttributes) extra.userAttributes = input.userAttributes as Prisma.InputJsonObject
    if (input.createdAt) extra.createdAt = input.createdAt
    if (input.type === ResourceType.controllerFolder && systemAttributes)
      extra.systemAttributes = systemAttributes as Prisma.InputJsonObject
    if (Object.keys(extra).length) await tx.resource.update({ where: { id: created.id }, data: extra })
    const revisionId = input.content ? await addFileRevision(tx, blobs, created, input.content, input.createdAt) : null
    return { resource: created, path, revisionId }
  })
  // a value sent at once through MQTT or the websocket finds its new sequence (not a cached miss)
  pathResolverFor(ctx).forgetMissing(created.path)
  return created
}

/** rhizo created sequences with max_history 10000 unless told otherwise. */
function defaultSequenceSettings(given: Record<string, unknown>): Record<string, unknown> {
  const settings = mergeSequenceSettings({}, given)
  return { max_history: 10_000, ...settings }
}
