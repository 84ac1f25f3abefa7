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

/** Everything a caller with read access may know about a resource (meta=1). */
export async function describeResource(db: DbClient, resource: Resource, path: string): Promise<Record<string, unknown>> {
  const systemAttributes = objectOr(resource.systemAttributes, {})
  const described: Record<string, unknown> = {
    id: resource.id,
    name: resource.name,
    type: resource.type,
    path,
    parent_id: resource.parentId,
    system_attributes: systemAttributes,
    settings: systemAttributes,
    user_attributes: objectOr(resource.userAttributes, {}),
    permissions: objectOr(resource.permissions, []),
    creation_timestamp: iso(resource.createdAt),
    creationTimestamp: iso(resource.createdAt),
    modification_timestamp: iso(resource.modifiedAt ?? resource.createdAt),
    modificationTimestamp: iso(resource.modifiedAt ?? resource.createdAt),
    last_revision_id: resource.lastRevisionId,
    lastRevisionId: resource.lastRevisionId,
  }
  if (resource.type === ResourceType.file) described.size = await fileSize(db, resource.lastRevisionId)
  if (resource.type === ResourceType.controllerFolder) Object.assign(described, await controllerStatusFields(db, resource.id))
  return described
}

async function fileSize(db: DbClient, lastRevisionId: number | null): Promise<number> {
  if (lastRevisionId === null) return 0
  const revision = await db.resourceRevision.findUnique({ where: { id: lastRevisionId }, select: { size: true } })
  return revision?.size ?? 0
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

/** extended=1 in a listing: each entry gets the meta fields (and controllers their status), in two queries. */
export async function describeListed(db: DbClient, resources: Resource[], listed: Record<string, unknown>[]): Promise<void> {
  const controllers = resources.filter((r) => r.type === ResourceType.controllerFolder).map((r) => r.id)
  const statuses = new Map((await db.controllerStatus.findMany({ where: { controllerId: { in: controllers } } })).map((s) => [s.controllerId, s]))
  resources.forEach((resource, i) => {
    const systemAttributes = objectOr(resource.systemAttributes, {})
    Object.assign(listed[i]!, {
      parent_id: resource.parentId,
      system_attributes: systemAttributes,
      user_attributes: objectOr(resource.userAttributes, {}),
      permissions: objectOr(resource.permissions, []),
      creation_timestamp: iso(resource.createdAt),
      modification_timestamp: iso(resource.modifiedAt ?? resource.createdAt),
      last_revision_id: resource.lastRevisionId,
      lastRevisionId: resource.lastRevisionId,
    })
    if (resource.type === ResourceType.controllerFolder) Object.assign(listed[i]!, statusFields(statuses.get(resource.id) ?? null))
  })
}
