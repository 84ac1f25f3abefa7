// firmware-examples/raspberry-pi: the Node program on the SDK, run as a child process against a real
// Tendril: readings and log lines land, set_interval is answered, SIGTERM ends it cleanly.
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { createController, createOrg } from '../../core/admin.ts'
import { sequenceHistory } from '../../core/resources/sequence-history.ts'
import { createSequence, findPath } from '../../core/resources/tree.ts'
import { SequenceDataType } from '../../core/resources/types.ts'
import { providers } from '../helpers/core.ts'
import { eventually } from '../helpers/http.ts'
import { connect as mqttConnect, endAll } from '../helpers/mqtt.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

const PROGRAM = join(import.meta.dirname, '../../firmware-examples/raspberry-pi/tendril-pi.ts')
const PI = '/acme/greenhouse/pi-1'

for (const provider of providers) {
  describe(`raspberry-pi example on ${provider}`, () => {
    let server: TestServer
    let key: string
    let dir: string
    let child: ChildProcess

    before(async () => {
      server = await startTestServer(provider)
      dir = mkdtempSync(join(tmpdir(), 'tendril-pi-'))
      await createOrg(server.core, 'acme')
      key = (await createController(server.core, PI.slice(1))).key
      const pi = (await findPath(server.core.db, PI))!.at(-1)!
      await createSequence(server.core.db, pi, 'cpu_temperature', {
        dataType: SequenceDataType.numeric,
        decimalPlaces: 1,
      })
      writeFileSync(join(dir, 'tendril.json'), JSON.stringify({ server: server.url, key, controllerPath: PI }), {
        mode: 0o600,
      })
      child = spawn(process.execPath, ['--import', 'tsx', PROGRAM], {
        env: {
          ...process.env,
          TENDRIL_SERVER: server.url,
          TENDRIL_MQTT_URL: server.mqttUrl,
          TENDRIL_CONFIG: join(dir, 'tendril.json'),
          TENDRIL_QUEUE_DIR: join(dir, 'queue'),
          TENDRIL_INTERVAL: '1',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      })
    })
    after(async () => {
      if (child.exitCode === null) child.kill('SIGKILL')
      endAll()
      await server.close()
      rmSync(dir, { recursive: true, force: true })
    })

    const history = async (path: string) => {
      const sequence = (await findPath(server.core.db, path))!.at(-1)!
      return sequenceHistory(server.core.db, sequence.id, { count: 1000 })
    }

    test('it records the CPU temperature, the free disk space and a log line every interval', async () => {
      // the program starts under tsx, which takes seconds on a busy CI machine: a bound, not a pace
      assert.ok(await eventually(async () => (await history(`${PI}/cpu_temperature`)).values.length >= 2, 30_000))
      const temperature = Number((await history(`${PI}/cpu_temperature`)).values[0])
      assert.ok(temperature > 0 && temperature < 120, `plausible temperature: ${temperature}`)
      assert.ok(Number((await history(`${PI}/status/free_disk_space`)).values[0]) > 0)
      const log = (await history(`${PI}/log`)).values
      assert.match(log[0]!, /^started, reading every 1 s$/)
      assert.match(log[1]!, /^cpu [\d.]+ C( \(simulated\))?, [\d.]+ GiB free$/)
    })

    test('it answers set_interval, and refuses a bad one in its log', async () => {
      const sender = await mqttConnect(server.mqttUrl, key)
      sender.publish('acme/greenhouse/pi-1', JSON.stringify({ set_interval: { seconds: 0 } }), { qos: 1 })
      sender.publish('acme/greenhouse/pi-1', JSON.stringify({ set_interval: { seconds: 30 } }), { qos: 1 })
      assert.ok(
        await eventually(async () => (await history(`${PI}/log`)).values.includes('interval set to 30 s'), 5000),
      )
      assert.ok((await history(`${PI}/log`)).values.some((l) => l.startsWith('set_interval ignored')))
      // no more readings at the old 1 s pace
      const count = (await history(`${PI}/cpu_temperature`)).values.length
      await new Promise((r) => setTimeout(r, 2500))
      assert.equal((await history(`${PI}/cpu_temperature`)).values.length, count)
    })

    test('SIGTERM ends it with exit code 0', async () => {
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
      child.kill('SIGTERM')
      assert.equal(await exited, 0)
    })
  })
}
