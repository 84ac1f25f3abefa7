// Issue 21, "MQTT fuzzing", short: a few thousand mutated, malformed and hostile MQTT packets over TCP
// and WebSocket, before and after a valid CONNECT, against a real `tendril serve`, while a bystander
// pair keeps publishing and receiving. The long run and its figures: bench/faults/mqtt-fuzz.ts.
import assert from 'node:assert/strict'
import { before, describe, test } from 'node:test'
import { providers } from '../helpers/core.ts'
import { closingLines, fmtLatency } from '../helpers/fault-watch.ts'
import { fuzzMqtt, type FuzzResult } from '../helpers/mqtt-fuzz.ts'

const seed = Number(process.env.TENDRIL_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31))

for (const provider of providers) {
  describe(`MQTT fuzzing on ${provider}`, () => {
    let r: FuzzResult
    before(
      async () => {
        console.log(`${provider}: seed ${seed} (rerun with TENDRIL_FUZZ_SEED=${seed})`)
        r = await fuzzMqtt({ provider, packets: 4000, seed, concurrency: 8, floods: 0.002 })
        console.log(
          `${provider}: ${r.packetsSent} packets, ${r.connections} connections, ${r.closedByServer} closed, ${closingLines(r.logLines)} closing log lines`,
        )
        console.log(
          `${provider}: bystander before ${fmtLatency(r.bystander.before)}; during ${fmtLatency(r.bystander.during)}`,
        )
      },
      { timeout: 60_000 },
    )

    test('the server survives and the bystander stays connected and served', () => {
      assert.ok(r.packetsSent >= 4000)
      assert.equal(r.serverExited, false)
      assert.deepEqual(r.bystander.problems, [])
      assert.ok(r.bystander.during.samples > 0)
    })

    test('every connection that sent a packet the server must refuse is closed', () => {
      assert.deepEqual(r.leftOpen, [])
      assert.equal(r.closedByServer, r.connections)
    })

    test('every closed connection has a log line that says why', () => {
      assert.ok(
        closingLines(r.logLines) >= r.closedByServer,
        `${closingLines(r.logLines)} lines for ${r.closedByServer} closed connections: ${JSON.stringify(r.logLines)}`,
      )
    })
  })
}
