// Organizations are root resources of the tree; members are users linked through OrganizationUser.
import type { DbClient } from '../db/index.ts'
import { isUniqueViolation } from '../db/index.ts'
import { conflict, invalid, notFound } from '../errors.ts'
import { defaultOrganizationPermissions } from '../resources/permissions.ts'
import { createResource, findOrganization } from '../resources/tree.ts'
import { ResourceType } from '../resources/types.ts'

/**
 * An organization's name is the first segment of its pages' URLs (/<org>/<folder>…), so names the
 * web UI and the API use for their own routes are not available (compared case-insensitively).
 */
export const RESERVED_ORGANIZATION_NAMES: ReadonlySet<string> = new Set([
  'activity',
  'admin',
  'api',
  'assets',
  'favicon.ico',
  'health',
  'help',
  'login',
  'logout',
  'mqtt',
  'organizations',
  'robots.txt',
  'settings',
  'sign-in',
  'sign-out',
  'sign-up',
  'static',
  'system',
  'users',
])

export function checkOrganizationName(name: string): void {
  if (RESERVED_ORGANIZATION_NAMES.has(name.toLowerCase())) {
    throw invalid(`"${name}" cannot name an organization: the web UI or the API uses /${name.toLowerCase()} itself`)
  }
}

export async function createOrganization(db: DbClient, name: string, fullName?: string) {
  checkOrganizationName(name)
  const org = await createResource(db, {
    parentId: null,
    organizationId: null,
    name,
    type: ResourceType.organizationFolder,
    systemAttributes: { full_name: fullName ?? name },
  })
  // An organization belongs to itself, so every resource's organizationId names its root.
  return db.resource.update({
    where: { id: org.id },
    data: { organizationId: org.id, permissions: defaultOrganizationPermissions(org.id) },
  })
}

export async function requireOrganization(db: DbClient, name: string) {
  const org = await findOrganization(db, name)
  if (!org) throw notFound(`organization ${JSON.stringify(name)} not found`)
  return org
}

export async function addMember(db: DbClient, organizationId: number, userId: number, isAdmin = false) {
  try {
    return await db.organizationUser.create({ data: { organizationId, userId, isAdmin } })
  } catch (err) {
    if (isUniqueViolation(err)) throw conflict('the user is already a member of this organization')
    throw err
  }
}

export async function membershipsOf(db: DbClient, userId: number) {
  return db.organizationUser.findMany({ where: { userId, organization: { deleted: false } } })
}
