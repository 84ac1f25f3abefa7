// The JSON websocket's flow limits, MQTT's own (limits.ts, Aedes' drain timeout): frames in at most
// at --mqtt-publish-rate, a backlog of frames in pauses reading, and a client that stops reading what
// it is sent is closed after --mqtt-drain-timeout instead of its frames piling up in memory.
import type { WebSocket } from 'ws'
import type { Config } from '../core/config.ts'
import type { Logger } from '../core/log.ts'
import { createPublishRateLimit } from './limits.ts'

/** Frames received and not yet handled before reading pauses. */
const MAX_FRAMES_WAITING = 100
/** Deliveries waiting for their access check before further ones are dropped. */
const MAX_DELIVERIES_WAITING = 1000
/** RFC 6455 7.4.1: a policy violation */
const POLICY_VIOLATION = 1008

export interface JsonSocketFlow {
  /** counts a frame received; false (and the socket is being closed) when it is over the rate */
  received(): boolean
  /** a frame received was handled */
  handled(): void
  /** whether a frame may be queued for the client now; false drops it (the client is not reading) */
  maySend(): boolean
  /** whether another delivery may wait for its turn; false drops it */
  mayDeliver(waiting: number): boolean
  close(): void
}

export function jsonSocketFlow(ws: WebSocket, limits: Config['mqtt'], log: Logger, connection: string): JsonSocketFlow {
  const withinRate = createPublishRateLimit(limits)
  const maxBuffered = Math.max(4 * limits.maxPacketSize, 4 << 20)
  const holds = new Set<string>()
  const hold = (why: string) => {
    holds.add(why)
    ws.pause()
  }
  const release = (why: string) => {
    if (holds.delete(why) && holds.size === 0 && ws.readyState === ws.OPEN) ws.resume()
  }
  const refuse = (message: string) => {
    if (ws.readyState !== ws.OPEN) return
    log.info({ connection, limit: limits.publishRate }, `json websocket closed: ${message}`)
    ws.send(JSON.stringify({ type: 'error', timestamp: new Date().toISOString(), parameters: { message } }))
    ws.close(POLICY_VIOLATION, message)
    holds.clear()
    ws.resume() // to read the client's answer to the close frame
  }
  let waiting = 0
  let stalled: NodeJS.Timeout | undefined
  let dropped = 0
  const maySend = () => {
    if (ws.bufferedAmount <= maxBuffered) return true
    dropped++
    // not reading: stop reading from it too, and close it unless it catches up within the drain timeout
    stalled ??= setTimeout(() => {
      stalled = undefined
      if (ws.bufferedAmount <= maxBuffered) return release('not reading')
      log.info(
        { connection, buffered: ws.bufferedAmount, dropped },
        'json websocket closed: the client does not read what it is sent',
      )
      ws.terminate() // a close frame would wait behind the backlog it does not read
    }, limits.drainTimeoutMs)
    hold('not reading')
    return false
  }
  return {
    received() {
      if (!withinRate(ws)) {
        refuse(`message rate exceeded (at most ${limits.publishRate} a second)`)
        return false
      }
      if (++waiting >= MAX_FRAMES_WAITING) hold('frames waiting')
      return true
    },
    handled() {
      if (--waiting < MAX_FRAMES_WAITING) release('frames waiting')
    },
    maySend,
    mayDeliver(n) {
      if (n < MAX_DELIVERIES_WAITING) return maySend()
      dropped++
      return false
    },
    close() {
      if (stalled) clearTimeout(stalled)
    },
  }
}
