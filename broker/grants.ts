// What a subscription lets its client read, decided when it is made (SUBSCRIBE, or a persistent
// session's restore) and again whenever access rules change (revalidate.ts). Forwarding must answer
// synchronously (Aedes' authorizeForward), so it reads only these: a topic that no grant covers is
// never forwarded, and nothing waits for the database per message.
import { canRead } from '../core/resources/permissions.ts'

export interface ReadGrant {
  /** the topic levels before the filter's first wildcard: the grant covers these and everything below */
  prefix: string
  /** a filter without wildcards covers exactly its topic; '' (`#`, `+/…`) covers every topic but $ ones [MQTT-4.7.2-1] */
  exact: boolean
  level: number
  /** resources below prefix with a list of their own, deepest first: a topic at or below one gets its level */
  below: { topic: string; level: number }[]
}

/** Whether a SUBSCRIBE may have what the grant covers: read of every topic it can match. */
export function admits(grant: ReadGrant): boolean {
  return canRead(grant.level) && grant.below.every((b) => canRead(b.level))
}

function covers(grant: ReadGrant, topic: string): boolean {
  if (grant.exact) return topic === grant.prefix
  if (grant.prefix === '') return topic.charCodeAt(0) !== 36 // '$'
  return topic.startsWith(grant.prefix) && (topic.length === grant.prefix.length || topic.charCodeAt(grant.prefix.length) === 47) // '/'
}

function levelUnder(grant: ReadGrant, topic: string): number {
  for (const b of grant.below) {
    if (topic.startsWith(b.topic) && (topic.length === b.topic.length || topic.charCodeAt(b.topic.length) === 47)) return b.level
  }
  return grant.level
}

/**
 * Whether a message on topic may go to the client holding grants: some grant covers it, and every
 * grant that covers it allows it (grants made just before and just after a change may disagree
 * until the re-check that follows it).
 */
export function mayForward(grants: Map<string, ReadGrant>, topic: string): boolean {
  let allowed = false
  for (const grant of grants.values()) {
    if (!covers(grant, topic)) continue
    if (!canRead(levelUnder(grant, topic))) return false
    allowed = true
  }
  return allowed
}
