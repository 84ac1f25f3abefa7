// Rate limits counted in Redis (core/accounts/throttle-redis.ts), against a real Redis server: the
// instances of a deployment count together, windows end, and an outage falls back to counting here.
import assert from 'node:assert/strict'
import net from 'node:net'
import { after, before, describe, test } from 'node:test'
import { Redis } from 'ioredis'
import { redisThrottles } from '../../core/accounts/throttle-redis.ts'
import { createLogger } from '../../core/log.ts'
import { sharedRedis } from '../harness/redis.ts'

describe('rate limits shared through Redis', () => {
  const connections: Redis[] = []
  const log = createLogger({ logLevel: 'silent', logFormat: 'json' })
  let url: string
  // as broker/cluster.ts opens them: ioredis keeps commands while it reconnects
  const connect = (target = url) => {
    const redis = new Redis(target, { keyPrefix: `tendril-test:throttle:${process.pid}:`, lazyConnect: true })
    redis.on('error', () => {}) // the outage test's connection fails by design
    connections.push(redis)
    return redis
  }

  before(async () => {
    url = (await sharedRedis()).url // no skip: without Redis this fails
  })
  after(() => {
    for (const redis of connections) redis.disconnect()
  })

  test('two instances count one subject together, and other subjects apart', async () => {
    const rule = { max: 3, windowMs: 60_000 }
    const a = redisThrottles(connect(), log).limit('together', rule)
    const b = redisThrottles(connect(), log).limit('together', rule)
    assert.deepEqual(
      [await a.attempt('ann'), await b.attempt('ann'), await a.attempt('ann'), await b.attempt('ann')],
      [true, true, true, false],
    )
    assert.equal(await a.attempt('bob'), true)
    await b.reset('ann')
    assert.equal(await a.attempt('ann'), true, 'a reset on one instance clears the count for both')
  })

  test('a refund takes back one attempt, never below none', async () => {
    const throttle = redisThrottles(connect(), log).limit('refunds', { max: 2, windowMs: 60_000 })
    await throttle.refund('cat') // nothing counted yet: no credit either
    assert.equal(await throttle.attempt('cat'), true)
    assert.equal(await throttle.attempt('cat'), true)
    await throttle.refund('cat')
    assert.equal(await throttle.attempt('cat'), true)
    assert.equal(await throttle.attempt('cat'), false)
  })

  test('the count starts over when its window ends', async () => {
    const throttle = redisThrottles(connect(), log).limit('windows', { max: 1, windowMs: 300 })
    assert.equal(await throttle.attempt('dan'), true)
    assert.equal(await throttle.attempt('dan'), false)
    await new Promise((resolve) => setTimeout(resolve, 400))
    assert.equal(await throttle.attempt('dan'), true)
  })

  test('while Redis does not answer, each instance still limits on its own, and says so once', async () => {
    // a port that accepts nothing: every command fails or waits
    const closedPort = await new Promise<number>((resolve) => {
      const server = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as net.AddressInfo
        server.close(() => resolve(port))
      })
    })
    const warnings: string[] = []
    const recording = createLogger(
      { logLevel: 'warn', logFormat: 'json' },
      { write: (line: string) => void warnings.push(JSON.parse(line).msg) },
    )
    const throttle = redisThrottles(connect(`redis://127.0.0.1:${closedPort}`), recording).limit('outage', {
      max: 2,
      windowMs: 60_000,
    })
    const started = Date.now()
    assert.equal(await throttle.attempt('eve'), true)
    const waited = Date.now() - started
    assert.ok(waited < 2000, `the first count gave up on Redis after ${waited} ms`)
    const next = Date.now()
    assert.deepEqual([await throttle.attempt('eve'), await throttle.attempt('eve')], [true, false])
    assert.ok(Date.now() - next < 100, 'later counts do not wait for Redis again')
    assert.deepEqual(warnings, ['redis did not answer; rate limits are counted per instance until it does'])
  })
})
