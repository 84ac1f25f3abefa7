// firmware-examples/python-paho: the plain paho-mqtt program, run with Debian's python3-paho-mqtt
// against a real Tendril over TCP and over the /mqtt WebSocket; its values land in the sequences.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { after, before, describe, test } from 'node:test'
import { createController, createOrg } from '../../core/admin.ts'
import { sequenceHistory } from '../../core/resources/sequence-history.ts'
import { createSequence, findPath } from '../../core/resources/tree.ts'
import { SequenceDataType } from '../../core/resources/types.ts'
import { providers } from '../helpers/core.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

const run = promisify(execFile)
const PYTHON = '/usr/bin/python3' // Debian's, with python3-paho-mqtt; `python3` on PATH may be another
const EXAMPLE = join(import.meta.dirname, '../../firmware-examples/python-paho/tendril_paho.py')

for (const provider of providers) {
  describe(`python paho-mqtt example on ${provider}`, () => {
    let server: TestServer
    let key: string

    before(async () => {
      server = await startTestServer(provider)
      await createOrg(server.core, 'acme')
      key = (await createController(server.core, 'acme/greenhouse/pi-1')).key
      const pi = (await findPath(server.core.db, '/acme/greenhouse/pi-1'))!.at(-1)!
      await createSequence(server.core.db, pi, 'temperature', { dataType: SequenceDataType.numeric })
      await createSequence(server.core.db, pi, 'humidity', { dataType: SequenceDataType.numeric, decimalPlaces: 1 })
    })
    after(() => server.close())

    const history = async (name: string) => {
      const sequence = (await findPath(server.core.db, `/acme/greenhouse/pi-1/${name}`))!.at(-1)!
      return sequenceHistory(server.core.db, sequence.id, { count: 100 })
    }
    const example = (transport: string[], value: number) => {
      const started = Date.now()
      return run(
        PYTHON,
        [
          EXAMPLE,
          ...transport,
          '--key',
          key,
          '--folder',
          'acme/greenhouse/pi-1',
          '--count',
          '2',
          '--interval',
          '0.1',
          '--value',
          String(value),
        ],
        { timeout: 30_000 },
      ).then((r) => ({ ...r, started }))
    }

    test('over TCP: the CSV values and the JSON updates are stored with the timestamps the program sent', async () => {
      const { port } = new URL(server.mqttUrl)
      const { stdout, started } = await example(['--host', '127.0.0.1', '--port', port], 21.25)
      assert.match(stdout, /sent 2 round\(s\) to acme\/greenhouse\/pi-1/)
      const t = await history('temperature')
      assert.deepEqual(t.values, ['21.25', '21.25'])
      for (const at of t.timestamps)
        assert.ok(
          at.getTime() >= started - 1000 && at.getTime() <= Date.now(),
          `timestamp ${at.toISOString()} is the program's`,
        )
      assert.equal((await history('humidity')).values.length, 2)
    })

    test('over the /mqtt WebSocket of the HTTP port', async () => {
      const { port } = new URL(server.url)
      await example(['--host', '127.0.0.1', '--port', port, '--websocket'], 18.5)
      assert.deepEqual((await history('temperature')).values.slice(-2), ['18.5', '18.5'])
      assert.equal((await history('humidity')).values.length, 4)
    })

    test('a wrong key ends the program with the refusal, and nothing is stored', async () => {
      const { port } = new URL(server.mqttUrl)
      const before = (await history('temperature')).values.length
      const failed = await run(
        PYTHON,
        [EXAMPLE, '--host', '127.0.0.1', '--port', port, '--key', 'tdl_WRONG', '--folder', 'acme/greenhouse/pi-1'],
        { timeout: 30_000 },
      ).catch((e: { code: number; stderr: string }) => e)
      assert.equal((failed as { code: number }).code, 1)
      assert.match((failed as { stderr: string }).stderr, /connection refused/i)
      assert.equal((await history('temperature')).values.length, before)
    })
  })
}
