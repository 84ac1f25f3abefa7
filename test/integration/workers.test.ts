// `tendril serve --workers 2`: a real primary and two worker processes on shared ports behave as one
// server. Which worker a connection lands on is the cluster module's choice (round robin); the
// tests read where each MQTT client landed from Redis' record of connected clients.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createConnection } from 'node:net'
import { availableParallelism } from 'node:os'
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import { openCore } from '../../core/index.ts'
import { loadConfig } from '../../core/config.ts'
import { createLogger } from '../../core/log.ts'
import { createSequence, findPath } from '../../core/resources/tree.ts'
import { workerNodeFlags } from '../../cli/node-flags.ts'
import { SequenceDataType } from '../../core/resources/types.ts'
import { runCli, startServerWithMqtt, type RunningServer } from '../helpers/cli.ts'
import { freshDatabase, providers, type TestDatabase } from '../helpers/core.ts'
import { fixture } from '../helpers/fixtures.ts'
import { basicAuth, eventually } from '../helpers/http.ts'
import { endAll, nextMessage, refusalCode } from '../helpers/mqtt.ts'
import { freshRedisDatabase, redisCommand, watchBrokerChannels } from '../helpers/redis.ts'

const PER_KEY = 3
const WRITERS = Array.from({ length: 50 }, (_, i) => `acme/c-${i}`)
type OnMessage = (payload: Buffer, client: MqttClient) => void

// the worker number in the broker id of the instance holding a client ("<name>.w2.<start>"), 0 if none
const WORKER_OF = `for _, k in ipairs(redis.call('HKEYS', KEYS[1])) do
  if string.sub(k, -#ARGV[1]) == ARGV[1] then return tonumber(string.match(redis.call('HGET', KEYS[1], k), '%.w(%d+)%.')) end
end
return 0`

for (const provider of providers) {
  describe(`tendril serve --workers 2 with --redis (${provider})`, () => {
    let db: TestDatabase
    let redis: string
    let server: RunningServer
    let mqttUrl: string
    const keys: Record<string, string> = {}
    let ids = 0

    before(async () => {
      db = await freshDatabase(provider)
      redis = await freshRedisDatabase()
      const config = loadConfig({ flags: { db: db.url, 'data-dir': db.dataDir, 'bcrypt-cost': 4 }, env: {} })
      const core = await openCore(config, createLogger({ logLevel: 'silent', logFormat: 'json' }))
      const f = await fixture(core, {
        org: 'acme',
        controllers: ['acme/pi-1', 'acme/pi-2', 'acme/pi-3', 'acme/pi-limit', ...WRITERS],
      })
      for (const path of ['/acme/pi-1', ...WRITERS.map((w) => `/${w}`)])
        await createSequence(core.db, (await findPath(core.db, path))!.at(-1)!, 'level', {
          dataType: SequenceDataType.numeric,
        })
      for (const [path, c] of Object.entries(f.controllers)) keys[path] = c.key
      await core.close() // the server's processes are the only ones using the database, as in production
      server = await startServerWithMqtt([
        '--workers',
        '2',
        '--redis',
        redis,
        '--db',
        db.url,
        '--data-dir',
        db.dataDir,
        '--mqtt-connections-per-key',
        String(PER_KEY),
        '--metrics',
      ])
      mqttUrl = `mqtt://127.0.0.1:${server.mqttPort}`
    })
    const open: MqttClient[] = []
    /** `onMessage` listens from the start: a persistent session's queue may arrive with the CONNACK */
    const connect = (key: string, options: IClientOptions = {}, onMessage?: OnMessage) =>
      new Promise<MqttClient>((resolve, reject) => {
        const client = mqtt.connect(mqttUrl, {
          username: 'key',
          password: key,
          reconnectPeriod: 0,
          connectTimeout: 5000,
          clientId: `t${++ids}`,
          ...options,
        })
        open.push(client)
        if (onMessage) client.on('message', (topic, payload) => onMessage(payload, client))
        client.once('connect', () => resolve(client))
        client.once('error', reject)
      })
    after(async () => {
      endAll()
      for (const client of open) client.end(true)
      await server?.stop('SIGKILL')
      db?.cleanup()
    })

    const landed = new WeakMap<MqttClient, number>()
    const workerOf = async (client: MqttClient): Promise<number> => {
      if (landed.has(client)) return landed.get(client)!
      let worker = 0
      const id = `/${client.options.clientId}`
      await eventually(
        async () =>
          (worker = Number(await redisCommand(redis, ['EVAL', WORKER_OF, '1', 'tendril:mqtt:connected', id]))) > 0,
      )
      landed.set(client, worker)
      return worker
    }
    /** a connection that landed on `worker` (connections alternate between the workers) */
    const connectOn = async (
      worker: number,
      key: string,
      options: IClientOptions = {},
      onMessage?: OnMessage,
    ): Promise<MqttClient> => {
      for (let attempt = 0; attempt < 10; attempt++) {
        const client = await connect(key, options, onMessage)
        if ((await workerOf(client)) === worker) return client
        await client.endAsync()
      }
      throw new Error(`no connection landed on worker ${worker}`)
    }

    test('a message published on one worker reaches a subscriber on the other, on a folder topic and below it', async () => {
      const subscriber = await connectOn(1, keys['acme/pi-1']!)
      await subscriber.subscribeAsync(['acme/pi-1', 'acme/pi-1/commands/#'], { qos: 1 })
      const publisher = await connectOn(2, keys['acme/pi-2']!)
      const got: string[] = []
      subscriber.on('message', (topic, payload) => got.push(`${topic} ${payload}`))
      await publisher.publishAsync('acme/pi-1', JSON.stringify({ hello: { from: 'worker 2' } }), { qos: 1 })
      await publisher.publishAsync('acme/pi-1/commands/led', 'on', { qos: 1 })
      assert.ok(await eventually(() => got.length >= 2, 5000), `received: ${got.join('; ')}`)
      await new Promise((resolve) => setTimeout(resolve, 300))
      assert.deepEqual(
        got.sort(),
        ['acme/pi-1 {"hello":{"from":"worker 2"}}', 'acme/pi-1/commands/led on'],
        'each message arrives once',
      )
    })

    test('messages between the workers go over their own sockets, not through Redis', async () => {
      const channels = await watchBrokerChannels(redis)
      try {
        const subscriber = await connectOn(1, keys['acme/pi-1']!)
        await subscriber.subscribeAsync('acme/pi-1/commands/#', { qos: 0 })
        const publisher = await connectOn(2, keys['acme/pi-2']!)
        const got: string[] = []
        subscriber.on('message', (_topic, payload) => got.push(payload.toString()))
        for (let i = 0; i < 100; i++) publisher.publish('acme/pi-1/commands/probe', `gamma${i}`, { qos: 0 })
        await publisher.publishAsync('acme/pi-1/commands/probe', 'gamma-last', { qos: 1 })
        assert.ok(await eventually(() => got.length >= 101, 5000), `received ${got.length} of 101`)
        assert.equal(channels.seen().split('gamma').length - 1, 0, 'no message crossed through Redis')
        await Promise.all([subscriber.endAsync(), publisher.endAsync()]) // the key's sessions are limited
      } finally {
        channels.close()
      }
    })

    test("a worker's relay socket closes on a connection that does not know the workers' secret", async () => {
      const port = Number(/"meshPort":(\d+)/.exec(server.output())?.[1])
      assert.ok(port > 0, 'the workers log their relay port')
      const stranger = createConnection(port, '127.0.0.1')
      const hello = Buffer.from(`\x07${JSON.stringify({ id: 'intruder', secret: 'guess' })}`)
      const frame = Buffer.alloc(4)
      frame.writeUInt32LE(hello.length)
      stranger.write(Buffer.concat([frame, hello]))
      stranger.on('error', () => undefined)
      assert.ok(await new Promise((resolve) => stranger.once('close', () => resolve(true))))
      assert.ok(await eventually(() => server.output().includes('refused a socket'), 3000), 'a log line says so')
    })

    test('every scrape of /metrics shows every worker, whichever one answers it', async () => {
      for (let scrape = 0; scrape < 4; scrape++) {
        const reply = await fetch(`${server.url}/metrics`)
        assert.equal(reply.status, 200)
        const text = await reply.text()
        for (const worker of ['w1', 'w2'])
          assert.match(text, new RegExp(`tendril_mqtt_messages_received_total\\{broker_id="[^"]*\\.${worker}"\\} \\d`))
      }
    })

    test('a retained message reaches a client on either worker', async () => {
      const publisher = await connectOn(1, keys['acme/pi-2']!)
      await publisher.publishAsync('acme/pi-1/commands/mode', 'auto', { qos: 1, retain: true })
      for (const worker of [1, 2, 1, 2]) {
        const client = await connectOn(worker, keys['acme/pi-1']!)
        const retained = nextMessage(client, 3000)
        await client.subscribeAsync('acme/pi-1/commands/mode', { qos: 1 })
        assert.deepEqual(await retained, { topic: 'acme/pi-1/commands/mode', payload: 'auto' }, `on worker ${worker}`)
        await client.endAsync()
      }
    })

    test('a persistent QoS 1 session follows its client from worker to worker, with what was queued while away', async () => {
      const session = { clientId: 'pi-1-persistent', clean: false }
      const first = await connectOn(1, keys['acme/pi-1']!, session)
      await first.subscribeAsync('acme/pi-1/inbox', { qos: 1 })
      await first.endAsync()
      const publisher = await connect(keys['acme/pi-2']!)
      const received: string[] = []
      const deliveredOn = new Set<number>()
      for (const [n, worker] of [2, 1, 2, 1].entries()) {
        await publisher.publishAsync('acme/pi-1/inbox', `while away ${n}`, { qos: 1 })
        // an attempt that lands on the other worker resumes the session there: the message counts wherever it arrives
        let receiver: MqttClient | undefined
        const client = await connectOn(worker, keys['acme/pi-1']!, session, (payload, client) => {
          received.push(payload.toString())
          receiver = client
        })
        assert.ok(await eventually(() => received.includes(`while away ${n}`), 5000), `message ${n} arrived`)
        deliveredOn.add(await workerOf(receiver!))
        await client.endAsync()
      }
      await publisher.endAsync()
      // at least once, in order: a connection ended at once (one that landed on the other worker) may
      // leave before its PUBACK is recorded, and the message comes again, as QoS 1 allows
      assert.deepEqual(
        [...new Set(received)],
        [0, 1, 2, 3].map((n) => `while away ${n}`),
        'each arrived, in order',
      )
      assert.deepEqual([...deliveredOn].sort(), [1, 2], 'the session was resumed on both workers')
    })

    test('a key holds at most --mqtt-connections-per-key sessions on both workers together', async () => {
      const key = keys['acme/pi-limit']!
      const held = [await connectOn(1, key), await connectOn(2, key), await connectOn(1, key)]
      assert.notEqual(await refusalCode(mqttUrl, key, { clientId: `t${++ids}` }), 0)
      assert.notEqual(await refusalCode(mqttUrl, key, { clientId: `t${++ids}` }), 0, 'refused on the other worker too')
      await held[1]!.endAsync()
      assert.ok(
        await eventually(async () => (await refusalCode(mqttUrl, key, { clientId: `t${++ids}` })) === 0, 5000),
        'the session that ended makes room',
      )
    })

    test('REST answers through both workers, and values written through both are all stored', async () => {
      // a new connection, so a new worker each time
      const auth = { authorization: basicAuth(keys['acme/pi-1']!), connection: 'close' }
      const writes = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          fetch(`${server.url}/api/v1/resources/acme/pi-1/level`, {
            method: 'PUT',
            headers: { ...auth, 'content-type': 'application/json' },
            body: JSON.stringify({ data: Buffer.from(String(i)).toString('base64') }),
          }),
        ),
      )
      assert.deepEqual(
        writes.map((r) => r.status),
        Array(20).fill(200),
      )
      const history = await fetch(`${server.url}/api/v1/resources/acme/pi-1/level?count=100`, { headers: auth })
      assert.equal(history.status, 200)
      assert.deepEqual(
        ((await history.json()) as { values: number[] }).values.map(Number).sort((a, b) => a - b),
        Array.from({ length: 20 }, (_, i) => i),
      )
    })

    test("the workers run with the node flags for this machine's cores", () => {
      const expected = workerNodeFlags(2, availableParallelism())
      for (const pid of workerPids(server)) assert.deepEqual(workerFlags(pid), expected, `worker ${pid}`)
    })

    test('a worker that dies is replaced, with a log line, and the server keeps serving', async () => {
      const before = workerPids(server)
      process.kill(before[0]!, 'SIGKILL')
      assert.ok(
        await eventually(() => /"msg":"worker stopped unexpectedly; starting another"/.test(server.output()), 5000),
      )
      assert.ok(
        await eventually(() => workerPids(server).length === 2 && !workerPids(server).includes(before[0]!), 15_000),
        'a new worker runs',
      )
      assert.ok(await eventually(() => (server.output().match(/"msg":"worker listening"/g) ?? []).length === 3, 15_000))
      for (const worker of [1, 2]) await (await connectOn(worker, keys['acme/pi-3']!)).endAsync()
    })

    test('SIGUSR2 replaces every worker in turn while 50 controllers write at QoS 1 and HTTP reads: nothing acknowledged is lost, no request fails', async () => {
      const before = workerPids(server)
      let running = true
      const writers = WRITERS.map((path, i) => ({
        path,
        acked: [] as number[],
        client: mqtt.connect(mqttUrl, {
          username: 'key',
          password: keys[path]!,
          clientId: `writer-${i}`,
          clean: false,
          reconnectPeriod: 100,
        }),
      }))
      open.push(...writers.map((w) => w.client))
      const writing = writers.map(async (w) => {
        for (let n = 1; running; n++) {
          await w.client.publishAsync(`${w.path}/level`, String(n), { qos: 1 })
          w.acked.push(n)
        }
      })
      const failures: string[] = []
      let answered = 0
      const readLoop = async (path: string) => {
        while (running) {
          const reply = await fetch(`${server.url}/api/v1/resources/${path}/level`, {
            headers: { authorization: basicAuth(keys[path]!) },
          }).catch((err: Error) => err)
          if (reply instanceof Error || (reply.status !== 200 && reply.status !== 404))
            failures.push(reply instanceof Error ? `${reply.message} ${String(reply.cause)}` : String(reply.status))
          else answered++
          if (!(reply instanceof Error)) await reply.arrayBuffer()
        }
      }
      const reading = Promise.all(WRITERS.slice(0, 4).map(readLoop)) // four HTTP clients, keep-alive
      assert.ok(await eventually(() => writers.every((w) => w.acked.length > 2), 10_000), 'the controllers are writing')
      const restart = await runCli(['restart', '--data-dir', db.dataDir])
      assert.equal(restart.code, 0, restart.stderr)
      assert.ok(
        await eventually(() => /"msg":"rolling restart done"/.test(server.output()), 60_000),
        'the restart finished',
      )
      const after = writers.map((w) => w.acked.length)
      assert.ok(
        await eventually(() => writers.every((w, i) => w.acked.length > after[i]!), 10_000),
        'and they write on',
      )
      running = false
      await Promise.all([...writing, reading])
      assert.deepEqual(failures, [], 'no HTTP request failed')
      assert.ok(answered > 0)
      assert.equal(workerPids(server).filter((pid) => before.includes(pid)).length, 0, 'every worker was replaced')
      for (const pid of workerPids(server))
        assert.deepEqual(workerFlags(pid), workerNodeFlags(2, availableParallelism()), 'a new worker has the flags too')
      for (const w of writers) {
        const history = await fetch(`${server.url}/api/v1/resources/${w.path}/level?count=100000`, {
          headers: { authorization: basicAuth(keys[w.path]!) },
        })
        const stored = new Set(((await history.json()) as { values: number[] }).values.map(Number))
        assert.deepEqual(
          w.acked.filter((n) => !stored.has(n)),
          [],
          `${w.path}: every acknowledged value is stored`,
        )
      }
    })

    test('SIGTERM stops the primary and every worker cleanly', async () => {
      const pids = workerPids(server)
      assert.equal(pids.length, 2)
      for (const client of open) client.end(true)
      const { code } = await server.stop('SIGTERM')
      assert.equal(code, 0)
      for (const pid of pids) assert.throws(() => process.kill(pid, 0), 'the worker has exited')
      assert.match(server.output(), /"role":"primary"[^\n]*"msg":"stopped"/, 'the primary stopped after them')
    })
  })
}

test('more than one worker without --redis is refused with the reason', async () => {
  const db = await freshDatabase('sqlite')
  try {
    const result = await runCli([
      'serve',
      '--workers',
      '2',
      '--data-dir',
      db.dataDir,
      '--port',
      '0',
      '--mqtt-port',
      '0',
    ])
    assert.equal(result.code, 2)
    assert.match(result.stderr, /--workers: more than one worker needs --redis/)
  } finally {
    db.cleanup()
  }
})

/** which of the flags workerNodeFlags may add a worker process was started with */
function workerFlags(pid: number): string[] {
  const mayAdd = workerNodeFlags(1, 1)
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8')
    .split('\0')
    .filter((arg) => mayAdd.includes(arg))
}

/** the primary's live worker processes */
function workerPids(server: RunningServer): number[] {
  const out = execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(server.child.pid)], { encoding: 'utf8' })
  return out
    .split('\n')
    .filter((line) => /\bnode\b/.test(line))
    .map((line) => Number(line.trim().split(/\s+/)[0]))
}
