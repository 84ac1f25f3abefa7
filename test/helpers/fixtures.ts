// The usual set-up of a test: organizations, their people, controllers and keys, made by the functions
// the admin CLI calls; permission lists set by the function PUT /api/v1/resources calls.
import type { CoreContext } from '../../core/context.ts'
import { createAdmin, createController, createKeyForUser, createOrg, createOrgUser } from '../../core/admin.ts'
import { resourceFor } from '../../core/resources/lookup.ts'
import type { PermissionEntry, Principal } from '../../core/resources/permissions.ts'
import { AccessLevel, PermissionType } from '../../core/resources/types.ts'
import { applyUpdate } from '../../core/resources/updates.ts'

export const PASSWORD = 'long enough pw'

export interface UserSpec {
  /** the organization the user belongs to (and their key acts in); the first organization when not given */
  org?: string
  /** an admin of that organization */
  admin?: boolean
  /** a system admin (no membership; a key scoped to org) */
  systemAdmin?: boolean
  /** `${name}@example.com` when not given */
  email?: string
  password?: string
  /** make a key for the user (default true) */
  key?: boolean
}

export interface FixtureSpec<O extends string, U extends string, C extends string> {
  /** one organization, or several (made first, in order) */
  org?: O
  orgs?: O[]
  /** an organization's full name (rhizo's full_name), where one is wanted */
  fullNames?: Partial<Record<O, string>>
  /** users by a short name (ann, bob, …), made in order after the organizations */
  users?: Record<U, UserSpec>
  /** controller paths ('acme/lab/pi-1'), each with its folders and key, made after the users */
  controllers?: C[]
}

export interface Fixture<O extends string = string, U extends string = string, C extends string = string> {
  orgs: Record<O, { id: number; name: string }>
  users: Record<U, { id: number; email: string; password: string; key: string }>
  /** by the path given */
  controllers: Record<C, { id: number; path: string; key: string }>
}

export async function fixture<
  const O extends string = never,
  const U extends string = never,
  const C extends string = never,
>(core: CoreContext, spec: FixtureSpec<O, U, C>): Promise<Fixture<O, U, C>> {
  const made = { orgs: {}, users: {}, controllers: {} } as Fixture<O, U, C>
  const orgs: O[] = spec.orgs ?? (spec.org ? [spec.org] : [])
  for (const name of orgs) made.orgs[name] = await createOrg(core, name, spec.fullNames?.[name])
  for (const [name, user] of Object.entries(spec.users ?? {}) as [U, UserSpec][]) {
    made.users[name] = await makeUser(core, name, user, orgs[0]!)
  }
  for (const path of spec.controllers ?? []) made.controllers[path] = await createController(core, path)
  return made
}

async function makeUser(core: CoreContext, name: string, user: UserSpec, firstOrg: string) {
  const email = user.email ?? `${name}@example.com`
  const password = user.password ?? PASSWORD
  const org = user.org ?? firstOrg
  const { id } = user.systemAdmin
    ? await createAdmin(core, email, password)
    : await createOrgUser(core, email, password, org, user.admin ?? false)
  const key = user.key === false ? '' : (await createKeyForUser(core, email, org)).key
  return { id, email, password, key }
}

/** Who an entry grants to: the resource's organization's members or controllers, everyone, one user or controller. */
export type Grantee = 'members' | 'controllers' | 'public' | { user: number } | { controller: number }
export interface Grant {
  to: Grantee
  level: keyof typeof AccessLevel
}

// a system admin signed in (not through a key): may set any list, as through the web UI
const operator: Principal = { kind: 'user', userId: 0, systemAdmin: true, organizationIds: [] }

/** Sets the permission list at path (null: inherit from the parent) through the core function the REST API uses. */
export async function grant(core: CoreContext, path: string, grants: Grant[] | null): Promise<void> {
  const found = await resourceFor(core.db, operator, path, 'write')
  const organizationId = found.resource.organizationId
  const permissions = grants && grants.map((g) => entryOf(g, organizationId))
  await applyUpdate(core, core.blobs, operator, found, { permissions })
}

function entryOf({ to, level }: Grant, organizationId: number | null): PermissionEntry {
  const at = AccessLevel[level]
  if (to === 'public') return [PermissionType.public, null, at]
  if (to === 'members') return [PermissionType.orgUsers, organizationId, at]
  if (to === 'controllers') return [PermissionType.orgControllers, organizationId, at]
  if ('user' in to) return [PermissionType.user, to.user, at]
  return [PermissionType.controller, to.controller, at]
}
