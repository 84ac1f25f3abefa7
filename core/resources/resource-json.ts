// A resource as JSON for REST: rhizo's {id, name, type} in listings, and the full description for
// meta=1 (rhizo-server Resource.as_dict(extended=True)), with rhizo's camelCase duplicates kept
// because its Python client reads them (FileClient.cache_load uses lastRevisionId).
import type { DbClient, Resource } from '../db/index.ts'
import { formatTimestamp } from '../messages/timestamps.ts'
import { ResourceType } from './types.ts'

export interface ResourceSummary {
  id: number
  name: string
  type: number
}

const iso = (d: Date | null | undefined) => (d ? formatTimestamp(d) : null)
const objectOr = (value: unknown, fallback: unknown) => (value !== null && value !== undefined ? value : fallback)

/**
 * The meta fields of rhizo's Resource.as_dict(extended=True), shared by meta=1 and extended listings;
 * rhizo's internal storage_path and its SHA-1 hash of files are not kept.
 */
function metaFields(resource: Resource): Record<string, unknown> {
  const systemAttributes = objectOr(resource.systemAttributes, {})
  const modified = resource.modifiedAt ?? resource.createdAt
  return {
    parent_id: resource.parentId,
    system_attributes: systemAttributes,
    settings: systemAttributes,
    user_attributes: objectOr(resource.userAttributes, {}),
    permissions: objectOr(resource.permissions, []),
    creation_timestamp: iso(resource.createdAt),
    creationTimestamp: iso(resource.createdAt),
    modification_timestamp: iso(modified),
    modificationTimestamp: iso(modified),
    last_revision_id: resource.lastRevisionId,
    lastRevisionId: resource.lastRevisionId,
  }
}

/** Everything a caller with read access may know about a resource (meta=1). */
export async function describeResource(
  db: DbClient,
  resource: Resource,
  path: string,
): Promise<Record<string, unknown>> {
  const described: Record<string, unknown> = {
    id: resource.id,
    name: resource.name,
    type: resource.type,
    path,
    ...metaFields(resource),
  }
  if (resource.type === ResourceType.file) described.size = (await fileSizes(db, [resource])).get(resource.id) ?? 0
  if (resource.type === ResourceType.controllerFolder)
    Object.assign(described, await controllerStatusFields(db, resource.id))
  return described
}

/** The size of each file's latest revision (0 for a file without one), in one query. */
async function fileSizes(db: DbClient, files: Resource[]): Promise<Map<number, number>> {
  const latest = new Map(files.filter((f) => f.lastRevisionId !== null).map((f) => [f.lastRevisionId!, f.id]))
  const sizes = new Map(files.map((f) => [f.id, 0]))
  if (latest.size === 0) return sizes
  const revisions = await db.resourceRevision.findMany({
    where: { id: { in: [...latest.keys()] } },
    select: { id: true, size: true },
  })
  for (const revision of revisions) sizes.set(latest.get(revision.id)!, revision.size)
  return sizes
}

export type StatusRow = {
  clientVersion: string | null
  connected: boolean
  lastConnectAt: Date | null
  lastWatchdogAt: Date | null
  attributes: unknown
} | null

/** A controller's presence as rhizo's ControllerStatus.as_dict named it, plus its reported status. */
export function statusFields(status: StatusRow): Record<string, unknown> {
  return {
    client_version: status?.clientVersion ?? '',
    connected: status?.connected ?? false,
    web_socket_connected: status?.connected ?? false,
    last_connect_timestamp: iso(status?.lastConnectAt),
    last_watchdog_timestamp: iso(status?.lastWatchdogAt),
    status: objectOr(status?.attributes, {}),
  }
}

export async function controllerStatusFields(db: DbClient, controllerId: number): Promise<Record<string, unknown>> {
  return statusFields(await db.controllerStatus.findUnique({ where: { controllerId } }))
}

/** Text values longer than this are not put in listings (a tile shows a few words; the full value is a GET away). */
const LISTED_TEXT_LIMIT = 500

/**
 * Each sequence's latest value as text (null for images and long or stored-apart values) and its
 * timestamp, in one query: a folder page shows every tile's value without a request per tile.
 */
async function latestValues(db: DbClient, sequences: Resource[]) {
  const latest = new Map(sequences.filter((s) => s.lastRevisionId !== null).map((s) => [s.lastRevisionId!, s]))
  const values = new Map<number, { last_value: string | null; last_value_timestamp: string | null }>()
  if (latest.size === 0) return values
  const revisions = await db.resourceRevision.findMany({
    where: { id: { in: [...latest.keys()] } },
    select: { id: true, timestamp: true, data: true },
  })
  for (const revision of revisions) {
    const sequence = latest.get(revision.id)!
    const image = (sequence.systemAttributes as { data_type?: unknown } | null)?.data_type === 3
    const text = revision.data && !image ? Buffer.from(revision.data).toString('utf8') : null
    values.set(sequence.id, {
      last_value: text !== null && text.length <= LISTED_TEXT_LIMIT ? text : null,
      last_value_timestamp: iso(revision.timestamp),
    })
  }
  return values
}

/**
 * extended=1 in a listing: each entry gets the meta fields (files their size, controllers their
 * status, sequences their latest value and its timestamp), in four queries.
 */
export async function describeListed(
  db: DbClient,
  resources: Resource[],
  listed: Record<string, unknown>[],
): Promise<void> {
  const controllers = resources.filter((r) => r.type === ResourceType.controllerFolder).map((r) => r.id)
  const statuses = new Map(
    (await db.controllerStatus.findMany({ where: { controllerId: { in: controllers } } })).map((s) => [
      s.controllerId,
      s,
    ]),
  )
  const sizes = await fileSizes(
    db,
    resources.filter((r) => r.type === ResourceType.file),
  )
  const values = await latestValues(
    db,
    resources.filter((r) => r.type === ResourceType.sequence),
  )
  resources.forEach((resource, i) => {
    Object.assign(listed[i]!, metaFields(resource))
    if (resource.type === ResourceType.file) listed[i]!.size = sizes.get(resource.id) ?? 0
    if (resource.type === ResourceType.controllerFolder)
      Object.assign(listed[i]!, statusFields(statuses.get(resource.id) ?? null))
    if (resource.type === ResourceType.sequence)
      Object.assign(listed[i]!, values.get(resource.id) ?? { last_value: null, last_value_timestamp: null })
  })
}
