// Issue 21, "kill -9 during ingestion", short: 5 controllers publish numbered QoS 1 values to a real
// `tendril serve` that is SIGKILLed twice at a random moment and restarted on the same data; every
// value acknowledged (PUBACK) is stored exactly once, and SQLite's integrity check is ok. The long run and its
// figures: bench/faults/kill-ingest.ts and bench/faults/README.md.
import assert from 'node:assert/strict'
import { before, describe, test } from 'node:test'
import { providers } from '../helpers/core.ts'
import { killDuringIngestion, type KillIngestResult } from '../helpers/kill-ingest.ts'

for (const provider of providers) {
  describe(`kill -9 during ingestion on ${provider}`, () => {
    let r: KillIngestResult
    before(
      async () => {
        r = await killDuringIngestion({
          provider,
          controllers: 5,
          kills: 2,
          minUpMs: 300,
          maxUpMs: 1500,
          log: (line) => console.log(`${provider}: ${line}`),
        })
        console.log(
          `${provider}: ${r.acknowledged} acknowledged, ${r.stored} stored, lost ${r.lost.length}, doubled ${r.doubled.length} ${r.doubled.join(' ')}`,
        )
      },
      { timeout: 60_000 },
    )

    test('every acknowledged value is stored after two SIGKILLs and restarts, and nothing unsent', () => {
      assert.ok(r.acknowledged > 0)
      assert.deepEqual(r.lost, [], 'acknowledged values missing after kill -9')
      assert.deepEqual(r.unknown, [], 'values stored that no controller sent')
      if (provider === 'sqlite') assert.equal(r.integrity, 'ok')
    })

    // MQTT.js resends a value whose PUBACK the kill swallowed, without DUP: stored once (core/messages/packet-marks.ts)
    test('no acknowledged value is stored twice after the SIGKILLs', () => {
      assert.deepEqual(r.doubled, [], 'acknowledged values stored twice after kill -9')
    })
  })
}
