// Child process of bench/workers.ts --load light: the same job as throughput-worker.ts (one
// subscriber, several QoS 0 publishers on one topic) at a fraction of MQTT.js's CPU. Each client
// speaks MQTT 3.1.1 over its own TCP socket (CONNECT with the key, SUBSCRIBE, PUBLISH), but
// publishers write packets encoded once, many to a write, and the subscriber counts PUBLISH
// packets by their fixed header without decoding them. On two cores, the load generator's CPU
// is CPU the brokers under test cannot have.
import { connect as tcpConnect, type Socket } from 'node:net'
import mqtt from 'mqtt-packet'
import type { ThroughputJob, ThroughputResult } from './throughput-worker.ts'
import { countThroughput } from './throughput-count.ts'
import { serveJobs } from './worker.ts'

/** Packets per write when publishing as fast as taken: about 5 KB of 80-byte PUBLISHes. */
const PER_WRITE = 64

const PUBLISH = 3
const CONNACK = 2
const SUBACK = 9

/**
 * Calls onPacket(type, body) for each whole packet in the byte stream; a packet
 * cut by the end of a read waits for the rest.
 */
function packets(socket: Socket, onPacket: (type: number, body: Buffer) => void): void {
  let rest: Buffer | undefined
  socket.on('data', (chunk: Buffer) => {
    const data = rest ? Buffer.concat([rest, chunk]) : chunk
    rest = undefined
    let at = 0
    while (at < data.length) {
      // remaining length: up to four bytes of 7 bits, least significant first
      let length = 0
      let multiplier = 1
      let i = at + 1
      let complete = false
      for (; i < data.length && i < at + 5; i++) {
        length += (data[i]! & 0x7f) * multiplier
        multiplier *= 128
        if ((data[i]! & 0x80) === 0) {
          complete = true
          i++
          break
        }
      }
      if (!complete || i + length > data.length) break
      onPacket(data[at]! >> 4, data.subarray(i, i + length))
      at = i + length
    }
    if (at < data.length) rest = data.subarray(at)
  })
}

/** Where each socket's packets go: the one awaited during the handshake, then the counting */
const handlers = new WeakMap<Socket, (type: number, body: Buffer) => void>()

function once(socket: Socket, expected: number, what: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err)
    socket.once('error', onError)
    socket.once('close', () => reject(new Error(`connection closed before ${what}`)))
    const listener = (type: number, body: Buffer) => {
      if (type !== expected) return
      socket.off('error', onError)
      resolve(body)
    }
    handlers.set(socket, listener)
  })
}

async function connect(url: string, clientId: string, auth: ThroughputJob['auth']): Promise<Socket> {
  const { hostname, port } = new URL(url)
  const socket = tcpConnect({ host: hostname, port: Number(port) })
  socket.setNoDelay(true)
  packets(socket, (type, body) => handlers.get(socket)?.(type, body))
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  const connack = once(socket, CONNACK, 'CONNACK')
  socket.write(
    mqtt.generate({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clean: true,
      keepalive: 60,
      clientId,
      ...(auth ? { username: auth.username, password: Buffer.from(auth.password) } : {}),
    }),
  )
  const body = await connack
  if (body[1] !== 0) throw new Error(`CONNECT refused with return code ${body[1]}`)
  socket.on('error', () => {}) // a publisher closed by the broker stops (below); the count tells
  return socket
}

async function run(job: ThroughputJob): Promise<ThroughputResult> {
  const tag = `${process.pid}-${Date.now()}`
  const subscriber = await connect(job.url, `bench-sub-${tag}`, job.auth)
  const publishers = await Promise.all(
    Array.from({ length: job.publishers }, (_, i) => connect(job.url, `bench-pub-${i}-${tag}`, job.auth)),
  )
  try {
    const suback = once(subscriber, SUBACK, 'SUBACK')
    subscriber.write(mqtt.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: job.topic, qos: 0 }] }))
    if ((await suback)[2] === 0x80) throw new Error(`subscription to ${job.topic} refused`)

    const perPublisher = Math.floor(job.messages / job.publishers)
    const one = mqtt.generate({
      cmd: 'publish',
      topic: job.topic,
      payload: Buffer.from(job.payload),
      qos: 0,
      retain: false,
      dup: false,
    })
    const batch = Buffer.concat(Array.from({ length: PER_WRITE }, () => one))
    const count = countThroughput(job.idleMs)
    handlers.set(subscriber, (type) => type === PUBLISH && count.received())
    subscriber.once('close', () => count.closed())
    // paced (--rate): each publisher sends what is due every millisecond, in one write
    const perMs = job.rate ? job.rate / job.publishers / 1000 : 0
    await Promise.all(
      publishers.map(async (socket) => {
        let mine = 0
        while (mine < perPublisher && performance.now() - count.start < job.maxMs && !socket.destroyed) {
          let inWrite = PER_WRITE
          if (perMs) {
            const due = Math.floor((performance.now() - count.start) * perMs) - mine
            if (due <= 0) {
              await new Promise((resolve) => setTimeout(resolve, 1))
              continue
            }
            inWrite = Math.min(due, PER_WRITE)
          }
          inWrite = Math.min(inWrite, perPublisher - mine)
          const more = socket.write(inWrite === PER_WRITE ? batch : batch.subarray(0, inWrite * one.length))
          mine += inWrite
          count.sent(inWrite)
          if (!more)
            await new Promise<void>((resolve) => {
              const go = () => {
                socket.off('drain', go)
                socket.off('close', go)
                resolve()
              }
              socket.on('drain', go)
              socket.on('close', go)
            })
        }
      }),
    )
    return await count.result()
  } finally {
    // publishers first (see throughput-worker.ts), each with a DISCONNECT
    const end = (socket: Socket) =>
      new Promise<void>((resolve) => {
        if (socket.destroyed) return resolve()
        socket.once('close', () => resolve())
        socket.end(mqtt.generate({ cmd: 'disconnect' }))
      })
    await Promise.all(publishers.map(end))
    await end(subscriber)
  }
}

serveJobs(run)
