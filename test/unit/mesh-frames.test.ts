// The bytes Tendril instances exchange for each relayed message (broker/mesh/): whatever an Aedes
// packet carries arrives as it was sent, and a turn's frames come apart where they were put together.
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { PassThrough } from 'node:stream'
import { connect, createServer, type AddressInfo, type Socket } from 'node:net'
import { describe, test } from 'node:test'
import { BatchNames, decodeMessage, Outbox, putMessage, RecentStrings, type Packet } from '../../broker/mesh/frames.ts'
import { readFrames } from '../../broker/mesh/links.ts'

/** The instance that sends: what its own clients publish carries its id as brokerId. */
const SENDER = 'host-8080.w1.mxdbjk1qa00f1a'

const AedesPacket = createRequire(import.meta.url)('aedes-packet') as new (fields: Packet) => Packet

/** A packet as Aedes emits it: made by its Packet constructor, the publisher's clientId set afterwards. */
function packet(fields: Partial<Packet> = {}): Packet {
  const { clientId, ...rest } = fields
  const made = new AedesPacket({
    cmd: 'publish',
    brokerId: SENDER,
    brokerCounter: 41,
    topic: 'acme/greenhouse/pi-1/temperature',
    payload: Buffer.from('{"v":21.5}'),
    qos: 0,
    retain: false,
    dup: false,
    ...rest,
  })
  if (clientId !== undefined) made.clientId = clientId
  return made
}

/** A packet through the bytes a link sends: put in an outbox, taken, read back (its length skipped). */
function roundTrip(sent: Packet): Packet {
  const outbox = new Outbox()
  putMessage(outbox, sent, SENDER)
  return decodeMessage(outbox.take().subarray(4), SENDER, new RecentStrings())
}

describe('mesh frames', () => {
  test('a packet arrives with every field it was sent with', () => {
    const cases: Packet[] = [
      packet(),
      packet({ clientId: 'acme/greenhouse/pi-1/bench-1', qos: 1, retain: true, dup: true }),
      packet({ topic: 'école/serre/température/°C', payload: Buffer.from('vingt-et-un ☀') }),
      packet({ topic: 'serre/température', clientId: 'capteur-été', brokerId: 'hôte' }), // ASCII, then not
      packet({ topic: `acme/${'x'.repeat(100)}/é` }), // longer than the ASCII loop takes
      packet({ payload: Buffer.alloc(0), clientId: '' }),
      packet({ brokerId: 'b'.repeat(300), brokerCounter: 2 ** 40 + 7 }), // longer than one length byte holds
      packet({ brokerId: 'host-8080.w2.mxdbjk1qa00f1a' }), // another instance's (a will it publishes for it)
      packet({ brokerId: '' }),
      packet({
        qos: 2,
        properties: { correlationData: Buffer.from([1, 2, 3]), userProperties: { site: 'north' }, contentType: 'x' },
        messageExpiry: 1_796_650_000_000,
        nl: true,
      }),
      packet({ payload: Buffer.alloc(300_000, 7) }), // larger than the outbox's slab
    ]
    for (const sent of cases) {
      const received = roundTrip(sent)
      assert.deepEqual(received, sent)
      // the same constructor as Aedes' own packets, or the code that delivers them sees two shapes
      assert.ok(received instanceof AedesPacket)
      assert.ok(Buffer.isBuffer(received.payload))
      const properties = received.properties as { correlationData?: unknown } | undefined
      if (properties) assert.ok(Buffer.isBuffer(properties.correlationData), 'a Buffer inside properties stays one')
    }
  })

  test('topics and client ids read through the strings of earlier frames are always those of this frame', () => {
    const recent = new RecentStrings()
    const outbox = new Outbox()
    const sent: Packet[] = []
    // same lengths with other bytes, more names than it remembers, non-ASCII, longer than it keeps, empty
    const topics = [
      ...Array.from({ length: 12 }, (_, i) => `acme/pi-${i % 10}/level`),
      'école/serre/température',
      `acme/${'x'.repeat(80)}`,
      'acme/pi-1/level',
    ]
    for (let i = 0; i < 600; i++)
      sent.push(
        packet({
          topic: topics[(i * 7) % topics.length]!,
          clientId: i % 5 === 0 ? '' : `pub-${i % 11}`,
          brokerCounter: i,
        }),
      )
    for (const p of sent) putMessage(outbox, p, SENDER)
    const bytes = outbox.take()
    const received: Packet[] = []
    for (let at = 0; at < bytes.length;) {
      const length = bytes.readUInt32LE(at)
      received.push(decodeMessage(bytes.subarray(at + 4, at + 4 + length), SENDER, recent))
      at += 4 + length
    }
    assert.deepEqual(received, sent)
  })

  test('frames that name the strings of their batch read back as sent, even after a batch was lost', () => {
    const outbox = new Outbox()
    const names = new BatchNames()
    // more distinct topics and client ids than a batch names, some repeated, non-ASCII, empty
    const topics = [...Array.from({ length: 20 }, (_, i) => `acme/pi-${i}/level`), 'école/serre/température']
    const batches: { bytes: Buffer; sent: Packet[] }[] = []
    let counter = 0
    for (let b = 0; b < 30; b++) {
      names.start() // as a link does when it opens a batch
      const sent: Packet[] = []
      for (let i = 0; i < 40; i++) {
        const p = packet({
          topic: topics[(b * 3 + i * 7) % topics.length]!,
          clientId: i % 9 === 0 ? '' : `pub-${(b + i) % 13}`,
          brokerCounter: counter++,
        })
        sent.push(p)
        // the first batch starts without names, as before the peer's Sync said it reads them
        putMessage(outbox, p, SENDER, b === 0 && i < 10 ? undefined : names)
      }
      batches.push({ bytes: outbox.take(), sent })
    }
    const recent = new RecentStrings()
    const read: string[] = [] // one list per socket, kept from batch to batch
    const received: Packet[] = []
    const expected: Packet[] = []
    for (const [b, { bytes, sent }] of batches.entries()) {
      if (b % 4 === 2) continue // dropped: the next batch must not name what this one said
      expected.push(...sent)
      for (let at = 0; at < bytes.length;) {
        const length = bytes.readUInt32LE(at)
        received.push(decodeMessage(bytes.subarray(at + 4, at + 4 + length), SENDER, recent, read))
        at += 4 + length
      }
    }
    assert.deepEqual(received, expected)

    const plain = new Outbox()
    for (const { sent } of batches) for (const p of sent) putMessage(plain, p, SENDER)
    const named = batches.reduce((n, { bytes }) => n + bytes.length, 0)
    assert.ok(named < plain.take().length * 0.8, 'names make the frames smaller')
  })

  test('a frame that names a string its batch never held is refused, not read with another string', () => {
    const outbox = new Outbox()
    const names = new BatchNames()
    putMessage(outbox, packet({ topic: 'acme/pi-1/level' }), SENDER, names)
    putMessage(outbox, packet({ topic: 'acme/pi-1/level' }), SENDER, names)
    const bytes = outbox.take()
    const second = bytes.subarray(4 + bytes.readUInt32LE(0) + 4)
    // a socket's first frame, say: nothing named yet
    assert.throws(() => decodeMessage(second, SENDER, new RecentStrings(), []), /names string 1 of 0/)
    assert.throws(() => decodeMessage(second, SENDER, new RecentStrings()), /names strings where none can be/)
  })

  test('a payload given as a Uint8Array or a string arrives as the same bytes', () => {
    assert.deepEqual(roundTrip(packet({ payload: new Uint8Array([104, 105]) })).payload, Buffer.from('hi'))
    assert.deepEqual(roundTrip(packet({ payload: 'hi' })).payload, Buffer.from('hi'))
  })

  test('frames gathered over several turns, in slabs that fill up, are read back whole and in order', async () => {
    const outbox = new Outbox()
    const batches: Buffer[] = []
    const sent: Packet[] = []
    for (let turn = 0; turn < 40; turn++) {
      for (let i = 0; i < 50; i++) {
        const p = packet({ brokerCounter: turn * 50 + i, payload: Buffer.alloc(i * 97, turn) })
        sent.push(p)
        putMessage(outbox, p, SENDER)
      }
      batches.push(outbox.take()) // what one socket write carries
    }
    // the reader sees the bytes cut anywhere, not where the batches end: inside a length too
    const all = Buffer.concat(batches)
    for (const [cut, bytes] of [
      [7919, all.length],
      [3, 20_000],
    ] as const) {
      const wire = new PassThrough()
      const received: Packet[] = []
      const recent = new RecentStrings() // one per peer, as the mesh keeps it
      readFrames(wire as unknown as Socket, Number.MAX_SAFE_INTEGER, (frame) => {
        received.push(decodeMessage(frame, SENDER, recent))
        return true
      })
      const part = all.subarray(0, bytes)
      for (let at = 0; at < part.length; at += cut) wire.write(part.subarray(at, at + cut))
      await new Promise((resolve) => setImmediate(resolve))
      assert.ok(received.length > 0)
      assert.deepEqual(received, sent.slice(0, received.length), `cut every ${cut} bytes`)
      if (bytes === all.length) assert.equal(received.length, sent.length)
    }
  })

  test('a first frame larger than its limit closes the connection instead of being buffered', async () => {
    const closed = new Promise<string>((resolve) => {
      const server = createServer((socket) => {
        socket.on('error', (err) => resolve(err.message))
        readFrames(socket, 4096, () => true)
      }).listen(0, '127.0.0.1', () => {
        const client = connect((server.address() as AddressInfo).port, '127.0.0.1', () => {
          const header = Buffer.alloc(4)
          header.writeUInt32LE(1_000_000)
          client.write(header)
        })
        client.on('close', () => server.close())
      })
    })
    assert.match(await closed, /mesh frame of 1000000 bytes/)
  })
})
