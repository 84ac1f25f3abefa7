// Who may read or write a resource: the one home of the rule (REST, MQTT and the JSON websocket all call it).
// rhizo's rule: system admins (signed in, not through a key) always write; otherwise the nearest resource (itself or an
// ancestor) that has a permission list decides, and the level is the maximum over its matching entries.
import { z } from 'zod'
import { Prisma, type DbClient } from '../db/index.ts'
import { bumpAccessVersion } from './access-version.ts'
import type { Principal } from '../principal.ts'
import { AccessLevel, PermissionType, type AccessLevelNumber } from './types.ts'

// Principal's home is a leaf (../principal.ts), so the types the core passes around need not import this module
export type { Principal } from '../principal.ts'

export const anonymous: Principal = { kind: 'anonymous' }

/** System-admin power never travels through a scope: a key (always scoped) is never a system admin. */
export const actsAsSystemAdmin = (p: Principal): boolean =>
  p.kind === 'user' && p.systemAdmin && p.scopeOrganizationId === undefined

export type PermissionEntry = [type: number, principal: number | null, level: number]

const entrySchema = z.tuple([
  z.union([z.literal(100), z.literal(110), z.literal(120), z.literal(130), z.literal(140)]),
  z.number().int().nullable(),
  z.union([z.literal(0), z.literal(10), z.literal(20)]),
])
export const permissionListSchema = z.array(entrySchema).max(100)

/** Validates a permission list before it is stored; null means "inherit from the parent". */
export function parsePermissions(value: unknown): PermissionEntry[] | null {
  if (value === null) return null
  return permissionListSchema.parse(value)
}

export function defaultOrganizationPermissions(organizationId: number): PermissionEntry[] {
  return [
    [PermissionType.orgUsers, organizationId, AccessLevel.write],
    [PermissionType.orgControllers, organizationId, AccessLevel.write],
  ]
}

function entryMatches(principal: Principal, [type, id]: PermissionEntry): boolean {
  switch (type) {
    case PermissionType.public:
      return true
    case PermissionType.orgUsers:
      return principal.kind === 'user' && principal.organizationIds.includes(id as number)
    case PermissionType.orgControllers:
      return principal.kind === 'controller' && principal.organizationId === id
    case PermissionType.user:
      return principal.kind === 'user' && principal.userId === id
    case PermissionType.controller:
      return principal.kind === 'controller' && principal.controllerId === id
    default:
      return false
  }
}

export interface ChainLink {
  organizationId: number | null
  permissions: unknown
}

/** Lists as parsed, by the list loaded: re-checking thousands of sessions asks about one row's list again and again. */
const parsedLists = new WeakMap<unknown[], PermissionEntry[] | null>()

function parsedList(list: unknown[]): PermissionEntry[] | null {
  let entries = parsedLists.get(list)
  if (entries === undefined) {
    const parsed = permissionListSchema.safeParse(list)
    parsedLists.set(list, (entries = parsed.success ? parsed.data : null))
  }
  return entries
}

/**
 * The access level of principal on the resource whose chain is given, nearest first
 * (the resource itself, then its parent, … up to its organization).
 */
export function effectiveLevel(principal: Principal, chain: ChainLink[]): AccessLevelNumber {
  if (chain.length === 0) return AccessLevel.none
  const organizationId = chain[0]!.organizationId
  if (
    principal.kind === 'user' &&
    principal.scopeOrganizationId !== undefined &&
    principal.scopeOrganizationId !== organizationId
  ) {
    return AccessLevel.none
  }
  if (actsAsSystemAdmin(principal)) return AccessLevel.write
  const decider = chain.find((link) => Array.isArray(link.permissions))
  if (!decider) return AccessLevel.none
  const entries = parsedList(decider.permissions as unknown[])
  if (!entries) return AccessLevel.none // a malformed list grants nothing
  let level: number = AccessLevel.none
  for (const entry of entries) {
    if (entry[2] > level && entryMatches(principal, entry)) level = entry[2]
  }
  return level as AccessLevelNumber
}

/** Loads the chain of a resource (itself first, then each ancestor). */
export async function loadChain(db: DbClient, resourceId: number): Promise<ChainLink[]> {
  const chain: ChainLink[] = []
  let id: number | null = resourceId
  while (id !== null) {
    const link: { parentId: number | null; organizationId: number | null; permissions: unknown } | null =
      await db.resource.findUnique({
        where: { id },
        select: { parentId: true, organizationId: true, permissions: true },
      })
    if (!link) break
    chain.push(link)
    if (Array.isArray(link.permissions)) break // the nearest list decides; no need to read further up
    id = link.parentId
  }
  return chain
}

export async function resolveAccess(
  db: DbClient,
  principal: Principal,
  resourceId: number,
): Promise<AccessLevelNumber> {
  return effectiveLevel(principal, await loadChain(db, resourceId))
}

/** A stable identity for a principal, e.g. to stop one from taking over another's MQTT client id. */
export function principalKey(principal: Principal): string {
  switch (principal.kind) {
    case 'controller':
      return `controller:${principal.controllerId}`
    case 'user':
      return `user:${principal.userId}:${principal.scopeOrganizationId ?? '*'}`
    default:
      return 'anonymous'
  }
}

export const canRead = (level: number) => level >= AccessLevel.read
export const canWrite = (level: number) => level >= AccessLevel.write

/** Replaces a resource's permission list (null = inherit) and tells live sessions to re-check. */
export async function setPermissions(db: DbClient, resourceId: number, value: unknown): Promise<void> {
  const permissions = parsePermissions(value)
  await db.resource.update({ where: { id: resourceId }, data: { permissions: permissions ?? Prisma.DbNull } })
  await bumpAccessVersion(db)
}
