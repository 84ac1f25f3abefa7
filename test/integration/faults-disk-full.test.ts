// Issue 21, "disk full", short: a real `tendril serve` with its data dir on a 32 MB tmpfs while
// controllers publish QoS 1 values, an uploader writes file revisions, image values and values over
// REST and a JSON websocket sends values; a filler takes the last byte, then space returns; then the
// server is killed and started on a full disk. SQLite keeps its database there; PostgreSQL only the
// blobs. Needs root (or CAP_SYS_ADMIN) to mount the tmpfs: it fails, never skips, without. The long
// run and its figures: bench/faults/disk-full.ts and bench/faults/README.md.
import assert from 'node:assert/strict'
import { before, describe, test } from 'node:test'
import { providers } from '../helpers/core.ts'
import { diskFullScenario, type DiskFullResult } from '../helpers/disk-full.ts'

for (const provider of providers) {
  const sqlite = provider === 'sqlite'
  describe(`disk full on ${provider}`, () => {
    let r: DiskFullResult
    before(
      async () => {
        r = await diskFullScenario({
          provider,
          sizeMb: 32,
          ballastMb: 12,
          controllers: 3,
          uploaders: 1,
          fileBytes: 64 * 1024,
          fullMs: 2500,
          steadyMs: 1000,
          log: (line) => console.log(`${provider}: ${line}`),
        })
        console.log(JSON.stringify({ ...r, logExamples: undefined, unrecognized: r.unrecognized.slice(0, 3) }))
      },
      { timeout: 90_000 },
    )

    test('nothing acknowledged is lost, and no revision refers to a partial or missing blob', () => {
      assert.ok(r.mqtt.acknowledged > 0 && r.rest.acknowledged > 0)
      assert.deepEqual(r.mqtt.lost, [], 'PUBACKed values missing')
      assert.deepEqual(r.rest.lost, [], 'acknowledged uploads missing or unreadable')
      if (sqlite) assert.equal(r.integrity, 'ok')
      assert.equal(r.blobs.missing, 0, 'a revision refers to a blob that is not there')
      assert.equal(r.blobs.temp, 0, 'a partial blob was left in the temp dir')
      assert.equal(r.serverCrashed, false)
    })

    test('a write refused for a full disk is a 507 disk_full, never a 500, and says so on the JSON websocket', () => {
      assert.ok((r.rest.refusals['507 disk_full'] ?? 0) > 0, JSON.stringify(r.rest.refusals))
      assert.deepEqual(r.rest.badAnswers, [])
      const socket = Object.keys(r.socketErrors)
      assert.ok(
        socket.every((m) => m.includes('disk is full')),
        JSON.stringify(r.socketErrors),
      )
      if (sqlite) assert.ok(socket.length > 0, 'no websocket value was refused while full')
    })

    test('the log says the disk is full, a few lines, not one per refused write', () => {
      const doors = sqlite ? ['mqtt', 'rest'] : ['rest']
      assert.ok(
        doors.every((door) => r.diskFullDoors.includes(door)),
        `${r.diskFullDoors.join(', ')}: ${JSON.stringify(r.logWhileFull)}`,
      )
      assert.deepEqual(r.unrecognized.slice(0, 3), [], 'a full disk logged as something else')
      assert.ok(r.logLinesPerSecondFull <= 5, `${r.logLinesPerSecondFull} lines/s: ${JSON.stringify(r.logWhileFull)}`)
      assert.deepEqual(r.strayFiles, [], 'nothing but the database and blobs in the data dir')
    })

    test('reads go on while the disk is full, and writes succeed again once space returns', () => {
      assert.ok(r.full.readsWhileFull.ok > 0)
      assert.equal(r.full.readsWhileFull.failed, 0)
      if (sqlite) assert.ok(r.full.mqttClosedWhileFull > 0, 'no PUBLISH was refused while full')
      assert.notEqual(r.full.recoveredAfterMs, null, 'writes did not succeed again within 30 s')
      assert.deepEqual(r.shownDisconnected, [], 'connected controllers whose status says disconnected')
    })

    test('killed and started on a full disk, it replays its WAL, reads, refuses writes and recovers', () => {
      const s = r.startupFull
      assert.ok(s.started, 'did not start')
      assert.ok(s.readOk, 'the value written before the kill was not read back')
      assert.match(s.writeRefusal, /^507 .*disk_full/)
      assert.ok(s.writesAfterSpace, 'writes did not succeed again after space returned')
    })
  })
}
