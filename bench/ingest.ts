// The store path of a message to a folder, without the network: µs of broker CPU per message for
// decoding the payload alone, and for the whole ingest (broker/ingest.ts: resolve the topic, decode,
// batch, store in the history) of QoS 0 messages, next to raw better-sqlite3 inserts of the same rows.
// The ingest runs twice: with the default --message-history-count (1000), where a flood to one folder
// writes only the rows the bound keeps (core/messages/history.ts), and with a bound larger than the
// flood, where every message is a row.
// Compare with the relay budget: bare Aedes relays a message in 1e6 / (its msg/s) µs.
//   node --import tsx bench/ingest.ts [--messages 50000] [--rounds 5] [--pg]
import './lib/as-served.ts'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import type { Client, PublishPacket } from 'aedes'
import Database from 'better-sqlite3'
import { attach } from '../broker/clients.ts'
import { createIngest } from '../broker/ingest.ts'
import { authenticateKey } from '../core/accounts/keys.ts'
import { decodeFolderPayload, decodeFolderPayloadUnlessKept } from '../core/messages/codecs.ts'
import { SERVER_HANDLED_TYPES } from '../core/messages/inbound.ts'
import { createPathResolver } from '../core/resources/resolver.ts'
import type { PostgresServer } from '../test/harness/postgres.ts'
import { openTestCore, type Provider, type TestCore } from '../test/helpers/core.ts'
import { startBenchPostgres } from './lib/postgres.ts'
import { seedControllers } from './lib/seed.ts'
import { fmt, machine, median, printTable } from './lib/stats.ts'

const { values: args } = parseArgs({
  options: {
    messages: { type: 'string', default: '50000' },
    rounds: { type: 'string', default: '5' },
    pg: { type: 'boolean', default: false },
  },
})
const MESSAGES = Number(args.messages)
const ROUNDS = Number(args.rounds)
const PAYLOAD = Buffer.from(JSON.stringify({ temp: { v: 21.5, unit: 'C', sensor: 'greenhouse-north-0001' } }))

/** ingest.accept of QoS 0 messages to one folder, as the broker meets them, until everything is stored */
async function ingestStep(core: TestCore, name: string) {
  const [pi] = await seedControllers(core, 1)
  const client = { id: 'bench-ingest' } as unknown as Client
  attach(client, (await authenticateKey(core, pi!.key))!)
  const packet = {
    cmd: 'publish',
    topic: pi!.topic,
    payload: PAYLOAD,
    qos: 0,
    dup: false,
    retain: false,
  } as PublishPacket
  const ingest = createIngest(core, createPathResolver(core.db), { publishToFolder: () => {} })
  return {
    name,
    pi: pi!,
    run: async () => {
      // a read's worth of PUBLISHes, then the event loop turns
      for (let i = 0; i < MESSAGES; i += 250) {
        for (let j = i; j < Math.min(i + 250, MESSAGES); j++) ingest.accept(client, packet)
        await new Promise((resolve) => setImmediate(resolve))
      }
      await ingest.flush()
      await core.history.flush()
    },
  }
}

async function measure(provider: Provider): Promise<Map<string, number>> {
  const core = await openTestCore(provider)
  const everyRow = await openTestCore(provider, { 'message-history-count': 1_000_000 })
  let raw: Database.Database | undefined
  try {
    const flood = await ingestStep(
      core,
      `ingest.accept, QoS 0, until stored: the newest ${core.config.messageHistory.count} of each hold written`,
    )
    const pi = flood.pi
    const steps: { name: string; run: () => Promise<void> | void }[] = [
      { name: 'decodeFolderPayload only', run: () => void decodeFolderPayload(PAYLOAD) },
      {
        name: 'decodeFolderPayloadUnlessKept only (what the broker does on arrival)',
        run: () => void decodeFolderPayloadUnlessKept(PAYLOAD, SERVER_HANDLED_TYPES),
      },
      flood,
      await ingestStep(everyRow, 'ingest.accept, QoS 0, until stored: every message a row (bound 1,000,000)'),
    ]
    if (provider === 'sqlite') {
      const db = (raw = new Database(join(core.config.dataDir, 'tendril.db'), { timeout: 10_000 }))
      db.pragma('synchronous = NORMAL') // as on Tendril's own connection (WAL)
      const insert = db.prepare(
        'INSERT INTO "Message" ("folderId", "type", "parameters", "timestamp", "senderControllerId", "senderUserId") VALUES (?, ?, ?, ?, ?, ?)',
      )
      const batch = db.transaction((n: number) => {
        for (let i = 0; i < n; i++)
          insert.run(
            pi.id,
            'temp',
            JSON.stringify({ v: 21.5, unit: 'C', sensor: 'greenhouse-north-0001' }),
            Date.now(),
            pi.id,
            null,
          )
      })
      steps.push({
        name: 'raw better-sqlite3: the same rows, prepared INSERT, 500 per transaction',
        run: () => {
          for (let i = 0; i < MESSAGES; i += 500) batch(500)
        },
      })
      // what Tendril does (core/messages/history.ts): 64 rows per INSERT
      const insert64 = db.prepare(
        `INSERT INTO "Message" ("folderId", "type", "parameters", "timestamp", "senderControllerId", "senderUserId") VALUES ${Array(64).fill('(?, ?, ?, ?, ?, ?)').join(', ')}`,
      )
      const batch64 = db.transaction((n: number) => {
        for (let i = 0; i < n; i += 64) {
          const values: unknown[] = []
          for (let j = 0; j < 64; j++)
            values.push(
              pi.id,
              'temp',
              JSON.stringify({ v: 21.5, unit: 'C', sensor: 'greenhouse-north-0001' }),
              Date.now(),
              pi.id,
              null,
            )
          insert64.run(values)
        }
      })
      steps.push({
        name: 'raw better-sqlite3: the same rows, 64 per INSERT, 512 per transaction',
        run: () => {
          for (let i = 0; i < MESSAGES; i += 512) batch64(512)
        },
      })
    }
    const samples = new Map<string, number[]>(steps.map((s) => [s.name, []]))
    for (let round = 0; round < ROUNDS; round++) {
      for (const step of steps) {
        const perCall = step.name.startsWith('decode')
        const cpu0 = process.cpuUsage()
        if (perCall) for (let i = 0; i < MESSAGES; i++) await step.run()
        else await step.run()
        const cpu = process.cpuUsage(cpu0) // all threads: the WAL flush's share is included (it is small)
        samples.get(step.name)!.push((cpu.user + cpu.system) / MESSAGES)
      }
    }
    return new Map([...samples].map(([name, xs]) => [name, median(xs)]))
  } finally {
    raw?.close()
    await core.cleanup()
    await everyRow.cleanup()
  }
}

let postgres: PostgresServer | undefined
try {
  const sqlite = await measure('sqlite')
  let pg = new Map<string, number>()
  if (args.pg) {
    postgres = await startBenchPostgres()
    pg = await measure('postgresql')
  }
  console.log(machine())
  console.log(
    `${MESSAGES} messages of ${PAYLOAD.length} bytes to one folder per step, median of ${ROUNDS} rounds (µs of CPU per message, this process's threads)\n`,
  )
  printTable(
    ['step', 'SQLite µs', ...(args.pg ? ['PostgreSQL µs'] : [])],
    [...sqlite].map(([name, us]) => [name, fmt(us, 1), ...(args.pg ? [fmt(pg.get(name) ?? NaN, 1)] : [])]),
  )
} finally {
  await postgres?.stop()
}
