// Workers of two code versions in one mesh (broker/mesh/), as during a rolling restart: a peer that
// did not say it reads frames naming earlier strings gets every topic spelled out, and one that said
// so gets named strings that read back as the topics sent.
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { after, before, test } from 'node:test'
import { Redis } from 'ioredis'
import { startMesh, type MeshEmitter } from '../../broker/mesh/emitter.ts'
import {
  decodeMessage,
  encodeControl,
  FrameType,
  NAMING,
  Outbox,
  RecentStrings,
  type Control,
} from '../../broker/mesh/frames.ts'
import { readFrames } from '../../broker/mesh/links.ts'
import { createLogger } from '../../core/log.ts'
import { eventually } from '../helpers/http.ts'
import { freshRedisDatabase } from '../helpers/redis.ts'

const SECRET = 'the workers of one primary'
let mesh: MeshEmitter
let redis: Redis[]

before(async () => {
  const url = await freshRedisDatabase()
  redis = [new Redis(url), new Redis(url)]
  mesh = await startMesh({
    id: 'new-worker',
    channelPrefix: 'tendril:mqtt:versions/',
    pub: redis[0]!,
    sub: redis[1]!,
    secret: SECRET,
    log: createLogger({ logLevel: 'silent', logFormat: 'json' }),
    runningInstances: async () => [],
    isRunning: async () => true,
  })
})
after(async () => {
  await new Promise<void>((resolve) => mesh.close(resolve))
  for (const connection of redis) connection.disconnect()
})

/** A control frame after its length, as a link writes it. */
function lengthPrefixed(control: Control): Buffer {
  const outbox = new Outbox()
  outbox.put(encodeControl(control))
  return outbox.take()
}

/** A worker reached over the mesh's socket, as one of either version would; it listens to acme/#. */
async function peerWorker(id: string, naming: boolean) {
  const socket = connect({ host: '127.0.0.1', port: mesh.port! })
  await new Promise((resolve) => socket.once('connect', resolve))
  const types: number[] = []
  const topics: string[] = []
  const recent = new RecentStrings()
  const names: string[] = []
  let heard = false
  readFrames(socket, Number.MAX_SAFE_INTEGER, (frame) => {
    if (frame[0] === FrameType.Sync) return true
    const { topic } = decodeMessage(frame, 'new-worker', recent, names)
    if (topic === PROBE) heard = true
    else {
      types.push(frame[0]!)
      topics.push(topic)
    }
    return true
  })
  socket.write(lengthPrefixed({ type: FrameType.Hello, id, secret: SECRET }))
  const sync: Control = { type: FrameType.Sync, filters: ['acme/#'], ...(naming ? { naming: NAMING } : {}) }
  socket.write(lengthPrefixed(sync))
  // its filter counts once the mesh has read its Sync
  const counted = await eventually(async () => {
    await publish([PROBE])
    return heard
  })
  assert.ok(counted, `${id}: nothing published reached it`)
  return { types, topics, close: () => socket.destroy() }
}

async function publish(topics: string[]) {
  for (const topic of topics)
    await new Promise<void>((resolve) =>
      mesh.emit({ cmd: 'publish', topic, payload: Buffer.from('21.5'), qos: 0, brokerId: 'new-worker' }, () =>
        resolve(),
      ),
    )
}

const PROBE = 'acme/probe'
const sent = Array.from({ length: 30 }, (_, i) => `acme/pi-${i % 3}/level`)

test('a worker of the earlier version gets every topic spelled out', async () => {
  const older = await peerWorker('older-worker', false)
  await publish(sent)
  await eventually(() => older.topics.length === sent.length)
  assert.deepEqual(older.topics, sent)
  assert.deepEqual(new Set(older.types), new Set([FrameType.Message]))
  older.close()
})

test('a worker of this version gets named strings, read back as the topics sent', async () => {
  const current = await peerWorker('current-worker', true)
  await publish(sent)
  await eventually(() => current.topics.length === sent.length)
  assert.deepEqual(current.topics, sent)
  assert.ok(current.types.includes(FrameType.NamingMessage), 'later frames of a batch name the topic')
  assert.ok(!current.types.includes(FrameType.Message))
  current.close()
})
