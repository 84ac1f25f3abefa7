// Issue 21, "Redis restarts and PostgreSQL restarts under load", short: real `tendril serve` instances
// keep serving what does not need the stopped service, refuse what does at once (REST 503
// `unavailable`, no PUBACK, CONNACK 3 or a closed connection, never a hang), come back by themselves
// when it returns, and lose nothing acknowledged (MQTT PUBACK, REST 2xx, SDK flush). The long run and
// its figures: bench/faults/service-restarts.ts and bench/faults/README.md.
import assert from 'node:assert/strict'
import { before, describe, test } from 'node:test'
import {
  describeOutage,
  restartsUnderLoad,
  type RestTally,
  type Service,
  type ServiceRestartResult,
} from '../helpers/service-restarts.ts'

/** A request while the service is down answers within this (the harness' own bound is 10 s). */
const ANSWER_WITHIN_MS = 5000

function run(service: Service, instances: number): () => ServiceRestartResult {
  let r: ServiceRestartResult
  before(
    async () => {
      r = await restartsUnderLoad({
        service,
        controllers: 3,
        outages: 2,
        downMs: 2500,
        upMs: 500,
        instances,
        redis: service === 'redis',
        log: (line) => console.log(`${service}: ${line}`),
      })
      console.log(`${service}: ${r.acknowledged} acknowledged, ${r.stored} stored, lost ${r.lost.length}`)
    },
    { timeout: 120_000 },
  )
  return () => r
}

function answeredAll(t: RestTally, status: string, code?: string): void {
  assert.deepEqual(Object.keys(t.statuses), [status], `every answer ${status}: ${JSON.stringify(t.statuses)}`)
  assert.deepEqual(t.badBodies, [])
  if (code) assert.deepEqual(Object.keys(t.codes), [code])
  assert.ok(t.maxMs < ANSWER_WITHIN_MS, `answered within ${ANSWER_WITHIN_MS} ms, not ${t.maxMs}`)
}

function nothingLost(r: ServiceRestartResult): void {
  assert.ok(r.survived, 'every tendril process ran throughout')
  assert.ok(r.acknowledged > 0)
  assert.deepEqual(r.lost, [], 'acknowledged values missing')
  assert.deepEqual(r.doubled, [], 'acknowledged values stored twice')
  assert.deepEqual(r.unknown, [], 'values stored that nobody sent')
}

describe('PostgreSQL restarts under load (one instance)', () => {
  const result = run('postgresql', 1)

  test('nothing acknowledged is lost, nothing stored twice, the instance never restarts', () => nothingLost(result()))

  test('while the database is down, REST reads and writes are answered at once with a JSON 503 unavailable', () => {
    for (const o of result().outages) {
      answeredAll(o.reads, '503', 'unavailable')
      answeredAll(o.writes, '503', 'unavailable')
    }
  })

  // CONNACK 4 told the controllers SDK (and rhizo's client) that the key was bad: they stopped for good
  test('a CONNECT while the database is down gets CONNACK 3, and the SDK comes back by itself', () => {
    const r = result()
    for (const o of r.outages)
      for (const p of o.probes.filter((p) => p.kind !== 'connected'))
        assert.equal(p.connack, 'refused 3', describeOutage(0, 'postgresql', o))
    assert.deepEqual(
      r.sdkErrors.filter((e) => e.startsWith('AuthError')),
      [],
    )
  })

  test('sub-topics are relayed while the database is down', () => {
    for (const o of result().outages) assert.ok(o.relayedHere > 0, describeOutage(0, 'postgresql', o))
  })
})

describe('Redis restarts under load (two instances on one PostgreSQL)', () => {
  const result = run('redis', 2)

  test('nothing acknowledged is lost, nothing stored twice, no instance restarts', () => nothingLost(result()))

  test('while Redis is down, REST reads and writes go on (200)', () => {
    for (const o of result().outages) {
      answeredAll(o.reads, '200')
      answeredAll(o.writes, '200')
    }
  })

  // Aedes reads the session from Redis before its CONNACK: unbounded, a CONNECT waited for the outage
  test('a CONNECT while Redis is down is closed within seconds, not held for the outage', () => {
    for (const o of result().outages)
      for (const p of o.probes.filter((p) => p.kind !== 'connected'))
        assert.ok(p.connack === 'closed' || typeof p.connack === 'number', describeOutage(0, 'redis', o))
  })
})
