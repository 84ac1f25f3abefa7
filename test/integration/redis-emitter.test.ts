// The emitter two instances share through Redis (broker/redis-emitter.ts), directly: what each
// listener hears, and how often, when filters overlap and messages come from either side.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { Redis } from 'ioredis'
import { channelPattern, redisEmitter } from '../../broker/redis-emitter.ts'
import type { ClusterEmitter } from '../../broker/cluster.ts'
import { eventually } from '../helpers/http.ts'
import { freshRedisDatabase } from '../helpers/redis.ts'

type Heard = { topic: string; payload: unknown }
let connections: Redis[] = []
let a: ClusterEmitter
let b: ClusterEmitter

before(async () => {
  const url = await freshRedisDatabase()
  connections = Array.from({ length: 4 }, () => new Redis(url))
  const [pubA, subA, pubB, subB] = connections as [Redis, Redis, Redis, Redis]
  a = redisEmitter(pubA, subA, 'test/', (done) => done())
  b = redisEmitter(pubB, subB, 'test/', (done) => done())
})
after(() => {
  for (const connection of connections) connection.disconnect()
})

const listen = (emitter: ClusterEmitter, filter: string) => {
  const heard: Heard[] = []
  return new Promise<Heard[]>((resolve) =>
    emitter.on(
      filter,
      (message, done) => (heard.push({ topic: message.topic, payload: message.payload }), done()),
      () => resolve(heard),
    ),
  )
}
const emit = (emitter: ClusterEmitter, message: { topic: string; payload: unknown }) =>
  new Promise<void>((resolve, reject) =>
    emitter.emit({ cmd: 'publish', qos: 0, retain: false, ...message }, (err) => (err ? reject(err) : resolve())),
  )

test('a message reaches each listener of both instances once, however many of their filters overlap', async () => {
  const onB = [await listen(b, 'org/#'), await listen(b, 'org/+/commands'), await listen(b, 'org/pi/commands')]
  const onA = await listen(a, 'org/#')
  await emit(a, { topic: 'org/pi/commands', payload: Buffer.from('on') })
  await emit(a, { topic: 'org/pi', payload: 'text' })
  assert.ok(await eventually(() => onB[0]!.length === 2, 3000))
  await new Promise((resolve) => setTimeout(resolve, 200))
  assert.deepEqual(onB[0], [
    { topic: 'org/pi/commands', payload: Buffer.from('on') },
    { topic: 'org/pi', payload: 'text' },
  ])
  assert.deepEqual(onB[1], [{ topic: 'org/pi/commands', payload: Buffer.from('on') }])
  assert.deepEqual(onB[2], [{ topic: 'org/pi/commands', payload: Buffer.from('on') }])
  assert.equal(onA.length, 2, 'the sender hears its own messages once, not again through Redis')
})

test('a filter becomes a Redis pattern that matches at least what it matches', () => {
  assert.equal(channelPattern('p/', 'org/+/x'), 'p/org/*/x')
  assert.equal(channelPattern('p/', 'org/#'), 'p/org*')
  assert.equal(channelPattern('p/', '#'), 'p/*')
  assert.equal(channelPattern('p/', 'org/a*b?[c]'), 'p/org/a\\*b\\?\\[c\\]')
})
