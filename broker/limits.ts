// Per-connection limits, so a faulty or hostile client affects only its own connection: packet
// size (checked from the fixed header, before the body is buffered), publish rate, and sessions per key.
import type { Duplex } from 'node:stream'
import type { Client } from 'aedes'
import type { Config } from '../core/config.ts'
import type { Logger } from '../core/log.ts'
import { within } from './bounded-wait.ts'

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
export function limitPacketSize(client: Client, maxBytes: number, log: Logger, refused: () => void = () => {}): void {
  const parser = (client as unknown as { _parser?: ParserInternals })._parser
  if (!parser || typeof parser._parseLength !== 'function')
    throw new Error('aedes client parser not found: cannot enforce the packet size limit')
  const parseLength = parser._parseLength
  parser._parseLength = function (this: ParserInternals) {
    const complete = parseLength.call(this)
    if (complete && this.packet.length > maxBytes) {
      log.info(
        { clientId: client.id, bytes: this.packet.length, limit: maxBytes },
        'mqtt connection closed: packet too large',
      )
      refused()
      client.close()
      return false
    }
    return complete
  }
}

interface ClientInternals {
  conn: Duplex
  _parser?: { parse(buffer: Buffer): unknown }
  closed: boolean
  _paused: boolean
  _parsingBatch: number
  _nextBatch(): void
}

/**
 * Aedes parses everything a connection has buffered at once, and reads again only once those packets
 * are handled: a burst of thousands of small PUBLISHes (one socket read) ran ahead of every other
 * client. Handing it at most `bytes` per read makes a burst wait its turn between slices. The rest
 * stays buffered; when a slice ends inside a packet (none handled, so Aedes will not ask again), the
 * next read is asked for here. (Internal API, as limitPacketSize.)
 */
export const READ_SLICE_BYTES = 16 * 1024

export function readInSlices(client: Client, bytes: number): void {
  const internals = client as unknown as ClientInternals
  const { conn, _parser: parser } = internals
  if (!conn || !parser || typeof internals._nextBatch !== 'function' || conn.readableObjectMode) return
  const read = conn.read.bind(conn)
  const parse = parser.parse.bind(parser)
  // A packet handled at once (nothing to deliver here) asks for the next read while its slice is still
  // being parsed; a slice parsed then would cut into that one. It waits for the next turn instead.
  let parsing = false
  parser.parse = (buffer: Buffer) => {
    parsing = true
    try {
      return parse(buffer)
    } finally {
      parsing = false
    }
  }
  let scheduled = false
  const continueIfIdle = () => {
    scheduled = false
    if (internals._parsingBatch === 0 && !internals._paused && !internals.closed && conn.readableLength > 0)
      internals._nextBatch()
  }
  // one pending check per connection, however many packets of a slice asked for a read
  const continueLater = () => {
    if (scheduled) return
    scheduled = true
    setImmediate(continueIfIdle)
  }
  conn.read = (size?: number) => {
    if (size !== undefined && size !== null) return read(size)
    if (parsing) {
      if (conn.readableLength > 0) continueLater()
      return null
    }
    const slice = read(Math.min(conn.readableLength, bytes) || undefined)
    if (conn.readableLength > 0) continueLater()
    return slice
  }
}

/**
 * A token bucket per client (an MQTT client or a JSON websocket): `rate` publishes per second, bursts up to twice that.
 */
export function createPublishRateLimit(config: Config['mqtt']) {
  const buckets = new WeakMap<object, { tokens: number; at: number }>()
  const capacity = config.publishRate * 2
  return (client: object): boolean => {
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

/**
 * Sessions of each key held on all instances together (Redis): counted from authentication to the
 * connection's end. Keyless token sessions count by browser session or user (auth.ts countedAs).
 */
export interface SharedKeySessions {
  /** takes one of the key's sessions unless `limit` are held; false when they are */
  take(keyId: string, limit: number): Promise<boolean>
  /** gives back one taken */
  give(keyId: string): Promise<void>
}

/** How long a CONNECT waits for Redis to count its key's sessions; then this instance's count decides. */
const SHARED_COUNT_WAIT_MS = 1000

export interface SessionsPerKey {
  /**
   * Counts the client, being authenticated with the key, as one of the key's sessions until its
   * connection ends; false (and not counted) when the key holds `limit` already. `replacing`: the
   * client takes over a session of the same key and id, which is closed for it, so it needs no
   * room of its own.
   */
  admit(client: Client, keyId: string, replacing: boolean): Promise<boolean>
  /** stops counting a client admitted and then refused for another reason */
  leave(client: Client): void
}

/**
 * `--mqtt-connections-per-key`. A session counts from the moment its key is found, not from its
 * CONNACK: a burst of CONNECTs with one key cannot all pass before the first of them registers.
 * With `shared`, the sessions on every instance count; while Redis does not answer, this one's do.
 */
export function limitSessionsPerKey(limit: number, log: Logger, shared?: SharedKeySessions): SessionsPerKey {
  const here = new Map<string, number>()
  const leaving = new WeakMap<Client, () => void>()
  const count = (keyId: string, by: number) => {
    const n = (here.get(keyId) ?? 0) + by
    if (n > 0) here.set(keyId, n)
    else here.delete(keyId)
  }
  let degraded = false // one log line per Redis outage, not one per CONNECT
  const unshared = (err: unknown) => {
    if (!degraded)
      log.warn(
        { err },
        'mqtt sessions per key are not counted through redis; each instance counts its own until they are',
      )
    degraded = true
  }
  const sharedAgain = () => {
    if (degraded) log.info('mqtt sessions per key are counted through redis again')
    degraded = false
  }
  return {
    async admit(client, keyId, replacing) {
      const allowed = limit + (replacing ? 1 : 0)
      if ((here.get(keyId) ?? 0) >= allowed) return false
      count(keyId, 1) // at once: the next CONNECT of a burst sees it
      const taken = shared?.take(keyId, allowed)
      const answer = await within(
        SHARED_COUNT_WAIT_MS,
        taken?.catch((err: unknown) => {
          unshared(err)
          return undefined
        }),
      )
      if (answer !== undefined) sharedAgain()
      if (answer === false) {
        count(keyId, -1)
        return false
      }
      let left = false
      const leave = () => {
        if (left) return
        left = true
        count(keyId, -1)
        // also an answer that came too late took a session there
        void taken
          ?.then(
            (took) => (took ? shared!.give(keyId) : undefined),
            () => undefined,
          )
          .catch(unshared)
      }
      // closed while counted: Aedes ignores what authentication answers then
      if (client.closed) {
        leave()
        return true
      }
      client.conn.once('close', leave)
      leaving.set(client, leave)
      return true
    },
    leave(client) {
      leaving.get(client)?.()
    },
  }
}
