// Aedes writes every message it forwards from a setImmediate of its own, and mqtt-packet corks the
// connection only until the next tick, so each forwarded message went out in a write system call of
// its own (a third of bare Aedes' CPU when relaying QoS 0) and, over WebSocket, as frames of its own.
// Holding one more cork until the event loop's next turn sends what a turn wrote to a connection in
// one write: one system call, and over WebSocket one frame. A message waits at most that one turn.
import type { Duplex } from 'node:stream'

const ownCork = Symbol('cork')
type Batched = Duplex & { [ownCork]: () => void }
/** connections holding the turn's cork; one setImmediate releases them all (not one per connection and turn) */
const held = new Set<Batched>()

function releaseHeld() {
  const streams = [...held]
  held.clear()
  // end() uncorks whatever is held; the late release is then a no-op
  for (const stream of streams) stream.uncork()
}

// one function for every connection, not closures made per CONNECT
function batchedCork(this: Batched) {
  if (!held.has(this) && !this.destroyed) {
    held.add(this)
    this[ownCork]()
    if (held.size === 1) setImmediate(releaseHeld)
  }
  this[ownCork]()
}

/** The connection, its writes batched per turn of the event loop. */
export function batchWrites<T extends Duplex>(stream: T): T {
  const batched = stream as T & Batched
  batched[ownCork] = stream.cork
  batched.cork = batchedCork
  return stream
}

interface WebSocketDuplex extends Duplex {
  _write(chunk: Buffer, encoding: BufferEncoding, callback: (err?: Error | null) => void): void
  _writev?(chunks: { chunk: Buffer }[], callback: (err?: Error | null) => void): void
}

/**
 * ws's createWebSocketStream sends each chunk as a message of its own; with writes batched, the
 * chunks a turn wrote (an MQTT packet is several) go out as one binary message: a frame may hold
 * several packets or parts of one, and receivers must not assume they align ([MQTT-6.0.0-2]).
 */
export function batchWebSocketWrites(stream: Duplex): Duplex {
  const duplex = stream as WebSocketDuplex
  duplex._writev = (chunks, callback) => duplex._write(Buffer.concat(chunks.map((c) => c.chunk)), 'binary', callback)
  return batchWrites(duplex)
}
