// The controllers SDK against a real Tendril: every MQTT-side call, typed errors, the watchdog, and
// store-and-forward across a server restart and across a restart of the SDK process itself.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import {
  AuthError,
  connect,
  ConnectionError,
  PermissionError,
  ValidationError,
  type Message,
  type TendrilClient,
} from '@tendril/controllers-sdk'
import { sequenceHistory } from '../../core/resources/sequence-history.ts'
import { createResource, createSequence, findPath } from '../../core/resources/tree.ts'
import { ResourceType, SequenceDataType } from '../../core/resources/types.ts'
import { providers } from '../helpers/core.ts'
import { fixture } from '../helpers/fixtures.ts'
import { eventually } from '../helpers/http.ts'
import { connect as mqttConnect, endAll, granted, nextMessage } from '../helpers/mqtt.ts'
import { startRestartableServer, type RestartableServer } from './sdk-fixtures/server.ts'

const PI = '/acme/lab/pi-1'

for (const provider of providers) {
  describe(`controllers SDK on ${provider}`, () => {
    let server: RestartableServer
    let piKey: string
    let dir: string
    const clients: TendrilClient[] = []

    before(async () => {
      server = await startRestartableServer(provider)
      dir = mkdtempSync(join(tmpdir(), 'tendril-sdk-'))
      const f = await fixture(server.core, { orgs: ['acme', 'beta'], controllers: ['acme/lab/pi-1', 'beta/pi-b'] })
      piKey = f.controllers['acme/lab/pi-1'].key
      const pi = (await findPath(server.core.db, PI))!.at(-1)!
      for (const name of ['temperature', 'humidity', 'restart', 'offline', 'bounded', 'midway']) {
        await createSequence(server.core.db, pi, name, { dataType: SequenceDataType.numeric })
      }
      await createSequence(server.core.db, pi, 'note', { dataType: SequenceDataType.text })
      await createResource(server.core.db, {
        parentId: pi.id,
        organizationId: pi.organizationId,
        name: 'bench',
        type: ResourceType.basicFolder,
      })
    })
    after(async () => {
      for (const c of clients) await c.close().catch(() => {})
      endAll()
      await server.close()
      rmSync(dir, { recursive: true, force: true })
    })

    let n = 0
    const open = async (options: Partial<Parameters<typeof connect>[0]> = {}) => {
      const client = await connect({
        server: server.url,
        mqttUrl: server.mqttUrl,
        key: piKey,
        controllerPath: PI,
        queueDir: join(dir, `queue-${n++}`),
        reconnect: { minMs: 50, maxMs: 200 },
        ...options,
      })
      clients.push(client)
      return client
    }
    const history = async (path: string) => {
      const sequence = (await findPath(server.core.db, path))!.at(-1)!
      return sequenceHistory(server.core.db, sequence.id, { count: 100_000 })
    }

    test('update stores a value with the timestamp given, names relative to the controller folder', async () => {
      const client = await open()
      assert.equal(client.isConnected, true)
      await client.sequences.update('temperature', 21.5, { timestamp: new Date('2026-11-20T08:00:00Z') })
      await client.sequences.update('note', 'a line, with a comma')
      await client.sequences.update('note', 'two\nlines')
      await client.flush()
      const t = await history(`${PI}/temperature`)
      assert.deepEqual(t.values, ['21.5'])
      assert.equal(t.timestamps[0]!.toISOString(), '2026-11-20T08:00:00.000Z')
      assert.deepEqual((await history(`${PI}/note`)).values, ['a line, with a comma', 'two\nlines'])
    })

    test('updateMany stores several sequences with one timestamp; absolute paths work too', async () => {
      const client = await open()
      await client.sequences.updateMany(
        { temperature: 19, [`${PI}/humidity`]: 55.5 },
        { timestamp: '2026-11-20T09:00:00Z' },
      )
      await client.flush()
      assert.equal((await history(`${PI}/temperature`)).values.at(-1), '19')
      const h = await history(`${PI}/humidity`)
      assert.deepEqual(h.values, ['55.5'])
      assert.equal(h.timestamps[0]!.toISOString(), '2026-11-20T09:00:00.000Z')
    })

    test('the SDK connects over the /mqtt WebSocket of the HTTP server when no TCP URL is given', async () => {
      const client = await open({ mqttUrl: undefined })
      assert.equal(client.isConnected, true)
      await client.sequences.update('humidity', 60, { timestamp: '2026-11-20T10:00:00Z' })
      await client.flush()
      assert.equal((await history(`${PI}/humidity`)).values.at(-1), '60')
    })

    test('server may be given as an MQTT URL: values go over TCP, REST calls say what is missing', async () => {
      const client = await open({ server: server.mqttUrl, mqttUrl: undefined })
      await client.sequences.update('humidity', 61, { timestamp: '2026-11-20T11:00:00Z' })
      await client.flush()
      assert.equal((await history(`${PI}/humidity`)).values.at(-1), '61')
      await assert.rejects(client.files.read('config.json'), ConnectionError)
    })

    test('status.set stores values in the status/ sequences', async () => {
      const client = await open()
      await client.status.set({ processor_usage: 12.34, free_disk_space: 1_000_000 })
      await client.flush()
      assert.deepEqual((await history(`${PI}/status/processor_usage`)).values, ['12.3'])
      assert.deepEqual((await history(`${PI}/status/free_disk_space`)).values, ['1000000'])
    })

    test('messages.send reaches MQTT subscribers of the folder in rhizo form', async () => {
      const watcher = await mqttConnect(server.mqttUrl, piKey)
      assert.equal(await granted(watcher, 'acme/lab/pi-1/bench'), 0)
      const client = await open()
      const next = nextMessage(watcher)
      await client.messages.send('set_interval', { seconds: 5 }, { folder: 'bench' })
      assert.deepEqual(JSON.parse((await next)!.payload), { set_interval: { seconds: 5 } })
    })

    test('messages.on hears messages of its type sent to the controller folder', async () => {
      const client = await open()
      const heard: Message[] = []
      await client.messages.on('set_interval', (m) => heard.push(m))
      const sender = await mqttConnect(server.mqttUrl, piKey)
      sender.publish('acme/lab/pi-1', JSON.stringify({ other: {} }), { qos: 1 })
      sender.publish('acme/lab/pi-1', JSON.stringify({ type: 'set_interval', parameters: { seconds: 2 } }), { qos: 1 })
      assert.ok(await eventually(() => heard.length > 0))
      assert.deepEqual(heard, [{ folder: PI, type: 'set_interval', parameters: { seconds: 2 } }])
    })

    test('subscribe with includeChildren hears folders below; stored values arrive as sequence_update', async () => {
      const client = await open()
      const heard: Message[] = []
      const all: Message[] = []
      const sub = await client.subscribe('/acme/lab', { includeChildren: true, type: 'ping' }, (m) => heard.push(m))
      await client.subscribe('', { type: 'sequence_update' }, (m) => all.push(m))
      const sender = await open()
      await sender.messages.send('ping', { n: 1 }, { folder: 'bench' })
      await sender.sequences.update('temperature', 30, { timestamp: '2026-11-21T00:00:00Z' })
      assert.ok(await eventually(() => heard.length === 1 && all.length === 1), JSON.stringify({ heard, all }))
      assert.deepEqual(heard[0], { folder: `${PI}/bench`, type: 'ping', parameters: { n: 1 } })
      assert.deepEqual(all[0]!.parameters, { name: 'temperature', timestamp: '2026-11-21T00:00:00.000Z', value: '30' })
      await sub.unsubscribe()
      await sender.messages.send('ping', { n: 2 }, { folder: 'bench' })
      await sender.flush()
      await new Promise((r) => setTimeout(r, 200))
      assert.equal(heard.length, 1)
    })

    test("subscribing to another organization's folder fails with PermissionError", async () => {
      const client = await open()
      await assert.rejects(
        client.subscribe('/beta/pi-b', {}, () => {}),
        PermissionError,
      )
    })

    test('a message to a folder the key cannot write is dropped with a PermissionError; later values still go', async () => {
      const client = await open()
      const errors: Error[] = []
      client.on('error', (e) => errors.push(e))
      await client.messages.send('hello', {}, { folder: '/beta/pi-b' })
      await client.sequences.update('humidity', 77, { timestamp: '2026-11-22T00:00:00Z' })
      await client.flush(10_000)
      assert.ok(
        errors.some((e) => e instanceof PermissionError),
        String(errors),
      )
      assert.equal((await history(`${PI}/humidity`)).values.at(-1), '77')
      assert.equal(client.queue.size, 0)
    })

    test('a wrong key is refused with AuthError; bad arguments with ValidationError', async () => {
      await assert.rejects(open({ key: 'tdl_' + 'X'.repeat(50) }), AuthError)
      const client = await open()
      await assert.rejects(client.sequences.update('temperature', Number.NaN), ValidationError)
      await assert.rejects(client.sequences.update('../x', 1), ValidationError)
      await assert.rejects(client.messages.send('x'.repeat(41)), ValidationError)
    })

    test('the watchdog heartbeat marks the controller alive', async () => {
      const pi = (await findPath(server.core.db, PI))!.at(-1)!
      await server.core.db.controllerStatus.update({ where: { controllerId: pi.id }, data: { lastWatchdogAt: null } })
      await open({ watchdogSeconds: 1 })
      assert.ok(
        await eventually(
          async () =>
            (await server.core.db.controllerStatus.findUnique({ where: { controllerId: pi.id } }))?.lastWatchdogAt !=
            null,
        ),
      )
    })

    test('store-and-forward: 1,000 updates while the server is down are stored once each, with their timestamps', async () => {
      const client = await open()
      await server.stop()
      assert.ok(await eventually(() => !client.isConnected))
      const t0 = Date.parse('2026-11-22T12:00:00Z')
      await Promise.all(
        Array.from({ length: 1000 }, (_, i) =>
          client.sequences.update('offline', i, { timestamp: new Date(t0 + i * 1000) }),
        ),
      )
      assert.equal(client.queue.size, 1000)
      await server.start()
      await client.flush(20_000)
      const h = await history(`${PI}/offline`)
      assert.equal(h.values.length, 1000)
      assert.deepEqual(
        h.values,
        Array.from({ length: 1000 }, (_, i) => String(i)),
      )
      assert.deepEqual(
        h.timestamps.map((t) => t.getTime()),
        Array.from({ length: 1000 }, (_, i) => t0 + i * 1000),
      )
    })

    test('a server restart in the middle of sending loses no value (delivery is at least once)', async () => {
      const client = await open({ maxInFlight: 2 })
      const t0 = Date.parse('2026-11-22T14:00:00Z')
      const writes = Array.from({ length: 5000 }, (_, i) =>
        client.sequences.update('midway', i, { timestamp: new Date(t0 + i * 1000) }),
      )
      await Promise.all(writes)
      const unsent = client.queue.size
      await server.stop()
      assert.ok(unsent > 1000, `the restart came while values were still to be sent (${unsent})`)
      await server.start()
      await client.flush(30_000)
      const h = await history(`${PI}/midway`)
      const distinct = new Set(h.values)
      assert.equal(distinct.size, 5000, 'every value stored')
      assert.ok(
        h.values.length < 5000 + 1000,
        `at most the publishes in flight at the restart stored twice (${h.values.length - 5000})`,
      )
    })

    test('connect resolves offline, and a queue survives the SDK process being killed', async () => {
      await server.stop()
      const queueDir = join(dir, 'restart-queue')
      const start = '2026-11-22T13:00:00.000Z'
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          join(import.meta.dirname, 'sdk-fixtures/queue-writer.ts'),
          server.url,
          server.mqttUrl,
          piKey,
          PI,
          queueDir,
          'restart',
          '1000',
          start,
        ],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      )
      const said = await new Promise<string>((resolve, reject) => {
        let out = ''
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString()
          if (out.includes('\n')) resolve(out.trim())
        })
        child.once('exit', (code) => reject(new Error(`queue writer exited with ${code}: ${out}`)))
      })
      assert.equal(said, 'queued 1000')
      child.kill('SIGKILL')
      await new Promise((r) => child.once('exit', r))
      await server.start()
      // the next run of the program finds the queue and delivers it
      const client = await open({ queueDir })
      await client.flush(20_000)
      const h = await history(`${PI}/restart`)
      assert.equal(h.values.length, 1000)
      assert.deepEqual(
        h.values,
        Array.from({ length: 1000 }, (_, i) => String(i)),
      )
      assert.equal(h.timestamps[999]!.getTime(), Date.parse(start) + 999)
      await client.close()
      // and a third run sends nothing again
      const again = await open({ queueDir })
      assert.equal(again.queue.size, 0)
      await again.flush()
      assert.equal((await history(`${PI}/restart`)).values.length, 1000)
    })

    test('at the bound the oldest entries are dropped and counted', async () => {
      await server.stop()
      const client = await open({ queueDir: false, queueLimits: { maxEntries: 10 }, connectTimeoutMs: 1000 })
      assert.equal(client.isConnected, false)
      let reported = 0
      client.on('drop', (count) => (reported += count))
      for (let i = 0; i < 25; i++)
        await client.sequences.update('bounded', i, { timestamp: new Date(Date.UTC(2026, 10, 23, 0, 0, i)) })
      assert.equal(client.queue.size, 10)
      assert.equal(client.queue.dropped, 15)
      assert.equal(reported, 15)
      await server.start()
      await client.flush(10_000)
      assert.deepEqual(
        (await history(`${PI}/bounded`)).values,
        Array.from({ length: 10 }, (_, i) => String(15 + i)),
      )
    })
  })
}
