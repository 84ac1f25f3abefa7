// How frames reach one other instance of the mesh: a loopback socket between the workers of one
// primary, or a Redis channel for any other instance. Both gather the frames of a millisecond into one
// write (one socket write, one PUBLISH): relaying a burst costs a few calls, not one each.
import type { Socket } from 'node:net'
import type { Redis } from 'ioredis'
import { BatchNames, Outbox, putMessage, type Packet } from './frames.ts'

export interface Link {
  readonly kind: 'socket' | 'redis'
  /** the peer reads NamingMessage frames (it said so in its Sync) */
  naming: boolean
  send(frame: Buffer): void
  /** `sent`: called once the frame has left (handed to the kernel, or taken by Redis), or was dropped */
  sendMessage(packet: Packet, sent?: () => void): void
  /** More frames wait to leave than for a peer that keeps up (a socket only). */
  backlogged(): boolean
  /** Calls `drained` once the backlog has left (or the link closed). */
  whenDrained(drained: () => void): void
  close(): void
}

/** A Redis that does not take a batch within this long has its senders told "sent" anyway. */
const REDIS_WAIT_MS = 5000

/** Past this many bytes waiting for a peer that does not read, frames to it are dropped (and counted). */
const MAX_BACKLOG = 64 * 1024 * 1024
/**
 * How long frames wait for others to leave with. A write per turn of the event loop cost more than the
 * relay itself when turns carry few messages (bench/README.md); a millisecond is far below what a
 * network adds.
 */
const GATHER_MS = 1

/** Past this many bytes waiting for a peer, publishers wait for it, as they wait for a slow subscriber. */
const BACKLOG = 1024 * 1024
/**
 * A peer that takes nothing for this long (its event loop stuck) holds no publisher any more until it
 * drains: what is sent to it piles up to MAX_BACKLOG, then is dropped.
 */
const STALLED_MS = 5000
/** A frame larger than this is a broken or hostile peer: MQTT packets stop at 256 MB. */
const MAX_FRAME = 260 * 1024 * 1024

/**
 * A link that gathers what is sent during GATHER_MS, then hands it to `flush` at once,
 * with what to call once it has left. `begin` writes what goes before each batch (the sender's id on
 * Redis).
 */
function batchingLink(
  kind: Link['kind'],
  self: string,
  flush: (batch: Buffer, sent: () => void) => void,
  close: () => void,
  backlogged: Link['backlogged'],
  whenDrained: Link['whenDrained'],
  begin?: (outbox: Outbox) => void,
): Link {
  const outbox = new Outbox()
  const names = new BatchNames()
  let waiting: (() => void)[] = []
  const run = () => {
    const callbacks = waiting
    waiting = []
    flush(outbox.take(), callbacks.length === 0 ? noop : () => callbacks.forEach((sent) => sent()))
  }
  const opening = () => {
    if (!outbox.empty) return
    names.start()
    begin?.(outbox)
    setTimeout(run, GATHER_MS)
  }
  const link: Link = {
    kind,
    naming: false,
    send(frame) {
      opening()
      outbox.put(frame)
    },
    sendMessage(packet, sent) {
      opening()
      putMessage(outbox, packet, self, link.naming ? names : undefined)
      if (sent) waiting.push(sent)
    },
    backlogged,
    whenDrained,
    close,
  }
  return link
}

const noop = () => undefined

/** `self`: this instance's id; `onStalled`: the peer took nothing for STALLED_MS */
export function socketLink(socket: Socket, self: string, onDropped: () => void, onStalled: () => void): Link {
  let waiters: (() => void)[] = []
  let timer: NodeJS.Timeout | undefined
  let stalled = false
  const release = () => {
    clearTimeout(timer)
    timer = undefined
    const called = waiters
    waiters = []
    for (const waiter of called) waiter()
  }
  const drained = () => {
    stalled = false
    release()
  }
  socket.on('drain', drained)
  socket.once('close', drained)
  return batchingLink(
    'socket',
    self,
    (batch, sent) => {
      if (socket.destroyed || socket.writableEnded) return sent()
      if (socket.writableLength > MAX_BACKLOG) {
        onDropped()
        return sent()
      }
      socket.write(batch, () => sent())
    },
    () => socket.end(),
    () => !stalled && socket.writableLength > BACKLOG && !socket.destroyed,
    (waiter) => {
      waiters.push(waiter)
      timer ??= setTimeout(() => {
        stalled = true
        onStalled()
        release()
      }, STALLED_MS)
    },
  )
}

/**
 * Splits a socket's bytes into frames. `limit` bounds the first frame, which must be a Hello, so an
 * unauthenticated local process cannot make the server buffer much; false from onFrame closes it.
 */
export function readFrames(socket: Socket, firstLimit: number, onFrame: (frame: Buffer) => boolean): void {
  // A frame cut by the end of a read is kept as pieces and joined once whole: neither the next read
  // nor a large frame's growing head is copied again at every read.
  let pieces: Buffer[] = []
  let have = 0
  let need = 0 // the whole frame with its length, once the length is known
  let limit = firstLimit
  const tooLarge = (length: number) => {
    if (length <= limit) return false
    socket.destroy(new Error(`mesh frame of ${length} bytes`))
    return true
  }
  socket.on('data', (chunk: Buffer) => {
    let at = 0
    if (have > 0) {
      if (need === 0) {
        at = Math.min(4 - have, chunk.length)
        pieces.push(chunk.subarray(0, at))
        have += at
        if (have < 4) return
        const length = Buffer.concat(pieces, 4).readUInt32LE(0)
        if (tooLarge(length)) return
        need = 4 + length
      }
      const take = Math.min(need - have, chunk.length - at)
      pieces.push(chunk.subarray(at, at + take))
      have += take
      at += take
      if (have < need) return
      const frame = Buffer.concat(pieces, need).subarray(4)
      pieces = []
      have = need = 0
      limit = MAX_FRAME
      if (!onFrame(frame)) return socket.destroy()
    }
    while (chunk.length - at >= 4) {
      const length = chunk.readUInt32LE(at)
      if (tooLarge(length)) return
      if (chunk.length - at - 4 < length) break
      const frame = chunk.subarray(at + 4, at + 4 + length)
      at += 4 + length
      limit = MAX_FRAME
      if (!onFrame(frame)) return socket.destroy()
    }
    if (at === chunk.length) return
    pieces = [chunk.subarray(at)]
    have = chunk.length - at
    need = have >= 4 ? 4 + chunk.readUInt32LE(at) : 0
  })
}

/**
 * Past this many messages from one socket still on their way to subscribers, the socket is not read
 * until half of them arrived: a worker busier than its peer would otherwise queue without bound.
 */
const MAX_UNDELIVERED = 2048

/** Counts the messages read from a socket until their subscribers took them, and holds its reading. */
export function deliveryFlow(socket: Socket): { started(): void; delivered: () => void } {
  let undelivered = 0
  return {
    started() {
      if (++undelivered === MAX_UNDELIVERED) socket.pause()
    },
    delivered: () => {
      if (--undelivered === MAX_UNDELIVERED / 2) socket.resume()
    },
  }
}

/** The frames of one Redis message: who sent them, then the frames as on a socket. */
export function redisLink(pub: Redis, channel: string, from: string): Link {
  const sender = Buffer.from(from)
  return batchingLink(
    'redis',
    from,
    // ioredis keeps commands while Redis is away and sends them when it is back; a failed one was
    // lost with Redis, which the connection's own log line reports
    (batch, sent) => {
      const published = pub.publish(channel, batch).then(noop, noop)
      if (sent === noop) return
      let told = false
      const tell = () => {
        if (told) return
        told = true
        clearTimeout(timer)
        sent()
      }
      const timer = setTimeout(tell, REDIS_WAIT_MS)
      void published.then(tell)
    },
    () => undefined,
    // one connection publishes to every peer: holding publishers back for one would hold them for all
    () => false,
    (drained) => drained(),
    (outbox) => {
      const slab = outbox.reserve(1 + sender.length)
      slab[outbox.at] = sender.length
      outbox.at += 1 + sender.copy(slab, outbox.at + 1)
    },
  )
}

export function splitRedisMessage(message: Buffer): { from: string; frames: Buffer[] } {
  const senderLength = message[0]!
  const from = message.toString('utf8', 1, 1 + senderLength)
  const frames: Buffer[] = []
  let at = 1 + senderLength
  while (at + 4 <= message.length) {
    const length = message.readUInt32LE(at)
    frames.push(message.subarray(at + 4, at + 4 + length))
    at += 4 + length
  }
  return { from, frames }
}
