// A folder's permission list as the Access tab reads it: entries, their names and levels, what a
// person gets from a list (as core/resources/permissions.ts decides), and the lists the tab proposes.
import type { Described } from '../../api.ts'
import type { Member } from '../organization/admin.ts'

/** [type, principal, level] as core/resources/permissions.ts has it */
export type Entry = [number, number | null, number]
export const T = { public: 100, orgUsers: 110, orgControllers: 120, user: 130, controller: 140 } as const
export const LEVELS: [number, string][] = [
  [0, 'no access'],
  [10, 'read'],
  [20, 'write'],
]
export const levelWord = (level: number) => LEVELS.find(([l]) => l === level)?.[1] ?? `level ${level}`

export interface AccessMeta extends Described {
  permission_source?: string | null
  effective_permissions?: Entry[]
}

export interface Names {
  /** null for a writer who is not a member (a user entry of theirs): the organization's entries show by number */
  orgId: number | null
  orgName: string
  /** null when the caller may not list members (not an admin of the organization) */
  members: Member[] | null
  controllers: { id: number; path: string }[]
}

export function nameOf([type, id]: Entry, names: Names): string {
  if (type === T.public) return 'Public (anyone, without signing in)'
  if (type === T.orgUsers) return id === names.orgId ? `Members of ${names.orgName}` : `Members of organization #${id}`
  if (type === T.orgControllers)
    return id === names.orgId ? `Controllers of ${names.orgName}` : `Controllers of organization #${id}`
  if (type === T.user) return names.members?.find((m) => m.user_id === id)?.email_address ?? `User #${id}`
  if (type === T.controller) return `Controller ${names.controllers.find((c) => c.id === id)?.path ?? `#${id}`}`
  return `Entry type ${type}`
}

/** What a person gets from a list: the highest level among the entries naming them (permissions.ts effectiveLevel). */
export function levelFor(entries: Entry[], userId: number, organizationIds: number[]): number {
  let level = 0
  for (const [type, id, l] of entries) {
    const matches =
      type === T.public ||
      (type === T.orgUsers && organizationIds.includes(id as number)) ||
      (type === T.user && id === userId)
    if (matches && l > level) level = l
  }
  return level
}

export const sameWho = (a: Entry, b: Entry) => a[0] === b[0] && a[1] === b[1]

/** the public entry's level (0 without one) */
export const publicLevelOf = (entries: Entry[]) =>
  Math.max(0, ...entries.filter((e) => e[0] === T.public).map((e) => e[2]))
export const withoutPublic = (entries: Entry[]): Entry[] => entries.filter((e) => e[0] !== T.public)
export const withPublicRead = (entries: Entry[]): Entry[] => [...withoutPublic(entries), [T.public, null, 10]]

/** "type:id" of an entry that may be added, as the add form's options carry it */
export function parseWho(who: string): Entry {
  const [type, id] = who.split(':')
  return [Number(type), id ? Number(id) : null, 0]
}

/** everyone an entry could name: the public, the organization's members and controllers, each member and controller */
export function candidatesFor(names: Names): [string, string][] {
  return [
    [`${T.public}:`, nameOf([T.public, null, 0], names)],
    ...(names.orgId === null
      ? []
      : ([
          [`${T.orgUsers}:${names.orgId}`, nameOf([T.orgUsers, names.orgId, 0], names)],
          [`${T.orgControllers}:${names.orgId}`, nameOf([T.orgControllers, names.orgId, 0], names)],
        ] as [string, string][])),
    ...(names.members ?? []).map((m): [string, string] => [`${T.user}:${m.user_id}`, m.email_address]),
    ...names.controllers.map((c): [string, string] => [`${T.controller}:${c.id}`, `Controller ${c.path}`]),
  ]
}
