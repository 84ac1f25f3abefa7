// Per-connection limits, so a faulty or hostile client affects only its own connection: packet
// size (checked from the fixed header, before the body is buffered), publish rate, and sessions per key.
import type { Aedes, Client } from 'aedes'
import type { Config } from '../core/config.ts'
import type { Logger } from '../core/log.ts'
import { sessionOf } from './clients.ts'

interface ParserInternals {
  packet: { length: number }
  _parseLength(): boolean
  emit(event: 'error', err: Error): boolean
}

/**
 * Aedes has no packet size limit, and mqtt-packet buffers a whole packet before handing it over.
 * Its parser reads the remaining length first, so a check there refuses an oversized packet before
 * its body arrives. (Internal API: test/integration/mqtt-limits.test.ts fails if an upgrade breaks it.)
 */
export function limitPacketSize(client: Client, maxBytes: number, log: Logger): void {
  const parser = (client as unknown as { _parser?: ParserInternals })._parser
  if (!parser || typeof parser._parseLength !== 'function') throw new Error('aedes client parser not found: cannot enforce the packet size limit')
  const parseLength = parser._parseLength
  parser._parseLength = function (this: ParserInternals) {
    const complete = parseLength.call(this)
    if (complete && this.packet.length > maxBytes) {
      log.info({ clientId: client.id, bytes: this.packet.length, limit: maxBytes }, 'mqtt connection closed: packet too large')
      client.close()
      return false
    }
    return complete
  }
}

/** A token bucket per client: `rate` publishes per second, bursts up to twice that. */
export function createPublishRateLimit(config: Config['mqtt']) {
  const buckets = new WeakMap<Client, { tokens: number; at: number }>()
  const capacity = config.publishRate * 2
  return (client: Client): boolean => {
    if (config.publishRate === 0) return true
    const now = Date.now()
    const bucket = buckets.get(client) ?? { tokens: capacity, at: now }
    bucket.tokens = Math.min(capacity, bucket.tokens + ((now - bucket.at) / 1000) * config.publishRate)
    bucket.at = now
    buckets.set(client, bucket)
    if (bucket.tokens < 1) return false
    bucket.tokens -= 1
    return true
  }
}

/** Counts the live sessions of each key on this instance, kept current by the broker's events. */
export function countSessionsByKey(aedes: Aedes): (keyId: number) => number {
  const counts = new Map<number, number>()
  const keyOf = (client: Client) => {
    const principal = sessionOf(client)?.principal
    return principal && principal.kind !== 'anonymous' ? principal.keyId : undefined
  }
  aedes.on('client', (client) => {
    const keyId = keyOf(client)
    if (keyId !== undefined) counts.set(keyId, (counts.get(keyId) ?? 0) + 1)
  })
  aedes.on('clientDisconnect', (client) => {
    const keyId = keyOf(client)
    if (keyId === undefined) return
    const left = (counts.get(keyId) ?? 1) - 1
    if (left > 0) counts.set(keyId, left)
    else counts.delete(keyId)
  })
  return (keyId) => counts.get(keyId) ?? 0
}
