// The organization admin's data: who administers which organization (from the session), and the
// API's member and key records as the pages read them.
import { api, session, ResourceType, type Described } from '../../api.ts'

export interface Member {
  id: number
  user_id: number
  is_admin: boolean
  email_address: string
  full_name: string
}

export interface KeyRecord {
  id: number
  organization_id: number
  access_as_user_id: number | null
  access_as_controller_id: number | null
  controller_path?: string
  key_part: string
  creation_timestamp: string
  revoked: boolean
  revocation_timestamp: string
  last_used_timestamp: string
}

/** Whether the signed-in person administers the organization whose folder this is (the API decides again). */
export function administers(meta: Described): boolean {
  const current = session.value
  if (!current || meta.type !== ResourceType.organization) return false
  return current.user.system_admin || current.organizations.some((o) => o.id === meta.id && o.is_admin)
}

export const orgUrl = (org: number | string, rest = '') =>
  `/api/v1/organizations/${typeof org === 'number' ? org : encodeURIComponent(org)}${rest}`

/** rhizo's lists are {id: record} objects; the pages want arrays. */
export const listOf = <T>(byId: Record<string, T>): T[] => Object.values(byId)

export const loadMembers = async (orgId: number) => listOf(await api<Record<string, Member>>(orgUrl(orgId, '/users')))
