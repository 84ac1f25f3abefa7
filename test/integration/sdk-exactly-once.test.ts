// Store-and-forward stores each value exactly once: close() waits for what is in flight, and an
// entry sent again (its PUBACK lost to a killed process) is recognised by the server and not stored
// twice, however often the controller program is killed and restarted.
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { connect, DiskQueue } from '@tendril/controllers-sdk'
import { createController, createOrg } from '../../core/admin.ts'
import { sequenceHistory } from '../../core/resources/sequence-history.ts'
import { createSequence, findPath } from '../../core/resources/tree.ts'
import { SequenceDataType } from '../../core/resources/types.ts'
import { advance } from '../../core/messages/replays.ts'
import { providers } from '../helpers/core.ts'
import { eventually } from '../helpers/http.ts'
import { connect as mqttConnect, endAll } from '../helpers/mqtt.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

const PI = '/acme/pi'
const writer = join(import.meta.dirname, 'sdk-fixtures/drain-writer.ts')

for (const provider of providers) {
  describe(`controllers SDK exactly once on ${provider}`, () => {
    let server: TestServer
    let key: string
    let dir: string
    const ids = new Map<string, number>()

    before(async () => {
      server = await startTestServer(provider)
      dir = mkdtempSync(join(tmpdir(), 'tendril-once-'))
      await createOrg(server.core, 'acme')
      key = (await createController(server.core, 'acme/pi')).key
      const pi = (await findPath(server.core.db, PI))!.at(-1)!
      for (const name of ['closing', 'drain', 'wire'])
        ids.set(name, (await createSequence(server.core.db, pi, name, { dataType: SequenceDataType.numeric })).id)
    })
    after(async () => {
      endAll()
      await server.close()
      rmSync(dir, { recursive: true, force: true })
    })

    const history = (name: string) => sequenceHistory(server.core.db, ids.get(name)!)

    test('close() waits for the publishes in flight: 300 updates, close, a rerun: 300 stored, none of them still queued', async () => {
      const queueDir = join(dir, 'closing')
      const options = { server: server.url, mqttUrl: server.mqttUrl, key, controllerPath: PI, queueDir }
      const client = await connect(options)
      const t0 = Date.parse('2026-12-01T00:00:00Z')
      for (let i = 0; i < 300; i++) await client.sequences.update('closing', i, { timestamp: new Date(t0 + i * 1000) })
      await client.close()
      // what the server stored by now stays stored; the queue left for the next run holds only the rest
      let stored: string[] = []
      await eventually(async () => {
        const before = stored.length
        stored = (await history('closing')).values
        return stored.length === before
      })
      const queue = await DiskQueue.open(queueDir)
      const left = queue.after(0, 1000).map((e) => (e.kind === 'value' ? e.value : ''))
      await queue.close()
      assert.deepEqual(
        left.filter((v) => stored.includes(v)),
        [],
        `queued again though stored (${stored.length} stored, ${left.length} left)`,
      )
      const rerun = await connect(options)
      await rerun.flush(20_000)
      await rerun.close()
      const h = await history('closing')
      assert.equal(h.values.length, 300)
      assert.deepEqual(
        h.values,
        Array.from({ length: 300 }, (_, i) => String(i)),
      )
    })

    test('over MQTT, entries are stored once whatever order their publishes arrive in; payloads without entry ids are stored every time', async () => {
      const mqtt = await mqttConnect(server.mqttUrl, key)
      const line = (i: number) => `s,wire,2026-12-03T00:00:0${i}.000Z,${i}`
      const publish = (payload: string) => mqtt.publishAsync('acme/pi', payload, { qos: 1 })
      await publish(`e,prodwire1,3,1\n${line(3)}\n${line(4)}`) // the second publish of a pair arrives first
      await publish(`e,prodwire1,1,1\n${line(1)}\n${line(2)}`)
      await publish(`e,prodwire1,2,1\n${line(2)}\n${line(3)}`) // a replay after a restart, cut differently
      await publish(JSON.stringify({ update: { $t: '2026-12-03T00:00:04.000Z', $e: 'prodwire1,4,3', wire: '4' } }))
      await publish(`e,prodwire1,5,5\n${line(5)}`)
      await publish(line(6)) // rhizo's form: no entry id, stored as often as sent
      await publish(line(6))
      assert.deepEqual((await history('wire')).values, ['1', '2', '3', '4', '5', '6', '6'])
      await mqtt.endAsync()
    })

    test('a drain of 10,000 queued values with the SDK process SIGKILLed at five random points stores each value once, in order, with its timestamp', async () => {
      const queueDir = join(dir, 'drain')
      const start = '2026-12-02T00:00:00.000Z'
      const args = (mode: string) => [
        writer,
        server.url,
        server.mqttUrl,
        key,
        PI,
        queueDir,
        mode,
        'drain',
        '10000',
        start,
      ]
      let left = 10_000
      for (let run = 0; run < 5; run++) {
        const child = spawn(process.execPath, ['--import', 'tsx', ...args(run === 0 ? 'fill' : 'resume')], {
          stdio: ['ignore', 'pipe', 'inherit'],
        })
        // killed once a random part of what is left has been sent: mid-drain, with publishes in flight
        const target = Math.floor(left * (0.2 + Math.random() * 0.6))
        left = await killWhenLeft(child, target)
      }
      const last = spawn(process.execPath, ['--import', 'tsx', ...args('finish')], {
        stdio: ['ignore', 'pipe', 'inherit'],
      })
      assert.match(await output(last), /done/)
      const h = await history('drain')
      assert.equal(h.values.length, 10_000, `${h.values.length - new Set(h.values).size} stored twice`)
      assert.deepEqual(
        h.values,
        Array.from({ length: 10_000 }, (_, i) => String(i)),
      )
      const t0 = Date.parse(start)
      assert.deepEqual(
        h.timestamps.map((t) => t.getTime() - t0),
        Array.from({ length: 10_000 }, (_, i) => i),
      )
      // and stored in the order they were queued
      const rows = await server.core.db.resourceRevision.findMany({
        where: { resourceId: ids.get('drain')! },
        orderBy: { id: 'asc' },
        select: { timestamp: true },
      })
      assert.ok(
        rows.every((r, i) => i === 0 || r.timestamp > rows[i - 1]!.timestamp),
        'revision ids follow the queue order',
      )
    })
  })
}

/** SIGKILLs the child once it reports at most `target` entries queued; resolves with what it last reported. */
function killWhenLeft(child: ChildProcess, target: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let text = ''
    let left = Number.POSITIVE_INFINITY
    child.stdout!.on('data', (d: Buffer) => {
      text += d.toString()
      const lines = text.split('\n')
      text = lines.pop()!
      for (const line of lines) if (line.startsWith('left ')) left = Number(line.slice(5))
      if (left <= target && child.exitCode === null && !child.killed) child.kill('SIGKILL')
    })
    child.once('exit', (code, signal) =>
      signal === 'SIGKILL' ? resolve(left) : reject(new Error(`writer exited with ${code} before being killed`)),
    )
  })
}

function output(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = ''
    child.stdout!.on('data', (d: Buffer) => (text += d.toString()))
    child.once('exit', (code) =>
      code === 0 ? resolve(text) : reject(new Error(`writer exited with ${code}: ${text}`)),
    )
  })
}

test('the replay mark: ranges above the floor, joined to it once contiguous', () => {
  let mark = advance({ through: 0, ranges: [] }, [501, 502, 503], 1)
  assert.deepEqual(mark, { through: 0, ranges: [[501, 503]] })
  mark = advance(mark, [1, 2], 1)
  assert.deepEqual(mark, { through: 2, ranges: [[501, 503]] })
  mark = advance(mark, [600], 504) // everything below the floor was acknowledged
  assert.deepEqual(mark, { through: 503, ranges: [[600, 600]] })
})
