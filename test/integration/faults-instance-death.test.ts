// Issue 21, "one of two instances dies", short: two real `tendril serve --redis` on one PostgreSQL
// database; controllers with persistent sessions (clean: false, QoS 1) and publishers spread over both;
// one instance is SIGKILLed mid-publishing and its clients move to the other. The long run and its
// figures: bench/faults/instance-death.ts and bench/faults/README.md.
import assert from 'node:assert/strict'
import { before, describe, test } from 'node:test'
import { instanceDeath, type InstanceDeathResult } from '../helpers/instance-death.ts'

describe('one of two instances dies (PostgreSQL, Redis)', () => {
  let r: InstanceDeathResult
  before(
    async () => {
      r = await instanceDeath({
        controllers: 6,
        publishers: 6,
        rounds: 1,
        minUpMs: 300,
        maxUpMs: 1000,
        afterMs: 500,
        // the dead instance's `alive` key lasts 30 s, and the survivor reconciles every 30 s (broker/presence.ts)
        presenceWithinMs: 75_000,
        log: (line) => console.log(line),
      })
      console.log(
        `${r.acknowledged} acknowledged, ${r.delivered} delivered (+${r.duplicates} duplicates), lost ${r.lost.length} ${r.lost.join(' ')}, late ${r.late.length} ${r.late.join(' ')}`,
      )
    },
    { timeout: 150_000 },
  )

  // Aedes sent the PUBACK before queuing the message in Redis (broker/publish.ts publishBeforeAck)
  test('every message acknowledged by either instance reaches its persistent session after the move', () => {
    assert.ok(r.acknowledged > 0)
    assert.deepEqual(r.lost, [], 'acknowledged messages never delivered')
    assert.deepEqual(r.unknown, [], 'messages delivered that were never sent')
  })

  // the relay must have left before the PUBACK: a session online elsewhere is not made to wait for its next reconnect
  test('a session online on the survivor gets every acknowledged message without reconnecting', () => {
    assert.deepEqual(r.late, [], 'queued, but delivered only when the session resumed')
  })

  test('retained messages set through either instance are there on the survivor', () => {
    assert.deepEqual(r.rounds[0]!.retained.missing, [])
  })

  test("the dead instance's controllers are shown offline once its record expires, those that moved online", () => {
    assert.ok(r.rounds[0]!.staleAtKill > 0, 'shown online right after the kill (nothing has told the survivor yet)')
    assert.deepEqual(r.rounds[0]!.presenceWrong, [])
    assert.notEqual(r.rounds[0]!.presenceCorrectedMs, undefined)
  })

  test('the restarted instance and the survivor relay to each other again', () => {
    assert.equal(r.rounds[0]!.together, true)
  })
})
