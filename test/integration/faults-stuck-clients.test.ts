// Issue 21, "slow and stuck clients", short: at once against a real `tendril serve`: slowloris HTTP,
// MQTT over TCP and WebSocket that never send CONNECT, a subscriber that stops reading while its
// topic is flooded, and idle authenticated MQTT connections; a bystander pair keeps its latency.
// The long run (10,000 idle connections) and its figures: bench/faults/stuck-clients.ts.
import assert from 'node:assert/strict'
import { before, describe, test } from 'node:test'
import { providers } from '../helpers/core.ts'
import { fmtLatency } from '../helpers/fault-watch.ts'
import { stuckClients, type StuckResult } from '../helpers/stuck-clients.ts'

const TIMEOUT_MS = 2000 // --mqtt-connect-timeout and --mqtt-drain-timeout
const HEADERS_TIMEOUT_MS = 10_000 // http/server.ts
const SLACK_MS = 4000

for (const provider of providers) {
  describe(`slow and stuck clients on ${provider}`, () => {
    let r: StuckResult
    before(
      async () => {
        r = await stuckClients({
          provider,
          slowloris: 20,
          silentTcp: 20,
          silentWs: 20,
          idle: 300,
          timeoutMs: TIMEOUT_MS,
        })
        console.log(`${provider}: ${JSON.stringify({ ...r, bystander: undefined })}`)
        console.log(
          `${provider}: bystander before ${fmtLatency(r.bystander.before)}; during ${fmtLatency(r.bystander.during)}`,
        )
      },
      { timeout: 90_000 },
    )

    test('the server survives, keeps the idle connections and serves the bystander', () => {
      assert.equal(r.serverExited, false)
      assert.deepEqual(r.bystander.problems, [])
      assert.deepEqual(r.idle, { connected: 300, closedByServer: 0 })
      assert.ok(r.bystander.during.p99 < 1000, `bystander p99 ${r.bystander.during.p99} ms`)
    })

    test('HTTP clients that trickle their headers are closed after the headers timeout', () => {
      assert.equal(r.slowloris.closed, r.slowloris.opened)
      assert.ok(r.slowloris.maxMs < HEADERS_TIMEOUT_MS + SLACK_MS, `the last after ${r.slowloris.maxMs} ms`)
    })

    test('MQTT connections over TCP and WebSocket that never send CONNECT are closed after the connect timeout', () => {
      for (const c of [r.silentTcp, r.silentWs]) {
        assert.equal(c.closed, c.opened)
        assert.ok(c.maxMs < TIMEOUT_MS + SLACK_MS, `the last after ${c.maxMs} ms`)
      }
    })

    test('a subscriber that stops reading is closed once its connection stays backed up for the drain timeout', () => {
      assert.equal(r.stuckSubscriber.closed, 1)
      assert.ok(r.stuckSubscriber.maxMs < TIMEOUT_MS + 10_000, `after ${r.stuckSubscriber.maxMs} ms`)
    })

    test("the server's memory stays bounded: peak RSS within 150 MB of the RSS before", () => {
      assert.ok(r.rssMb.peak < r.rssMb.before + 150, JSON.stringify(r.rssMb))
    })
  })
}
