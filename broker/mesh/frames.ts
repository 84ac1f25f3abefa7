// The frames instances of one Redis exchange in the mesh (emitter.ts): a published packet in a compact
// binary form (the bulk of the traffic, so no JSON or msgpack on its fields), and small JSON control
// frames for the handshake and the filters each instance listens to.
import { createRequire } from 'node:module'
import { deserialize, serialize } from 'node:v8'

export const FrameType = {
  /** a packet emitted by the sender's broker */
  Message: 1,
  /** every filter the sender listens to, replacing what was known (with `answer`: send yours back) */
  Sync: 2,
  /** the sender listens to one more filter; answer with Ack once it counts */
  Add: 3,
  Ack: 4,
  /** the sender stopped listening to a filter */
  Remove: 5,
  /** first frame on a socket: who connects, with the secret the workers of one primary share */
  Hello: 7,
  /** a Message whose topic and client id may name a string of an earlier frame of its batch */
  NamingMessage: 8,
  /** the first NamingMessage of a batch: the strings it can name start over */
  FirstNamingMessage: 9,
} as const

export const isMessage = (frame: Buffer): boolean =>
  frame[0] === FrameType.Message || frame[0] === FrameType.NamingMessage || frame[0] === FrameType.FirstNamingMessage

/**
 * Sent in Sync by instances that read NamingMessage frames; others are sent Message frames. A string
 * is named only within its batch, which reaches the peer whole or not at all (a socket write, a
 * Redis PUBLISH): a dropped batch cannot leave a name pointing at the wrong string.
 */
export const NAMING = 1
/** How many strings (topics, client ids) a batch can name: the first distinct ones. */
const NAMES = 16

type Types = typeof FrameType

export type Control =
  | { type: Types['Sync']; filters: string[]; answer?: boolean; naming?: number }
  | { type: Types['Add']; filter: string; seq: number }
  | { type: Types['Ack']; seq: number }
  | { type: Types['Remove']; filter: string }
  | { type: Types['Hello']; id: string; secret: string }

export type Packet = { topic: string } & Record<string, unknown>

// its types declare a namespace; the module is the constructor Aedes makes every packet with
const AedesPacket = createRequire(import.meta.url)('aedes-packet') as new (fields: Packet) => Packet

export function encodeControl(control: Control): Buffer {
  const { type, ...body } = control
  const json = JSON.stringify(body)
  const frame = Buffer.allocUnsafe(1 + Buffer.byteLength(json))
  frame[0] = type
  frame.write(json, 1)
  return frame
}

export function decodeControl(frame: Buffer): Control {
  return { type: frame[0], ...JSON.parse(frame.toString('utf8', 1)) } as Control
}

const RETAIN = 4
const DUP = 8
const EXTRA = 16
const CLIENT_ID = 32
/** the packet's brokerId is the sender's own (Aedes' for what its clients publish): not written */
const SENDERS = 64

/** Bytes for one peer, gathered over a millisecond in a slab reused until it is full. */
export class Outbox {
  private slab = Buffer.allocUnsafe(SLAB)
  private start = 0
  at = 0
  get empty(): boolean {
    return this.at === this.start
  }
  /** The slab, with room for `bytes` more at `at`; a batch that outgrows it moves to a larger one. */
  reserve(bytes: number): Buffer {
    if (this.at + bytes > this.slab.length) {
      const next = Buffer.allocUnsafe(Math.max(SLAB, (this.at - this.start + bytes) * 2))
      this.slab.copy(next, 0, this.start, this.at)
      this.at -= this.start
      this.start = 0
      this.slab = next
    }
    return this.slab
  }
  /** What was gathered since the last take; the bytes stay as they are (the next batch follows them). */
  take(): Buffer {
    const batch = this.slab.subarray(this.start, this.at)
    this.start = this.at
    return batch
  }
  /** A frame after its 4-byte length. */
  put(frame: Buffer): void {
    const slab = this.reserve(4 + frame.length)
    slab.writeUInt32LE(frame.length, this.at)
    this.at += 4 + frame.copy(slab, this.at + 4)
  }
}
const SLAB = 256 * 1024

/** The strings the frames of the batch being gathered can name (a sender's side of NamingMessage). */
export class BatchNames {
  list: string[] = []
  /** no frame of this batch has been put yet */
  fresh = true
  /** a new batch */
  start(): void {
    this.list.length = 0
    this.fresh = true
  }
}

/**
 * Puts a packet in the outbox as a frame after its length: [type][flags][brokerCounter f64][topic]
 * [brokerId u16+utf8][clientId][extra u32+v8][payload…]. The flags hold qos (2 bits), retain, dup,
 * whether a clientId and extra fields follow, and whether the brokerId is `sender` (then written as
 * empty). Without `names`, a topic or client id is u16+utf8; with them, a byte first: 0 for u16+utf8
 * that follows, k for the batch's kth distinct string.
 */
export function putMessage(outbox: Outbox, packet: Packet, sender: string, names?: BatchNames): void {
  // Besides the fields every packet has, what an Aedes packet may carry (aedes-packet copies no
  // other) goes in a serialized extra part, rare enough for its cost not to matter. Each is read by
  // name: a loop over their names made every read a megamorphic keyed load.
  let extra: Record<string, unknown> | undefined
  if (packet.nl !== undefined) (extra ??= {}).nl = packet.nl
  if (packet.properties !== undefined) (extra ??= {}).properties = packet.properties
  if (packet.messageExpiry !== undefined) (extra ??= {}).messageExpiry = packet.messageExpiry
  if (packet.cmd !== undefined && packet.cmd !== 'publish') (extra ??= {}).cmd = packet.cmd
  const extraBytes = extra ? serialize(extra) : undefined
  const payload = toBuffer(packet.payload)
  const senders = packet.brokerId === sender
  const brokerId = senders || typeof packet.brokerId !== 'string' ? '' : packet.brokerId
  const clientId = typeof packet.clientId === 'string' ? packet.clientId : undefined
  // at most 3 bytes of UTF-8 per UTF-16 unit: room without measuring the strings first
  const strings = 3 * (packet.topic.length + brokerId.length + (clientId?.length ?? 0))
  const frame = outbox.reserve(4 + 22 + strings + (extraBytes?.length ?? 0) + payload.length)
  const begin = outbox.at
  let at = begin + 4
  frame[at] = !names ? FrameType.Message : names.fresh ? FrameType.FirstNamingMessage : FrameType.NamingMessage
  if (names) names.fresh = false
  frame[at + 1] =
    (Number(packet.qos) & 3) |
    (packet.retain ? RETAIN : 0) |
    (packet.dup ? DUP : 0) |
    (extra ? EXTRA : 0) |
    (clientId === undefined ? 0 : CLIENT_ID) |
    (senders ? SENDERS : 0)
  frame.writeDoubleLE(Number(packet.brokerCounter ?? 0), at + 2)
  at += 10
  at = putName(frame, at, packet.topic, names)
  at = putString(frame, at, brokerId)
  at = putName(frame, at, clientId ?? '', names)
  frame.writeUInt32LE(extraBytes?.length ?? 0, at)
  at += 4
  if (extraBytes) at += extraBytes.copy(frame, at)
  at += payload.copy(frame, at)
  frame.writeUInt32LE(at - begin - 4, begin)
  outbox.at = at
}

function putString(frame: Buffer, at: number, text: string): number {
  // topics and ids are short and mostly ASCII: a loop here costs less than a call into C++
  let length = 0
  if (text.length <= 64) {
    for (; length < text.length; length++) {
      const code = text.charCodeAt(length)
      if (code > 0x7f) break
      frame[at + 2 + length] = code
    }
  }
  if (length < text.length) length = frame.write(text, at + 2)
  frame.writeUInt16LE(length, at)
  return at + 2 + length
}

/** A topic or client id: u16+utf8, or with `names` (a NamingMessage) a tag byte first, as readName reads it. */
function putName(frame: Buffer, at: number, text: string, names?: BatchNames): number {
  if (!names) return putString(frame, at, text)
  const known = names.list.indexOf(text)
  if (known !== -1) {
    frame[at] = known + 1
    return at + 1
  }
  frame[at] = 0
  if (names.list.length < NAMES) names.list.push(text)
  return putString(frame, at + 1, text)
}

/**
 * A topic or client id: u16+utf8, or in a NamingMessage (`names` given) a tag byte first. Sets
 * nameEnd to where the frame goes on.
 */
function readName(frame: Buffer, at: number, recent: RecentStrings, names?: string[]): string {
  if (!names) {
    nameEnd = at + 2 + frame.readUInt16LE(at)
    return recent.read(frame, at + 2, nameEnd)
  }
  const tag = frame[at]!
  if (tag !== 0) {
    const name = names[tag - 1]
    if (name === undefined) throw new Error(`mesh frame names string ${tag} of ${names.length}`)
    nameEnd = at + 1
    return name
  }
  nameEnd = at + 3 + frame.readUInt16LE(at + 1)
  const name = recent.read(frame, at + 3, nameEnd)
  if (names.length < NAMES) names.push(name)
  return name
}
let nameEnd = 0

type Sliceable = Buffer & { utf8Slice(start: number, end: number): string }

/** How many strings a RecentStrings keeps, and the longest it keeps. */
const RECENT = 8
const RECENT_BYTES = 64

/**
 * The topics and client ids of the last frames from one sender. They repeat (a few publishers, a few
 * topics each), and comparing a few bytes costs less than making the same string again. It holds
 * copies of the bytes, never a frame's memory.
 */
export class RecentStrings {
  private bytes: Buffer[] = []
  private strings: string[] = []
  private next = 0
  read(frame: Buffer, start: number, end: number): string {
    const length = end - start
    for (let i = 0; i < this.bytes.length; i++) {
      const known = this.bytes[i]!
      if (known.length !== length) continue
      let at = 0
      while (at < length && known[at] === frame[start + at]) at++
      if (at === length) return this.strings[i]!
    }
    const text = (frame as Sliceable).utf8Slice(start, end)
    if (length <= RECENT_BYTES) {
      const copy = Buffer.allocUnsafe(length)
      frame.copy(copy, 0, start, end)
      this.bytes[this.next] = copy
      this.strings[this.next] = text
      this.next = (this.next + 1) % RECENT
    }
    return text
  }
}

/**
 * `sender`: the id of the instance the frame came from; `recent`: the strings of its last frames;
 * `names`: the strings its frames named so far in this batch (one array per socket or Redis message).
 */
export function decodeMessage(frame: Buffer, sender: string, recent: RecentStrings, names?: string[]): Packet {
  const naming = frame[0] !== FrameType.Message
  if (naming && !names) throw new Error('mesh frame names strings where none can be')
  if (frame[0] === FrameType.FirstNamingMessage) names!.length = 0
  const named = naming ? names : undefined
  const flags = frame[1]!
  const topic = readName(frame, 10, recent, named)
  let at = nameEnd
  const brokerIdLength = frame.readUInt16LE(at)
  // utf8Slice: toString's checks cost more than the decoding of a short string
  const brokerId = flags & SENDERS ? sender : (frame as Sliceable).utf8Slice(at + 2, (at += 2 + brokerIdLength))
  if (flags & SENDERS) at += 2
  const clientId = readName(frame, at, recent, named)
  at = nameEnd
  const extraLength = frame.readUInt32LE(at)
  at += 4
  const fields: Packet = {
    cmd: 'publish',
    brokerId,
    brokerCounter: frame.readDoubleLE(2),
    topic,
    payload: copyOf(frame, at + extraLength),
    qos: flags & 3,
    retain: (flags & RETAIN) !== 0,
    dup: (flags & DUP) !== 0,
  }
  if (flags & EXTRA) Object.assign(fields, deserialize(frame.subarray(at, at + extraLength)))
  // Aedes' own Packet, clientId set last as Aedes sets it: the code that delivers it then sees one
  // shape of packet, not two (a second shape cost more than decoding the frame)
  const packet = new AedesPacket(fields)
  if (flags & CLIENT_ID) packet.clientId = clientId
  return packet
}

/** A copy: the frame's memory is one socket read, shared by many packets, which a payload must not hold. */
function copyOf(frame: Buffer, start: number): Buffer {
  const payload = Buffer.allocUnsafe(frame.length - start)
  frame.copy(payload, 0, start)
  return payload
}

function toBuffer(payload: unknown): Buffer {
  if (Buffer.isBuffer(payload)) return payload
  if (payload instanceof Uint8Array) return Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)
  if (payload === undefined || payload === null) return Buffer.alloc(0)
  return Buffer.from(String(payload))
}
