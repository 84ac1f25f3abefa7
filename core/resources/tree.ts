// The resource tree: finding resources by path and creating folders, sequences and controllers.
// A live resource's liveKey is "<parentId or 0>/<name>"; its unique index is what makes names
// unique per parent (and lets a deleted resource's name be reused, since deleted rows hold null).
import { isUniqueViolation, Prisma, type DbClient, type Resource } from '../db/index.ts'
import { readDirectSqlite } from '../db/sqlite-connection.ts'
import { conflict, invalid, notFound } from '../errors.ts'
import { checkName, joinPath, splitPath } from './paths.ts'
import { providerOf } from './revisions.ts'
import { isFolderType, ResourceType, SequenceDataType } from './types.ts'

export const liveKey = (parentId: number | null, name: string) => `${parentId ?? 0}/${name}`

export interface NewResource {
  parentId: number | null
  organizationId: number | null
  name: string
  type: number
  permissions?: Prisma.InputJsonValue
  systemAttributes?: Prisma.InputJsonObject
}

export async function createResource(db: DbClient, input: NewResource) {
  checkName(input.name)
  try {
    return await db.resource.create({
      data: {
        parentId: input.parentId,
        organizationId: input.organizationId,
        name: input.name,
        type: input.type,
        liveKey: liveKey(input.parentId, input.name),
        permissions: input.permissions ?? undefined,
        systemAttributes: input.systemAttributes ?? undefined,
      },
    })
  } catch (err) {
    if (isUniqueViolation(err)) throw conflict(`a resource named ${JSON.stringify(input.name)} already exists there`)
    throw err
  }
}

/** The live resources along a path, root first; null where a name is missing. */
export async function findPath(db: DbClient, path: string) {
  const names = splitPath(path)
  const found: Resource[] = []
  let parentId: number | null = null
  for (const name of names) {
    const resource: Resource | null = await db.resource.findUnique({ where: { liveKey: liveKey(parentId, name) } })
    if (!resource) return null
    found.push(resource)
    parentId = resource.id
  }
  return found
}

export async function findOrganization(db: DbClient, name: string) {
  const org = await db.resource.findUnique({ where: { liveKey: liveKey(null, name) } })
  return org && org.type === ResourceType.organizationFolder ? org : null
}

/** Walks a path from its organization, creating missing basic folders; the organization must exist. */
export async function ensureFolders(db: DbClient, names: string[]) {
  const [orgName, ...rest] = names
  const org = await findOrganization(db, orgName!)
  if (!org) throw notFound(`organization ${JSON.stringify(orgName)} not found`)
  let parent = org
  for (const name of rest) {
    const existing = await db.resource.findUnique({ where: { liveKey: liveKey(parent.id, name) } })
    if (existing && !isFolderType(existing.type)) throw conflict(`${JSON.stringify(name)} exists and is not a folder`)
    parent =
      existing ??
      (await createResource(db, { parentId: parent.id, organizationId: org.id, name, type: ResourceType.basicFolder }))
  }
  return parent
}

export interface SequenceSettings {
  dataType: (typeof SequenceDataType)[keyof typeof SequenceDataType]
  units?: string
  decimalPlaces?: number
  maxHistory?: number
  minStorageInterval?: number
}

export function createSequence(
  db: DbClient,
  parent: { id: number; organizationId: number | null },
  name: string,
  settings: SequenceSettings,
) {
  const systemAttributes: Record<string, string | number> = { data_type: settings.dataType }
  if (settings.units !== undefined) systemAttributes.units = settings.units
  if (settings.decimalPlaces !== undefined) systemAttributes.decimal_places = settings.decimalPlaces
  if (settings.maxHistory !== undefined) systemAttributes.max_history = settings.maxHistory
  if (settings.minStorageInterval !== undefined) systemAttributes.min_storage_interval = settings.minStorageInterval
  return createResource(db, {
    parentId: parent.id,
    organizationId: parent.organizationId,
    name,
    type: ResourceType.sequence,
    systemAttributes,
  })
}

const CONTROLLER_HISTORY = 10_000

/**
 * What rhizo-server created inside every controller folder (main/api/resources.py, ResourceList.post):
 * its log and these status sequences; plus disk_usage, which rhizo's client reports every 30 minutes
 * with processor_usage in one PUT /api/v1/resources (rhizo/controller.py system_monitor). rhizo-server
 * skipped the missing one; Tendril stores a batch whole or not at all, so it has to exist.
 */
const STATUS_SEQUENCES: [name: string, settings: Omit<SequenceSettings, 'dataType' | 'maxHistory'>][] = [
  ['free_disk_space', { units: 'bytes' }],
  ['processor_usage', { units: 'percent', decimalPlaces: 1 }],
  ['disk_usage', { units: 'percent', decimalPlaces: 1 }],
  ['messages_sent', {}],
  ['messages_received', {}],
  ['serial_errors', {}],
]

export async function createControllerFolder(db: DbClient, path: string) {
  const names = splitPath(path)
  if (names.length < 2) throw invalid('a controller path needs an organization and a name, e.g. acme/greenhouse/pi-1')
  const parent = await ensureFolders(db, names.slice(0, -1))
  const controller = await createResource(db, {
    parentId: parent.id,
    organizationId: parent.organizationId,
    name: names.at(-1)!,
    type: ResourceType.controllerFolder,
  })
  await createSequence(db, controller, 'log', { dataType: SequenceDataType.text, maxHistory: CONTROLLER_HISTORY })
  const status = await createResource(db, {
    parentId: controller.id,
    organizationId: controller.organizationId,
    name: 'status',
    type: ResourceType.basicFolder,
  })
  for (const [name, settings] of STATUS_SEQUENCES) {
    await createSequence(db, status, name, {
      dataType: SequenceDataType.numeric,
      maxHistory: CONTROLLER_HISTORY,
      ...settings,
    })
  }
  await db.controllerStatus.create({ data: { controllerId: controller.id } })
  return { controller, path: joinPath(names) }
}

/** The path of a resource, "/org/folder/name". */
export async function pathOf(db: DbClient, resourceId: number): Promise<string> {
  const names: string[] = []
  let id: number | null = resourceId
  while (id !== null) {
    const link: { name: string; parentId: number | null } | null = await db.resource.findUnique({
      where: { id },
      select: { name: true, parentId: true },
    })
    if (!link) break
    names.unshift(link.name)
    id = link.parentId
  }
  return joinPath(names)
}

type Link = { id: number; name: string; parentId: number | null }

/** pathsOf's read without Prisma's query interpretation (a presence announcement of a storm names thousands) */
async function readLinks(db: DbClient, ids: number[]): Promise<Link[]> {
  const sql = 'SELECT id, name, "parentId" FROM "Resource" WHERE id IN (SELECT value FROM json_each(?))'
  const direct = readDirectSqlite(db, (sqlite) => sqlite.statement(sql).all(JSON.stringify(ids)))?.result as
    { id: bigint; name: string; parentId: bigint | null }[] | undefined
  if (direct)
    return direct.map((r) => ({
      id: Number(r.id),
      name: r.name,
      parentId: r.parentId === null ? null : Number(r.parentId),
    }))
  if (providerOf(db) === 'postgresql')
    return db.$queryRaw<Link[]>`SELECT id, name, "parentId" FROM "Resource" WHERE id = ANY(${ids}::int[])`
  return db.resource.findMany({ where: { id: { in: ids } }, select: { id: true, name: true, parentId: true } })
}

/** The paths of many resources, one query per level of depth (pathOf for each would be one per resource and level). */
export async function pathsOf(db: DbClient, resourceIds: number[]): Promise<Map<number, string>> {
  const links = new Map<number, { name: string; parentId: number | null }>()
  let wanted = [...new Set(resourceIds)]
  while (wanted.length > 0) {
    const rows = await readLinks(db, wanted)
    for (const row of rows) links.set(row.id, row)
    wanted = [...new Set(rows.map((r) => r.parentId).filter((id): id is number => id !== null && !links.has(id)))]
  }
  const paths = new Map<number, string>()
  for (const id of resourceIds) {
    const names: string[] = []
    for (let link = links.get(id); link; link = link.parentId === null ? undefined : links.get(link.parentId))
      names.unshift(link.name)
    if (names.length > 0) paths.set(id, joinPath(names))
  }
  return paths
}
