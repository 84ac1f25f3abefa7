// A server process ends on an uncaught exception or an unhandled rejection; the test runner only
// reports one (attributed to whichever test is running) and goes on. Tests of servers that must
// survive bad clients call this, so such a fault fails the test during which it happened.
import assert from 'node:assert/strict'
import { afterEach } from 'node:test'

export function failOnProcessFaults(): void {
  const faults: unknown[] = []
  process.on('uncaughtException', (err) => faults.push(err))
  process.on('unhandledRejection', (err) => faults.push(err))
  afterEach(() =>
    assert.deepEqual(
      faults.splice(0),
      [],
      'no uncaught exception or unhandled rejection, either of which would end the server',
    ),
  )
}
