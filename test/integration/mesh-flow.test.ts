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

async function startWorkerMesh(id: string, running: string[]): Promise<MeshEmitter> {
  const [pub, sub] = [new Redis(redisUrl), new Redis(redisUrl)]
  const mesh = await startMesh({
    id,
    channelPrefix: 'tendril:mqtt:test/',
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

test('a worker that cannot deliver holds back the publishers of the other, then lets every message through in order', async () => {
  const sender = await startWorkerMesh('w1', [])
  const receiver = await startWorkerMesh('w2', ['w1'])
  assert.deepEqual(
    sender.peers().map((peer) => peer.via),
    ['socket'],
  )

  // a subscriber that takes nothing until released, as a client that stopped reading
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

  // a publisher: its next message once the broker is done with the last, a socket read's worth per turn
  let acknowledged = 0
  const publishing = (async () => {
    for (let n = 1; n <= MESSAGES; n++) {
      const packet = { cmd: 'publish', topic: 'acme/pi-1/level', payload: PAYLOAD, qos: 0, brokerId: 'w1' }
      await new Promise<void>((resolve) => sender.emit({ ...packet, brokerCounter: n }, () => resolve()))
      acknowledged = n
      if (n % 50 === 0) await new Promise((resolve) => setImmediate(resolve))
    }
  })()

  // progress stops: the receiver read a bounded number, and the publisher waits
  let last = -1
  await eventually(async () => {
    const now = acknowledged
    await new Promise((resolve) => setTimeout(resolve, 300))
    const stalled = now === last && now === acknowledged
    last = now
    return stalled
  }, 20_000)
  assert.ok(acknowledged < MESSAGES, `the publisher went on: ${acknowledged} of ${MESSAGES} acknowledged`)
  assert.ok(received.length <= 2048 + 100, `the receiver read ${received.length} messages it could not deliver`)

  stuck = false
  for (const done of held.splice(0)) done()
  await publishing
  assert.ok(await eventually(() => received.length === MESSAGES, 20_000), `${received.length} of ${MESSAGES}`)
  assert.deepEqual(
    received,
    Array.from({ length: MESSAGES }, (_, i) => i + 1),
    'every message once, in order',
  )
})
