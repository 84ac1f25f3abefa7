// What a subscription lets its client read, decided when it is made (SUBSCRIBE, or a persistent
// session's restore) and again whenever access rules change (revalidate.ts). Forwarding must answer
// synchronously (Aedes' authorizeForward), so it reads only these: a topic that no grant covers is
// never forwarded, and nothing waits for the database per message.
import { canRead } from '../core/resources/permissions.ts'

export interface ReadGrant {
  /** the topic levels before the filter's first wildcard: the grant covers these and everything below */
  prefix: string
  /**
   * a filter without wildcards covers exactly its topic; '' (`#`, `+/…`) covers every topic but $ ones [MQTT-4.7.2-1]
   */
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
  return (
    topic.startsWith(grant.prefix) &&
    (topic.length === grant.prefix.length || topic.charCodeAt(grant.prefix.length) === 47)
  ) // '/'
}

function levelUnder(grant: ReadGrant, topic: string): number {
  for (const b of grant.below) {
    if (topic.startsWith(b.topic) && (topic.length === b.topic.length || topic.charCodeAt(b.topic.length) === 47))
      return b.level
  }
  return grant.level
}

/**
 * A session's grants by filter. A topic never holds a wildcard, so the grant found under a topic's
 * own name is an exact one: forwarding looks that up and tries only the wildcard grants, so a client
 * with a thousand exact subscriptions costs no more per message than one with a single one.
 */
export class SessionGrants {
  private readonly byFilter = new Map<string, ReadGrant>()
  private readonly wildcards = new Map<string, ReadGrant>()

  get(filter: string): ReadGrant | undefined {
    return this.byFilter.get(filter)
  }
  has(filter: string): boolean {
    return this.byFilter.has(filter)
  }
  set(filter: string, grant: ReadGrant): void {
    this.byFilter.set(filter, grant)
    if (!grant.exact) this.wildcards.set(filter, grant)
  }
  delete(filter: string): void {
    this.byFilter.delete(filter)
    this.wildcards.delete(filter)
  }
  entries(): IterableIterator<[string, ReadGrant]> {
    return this.byFilter.entries()
  }

  /**
   * Whether a message on topic may go to the client: some grant covers it, and every grant that
   * covers it allows it (grants made just before and just after a change may disagree until the
   * re-check that follows it).
   */
  mayForward(topic: string): boolean {
    let allowed = false
    const exact = this.byFilter.get(topic)
    if (exact) {
      if (!canRead(exact.level)) return false
      allowed = true
    }
    for (const grant of this.wildcards.values()) {
      if (!covers(grant, topic)) continue
      if (!canRead(levelUnder(grant, topic))) return false
      allowed = true
    }
    return allowed
  }
}
