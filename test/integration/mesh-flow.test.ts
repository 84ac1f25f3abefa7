// Flow between the meshes of two workers (broker/mesh/): a worker whose subscribers take messages
// slower than its peer sends them holds the peer's publishers back, as a slow subscriber does in one
// process, instead of queueing what arrives without bound.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { Redis } from 'ioredis'
import { startMesh, type MeshEmitter } from '../../broker/mesh/emitter.ts'
import { createLogger } from '../../core/log.ts'
import { eventually } from '../helpers/http.ts'
import { freshRedisDatabase } from '../helpers/redis.ts'

const SECRET = 'the workers of one primary'
const MESSAGES = 20_000
const PAYLOAD = Buffer.alloc(1024, 'x') // 20 MB in all: more than loopback's socket buffers hold

let redisUrl: string
const opened: { mesh: MeshEmitter; redis: Redis[] }[] = []

/** `pair`: the meshes of one pair hear each other, not those of other tests */
async function startWorkerMesh(id: string, running: string[], pair: string): Promise<MeshEmitter> {
  const [pub, sub] = [new Redis(redisUrl), new Redis(redisUrl)]
  const mesh = await startMesh({
    id,
    channelPrefix: `tendril:mqtt:${pair}/`,
    pub,
    sub,
    secret: SECRET,
    log: createLogger({ logLevel: 'silent', logFormat: 'json' }),
    runningInstances: async () => running,
    isRunning: async () => true,
  })
  opened.push({ mesh, redis: [pub, sub] })
  return mesh
}

before(async () => {
  redisUrl = await freshRedisDatabase()
})
after(async () => {
  for (const { mesh, redis } of opened) {
    await new Promise<void>((resolve) => mesh.close(resolve))
    for (const connection of redis) connection.disconnect()
  }
})

/**
 * Two workers' meshes; a subscriber on the second that takes nothing until released (as a client that
 * stopped reading), and a publisher on the first that sends its next message once the broker is done
 * with the last, a socket read's worth per turn.
 */
async function stuckSubscriber(senderId: string, receiverId: string) {
  const sender = await startWorkerMesh(senderId, [], senderId)
  const receiver = await startWorkerMesh(receiverId, [senderId], senderId)
  assert.deepEqual(
    sender.peers().map((peer) => peer.via),
    ['socket'],
  )
  const received: number[] = []
  const held: (() => void)[] = []
  let stuck = true
  await new Promise<void>((resolve) =>
    receiver.on(
      'acme/pi-1/level',
      (packet, done) => {
        received.push(Number(packet.brokerCounter))
        if (stuck) held.push(done)
        else done()
      },
      resolve,
    ),
  )
  let acknowledged = 0
  const publishing = (async () => {
    for (let n = 1; n <= MESSAGES; n++) {
      const packet = { cmd: 'publish', topic: 'acme/pi-1/level', payload: PAYLOAD, qos: 0, brokerId: senderId }
      await new Promise<void>((resolve) => sender.emit({ ...packet, brokerCounter: n }, () => resolve()))
      acknowledged = n
      if (n % 50 === 0) await new Promise((resolve) => setImmediate(resolve))
    }
  })()
  return {
    received,
    publishing,
    acknowledged: () => acknowledged,
    release() {
      stuck = false
      for (const done of held.splice(0)) done()
    },
    async allArrivedInOrder() {
      assert.ok(await eventually(() => received.length === MESSAGES, 20_000), `${received.length} of ${MESSAGES}`)
      assert.deepEqual(
        received,
        Array.from({ length: MESSAGES }, (_, i) => i + 1),
        'every message once, in order',
      )
    },
  }
}

const UNDELIVERED_READ = 2048 + 100 // what the receiver reads before it stops, and one read more

test('a worker that cannot deliver holds back the publishers of the other, then lets every message through in order', async () => {
  const flow = await stuckSubscriber('w1', 'w2')
  // progress stops: the receiver read a bounded number, and the publisher waits
  let last = -1
  await eventually(async () => {
    const now = flow.acknowledged()
    await new Promise((resolve) => setTimeout(resolve, 300))
    const stalled = now === last && now === flow.acknowledged()
    last = now
    return stalled
  }, 20_000)
  assert.ok(flow.acknowledged() < MESSAGES, `the publisher went on: ${flow.acknowledged()} acknowledged`)
  assert.ok(flow.received.length <= UNDELIVERED_READ, `the receiver read ${flow.received.length} it could not deliver`)
  flow.release()
  await flow.publishing
  await flow.allArrivedInOrder()
})

test('a worker that takes nothing for 5 s holds the publishers of the other no longer', async () => {
  const flow = await stuckSubscriber('w3', 'w4')
  const started = Date.now()
  await flow.publishing
  const waited = Date.now() - started
  assert.ok(waited >= 4000 && waited < 15_000, `the publisher finished after ${waited} ms`)
  assert.ok(flow.received.length <= UNDELIVERED_READ, `the receiver read ${flow.received.length} it could not deliver`)
  flow.release() // what the sender kept for it (20 MB, below what it drops at) still arrives
  await flow.allArrivedInOrder()
})
