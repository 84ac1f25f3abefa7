// The emitter the instances on one Redis share (Aedes' `mq`), local first: a publish reaches this
// instance's subscribers at once and goes to Redis only for the others, which hear it on the pattern
// of a filter they listen to. Replaces mqemitter-redis, which sent every message through Redis and
// back, encoded with msgpack-lite: 3× the broker's CPU per relayed message (bench/workers.ts).
// Frame: origin id (16 bytes), sequence number (8 bytes), header length (4), JSON header, payload.
import { randomBytes } from 'node:crypto'
import MQEmitter from 'mqemitter'
import type { Redis } from 'ioredis'
import type { ClusterEmitter } from './cluster.ts'

type Message = Parameters<ClusterEmitter['emit']>[0]

const ORIGIN_BYTES = 16

/** MQTT filter → Redis channel pattern: '+' and '#' become '*' (a superset; the local emitter matches exactly) */
export function channelPattern(prefix: string, filter: string): string {
  const escaped = filter.replace(/[*?[\]\\]/g, '\\$&')
  return prefix + escaped.replace(/(^|\/)#$/, '*').replace(/\+/g, '*')
}

export function redisEmitter(pub: Redis, sub: Redis, prefix: string, close: ClusterEmitter['close']): ClusterEmitter {
  // no queue, as for the in-memory emitter (index.ts): a bounded one drained itself recursively and overflowed the stack
  const local = MQEmitter({ concurrency: 0, matchEmptyLevels: true })
  const origin = randomBytes(ORIGIN_BYTES)
  let sent = 0n
  const patterns = new Map<string, number>() // pattern → listeners on it
  // Redis delivers a message once per matching pattern, consecutively: the newest number of each origin drops repeats
  const newest = new Map<string, bigint>()

  sub.on('pmessageBuffer', (_pattern: Buffer, _channel: Buffer, frame: Buffer) => {
    if (frame.length < ORIGIN_BYTES + 12 || origin.equals(frame.subarray(0, ORIGIN_BYTES))) return
    const from = frame.toString('latin1', 0, ORIGIN_BYTES)
    const n = frame.readBigUInt64BE(ORIGIN_BYTES)
    if ((newest.get(from) ?? -1n) >= n) return
    newest.set(from, n)
    const headerEnd = ORIGIN_BYTES + 12 + frame.readUInt32BE(ORIGIN_BYTES + 8)
    const { s, ...header } = JSON.parse(frame.toString('utf8', ORIGIN_BYTES + 12, headerEnd)) as Message & { s?: 1 }
    const payload = frame.subarray(headerEnd)
    local.emit({ ...header, payload: s ? payload.toString() : Buffer.from(payload) })
  })

  return {
    on(topic, listener, done) {
      local.on(topic, listener)
      const pattern = channelPattern(prefix, topic)
      const count = patterns.get(pattern) ?? 0
      patterns.set(pattern, count + 1)
      // done once Redis listens: a SUBACK then means the other instances' messages arrive
      if (count > 0) return done && setImmediate(done)
      sub.psubscribe(pattern).then(
        () => done?.(),
        () => done?.(),
      )
    },
    removeListener(topic, listener, done) {
      local.removeListener(topic, listener)
      const pattern = channelPattern(prefix, topic)
      const count = (patterns.get(pattern) ?? 1) - 1
      if (count > 0) patterns.set(pattern, count)
      else {
        patterns.delete(pattern)
        void sub.punsubscribe(pattern).catch(() => undefined)
      }
      if (done) setImmediate(done)
    },
    emit(message, done) {
      local.emit(message)
      const { payload, ...header } = message as Message & { payload?: Buffer | string }
      const json = Buffer.from(JSON.stringify(typeof payload === 'string' ? { ...header, s: 1 } : header))
      const head = Buffer.allocUnsafe(ORIGIN_BYTES + 12)
      origin.copy(head)
      head.writeBigUInt64BE(++sent, ORIGIN_BYTES)
      head.writeUInt32BE(json.length, ORIGIN_BYTES + 8)
      const frame = Buffer.concat([
        head,
        json,
        typeof payload === 'string' ? Buffer.from(payload) : (payload ?? Buffer.alloc(0)),
      ])
      pub.publish(prefix + message.topic, frame).then(
        () => done?.(),
        (err: Error) => done?.(err),
      )
    },
    close(done) {
      local.close(() => close(done))
    },
  }
}
