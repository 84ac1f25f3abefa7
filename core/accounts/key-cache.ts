// Keys verified for REST and the JSON websocket, kept for a few seconds: a controller writing a value
// every few milliseconds would otherwise cost a key query (and its user's, for a user key) per request.
// An answer is kept only while the credentials and access markers (core/change-markers.ts) have not
// moved since the key was looked up: revoking a key, deleting its controller or user or removing a membership on
// this instance is seen at once, on another instance within a second (the marker is read at most
// once a second). Entries are found by the key's keyed hash, so no raw key sits in memory here;
// unknown keys are not kept (each costs its query, as before).
import type { CoreContext } from '../context.ts'
import { markerReaderFor } from '../change-markers.ts'
import type { Principal } from '../resources/permissions.ts'
import { keyedHash } from './hashing.ts'
import { authenticateKey } from './keys.ts'

export const KEY_CACHE_TTL_MS = 10_000
const MAX_KEYS = 10_000

interface Verified {
  principal: Principal
  /** the credentials and access markers read before the key was looked up */
  marker: string
  at: number
}

export interface KeyCache {
  /** the principal a key acts as, or null for an unknown, revoked or orphaned key */
  authenticate(key: string): Promise<Principal | null>
}

export function createKeyCache(ctx: CoreContext, ttlMs = KEY_CACHE_TTL_MS, maxKeys = MAX_KEYS): KeyCache {
  const reader = markerReaderFor(ctx)
  const verified = new Map<string, Verified>()
  const pending = new Map<string, Promise<Principal | null>>()
  const lookUp = async (hash: string, key: string, marker: string) => {
    const principal = await authenticateKey(ctx, key)
    if (!principal) return null
    if (verified.size >= maxKeys) verified.delete(verified.keys().next().value!) // the oldest
    verified.set(hash, { principal, marker, at: Date.now() })
    return principal
  }
  return {
    async authenticate(key) {
      // the marker comes first: a change after it moves the marker, so an answer read after it is dropped then
      // memberships added and roles of organizations move only the access marker: both count
      const markers = await reader.current()
      const marker = `${markers.credentials}|${markers.access}`
      const hash = keyedHash(ctx.secret, key)
      const hit = verified.get(hash)
      if (hit && hit.marker === marker && Date.now() - hit.at < ttlMs) return hit.principal
      if (hit) verified.delete(hash)
      const pendingKey = `${marker}|${hash}`
      const running = pending.get(pendingKey)
      if (running) return running
      const started = lookUp(hash, key, marker).finally(() => pending.delete(pendingKey))
      pending.set(pendingKey, started)
      return started
    },
  }
}

const caches = new WeakMap<CoreContext, KeyCache>()

/** authenticateKey through the open core's key cache (REST requests, JSON websocket upgrades). */
export function authenticateKeyCached(ctx: CoreContext, key: string): Promise<Principal | null> {
  let cache = caches.get(ctx)
  if (!cache) caches.set(ctx, (cache = createKeyCache(ctx)))
  return cache.authenticate(key)
}
