// Sequences through REST on SQLite and PostgreSQL:
//  - writes/s from one keep-alive client (a child process) sending values one request at a time,
//    after a warm-up round, with the disk's own append + fdatasync rate for reference and, with
//    --sqlite-synchronous full, the ceiling those two set for one client (a round trip plus a flush each);
//  - GET ?count=10000 (the latest 10,000 of a 100,000-value sequence), over HTTP and the core call alone;
//  - GET ?buckets=500 over the whole 100,000-value sequence, over HTTP and the core call alone;
// with, on SQLite, the same latest-10,000 read as a raw better-sqlite3 statement for reference.
//   node --import tsx bench/rest-sequences.ts [--rounds 3] [--seconds 5] [--reads 15] [--sqlite-synchronous normal]
import './lib/as-served.ts'
import { closeSync, fdatasyncSync, openSync, rmSync, writeSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import Database from 'better-sqlite3'
import { createController, createKeyForUser, createOrg, createOrgUser } from '../core/admin.ts'
import { downsampleHistory } from '../core/resources/sequence-downsample.ts'
import { sequenceHistory } from '../core/resources/sequence-history.ts'
import { storeSequenceValues } from '../core/resources/sequence-store/store.ts'
import { createSequence, findPath } from '../core/resources/tree.ts'
import { SequenceDataType } from '../core/resources/types.ts'
import { startTendril, type RunningTendril } from './lib/brokers.ts'
import { startBenchPostgres } from './lib/postgres.ts'
import type { WriteJob, WriteResult } from './lib/rest-writer.ts'
import { fmt, machine, median, printTable } from './lib/stats.ts'
import { startWorker } from './lib/worker.ts'

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '5' },
    reads: { type: 'string', default: '15' },
    points: { type: 'string', default: '100000' },
    'sqlite-synchronous': { type: 'string', default: 'full' },
  },
})
const ROUNDS = Number(args.rounds)
const SECONDS = Number(args.seconds)
const READS = Number(args.reads)
const POINTS = Number(args.points)
const T0 = Date.UTC(2023, 0, 1)

const httpUrl = (t: RunningTendril) => t.wsUrl.replace(/^ws:/, 'http:').replace(/\/mqtt$/, '')

async function timeIt(n: number, fn: () => Promise<unknown>): Promise<number> {
  const samples: number[] = []
  await fn() // warm-up: plans, caches, JIT
  for (let i = 0; i < n; i++) {
    const t0 = performance.now()
    await fn()
    samples.push(performance.now() - t0)
  }
  return median(samples)
}

/** The same client against a bare node:http server that reads each body and answers 200: the HTTP floor. */
async function bareHttpRate(): Promise<number> {
  const server = http.createServer((req, res) => {
    req.resume()
    req.on('end', () => res.end('{"status":"ok"}'))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  try {
    const { port } = server.address() as AddressInfo
    const result = await worker.run(
      { url: `http://127.0.0.1:${port}`, key: 'x', path: '/x', seconds: SECONDS },
      600_000,
    )
    return (result.ok / result.ms) * 1000
  } finally {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }
}

/**
 * The disk's floor for one client writing serially with --sqlite-synchronous full: appends of a
 * commit's size (~9 KiB of WAL) each followed by fdatasync, in the data directory, per second.
 */
function fdatasyncRate(dir: string): number {
  const file = join(dir, 'fdatasync-probe')
  const fd = openSync(file, 'w')
  const page = Buffer.alloc(9 * 1024, 1)
  try {
    const started = performance.now()
    let n = 0
    for (; performance.now() - started < 2000; n++) {
      writeSync(fd, page)
      fdatasyncSync(fd)
    }
    return (n / (performance.now() - started)) * 1000
  } finally {
    closeSync(fd)
    rmSync(file, { force: true })
  }
}

console.log(machine())
const pg = await startBenchPostgres()
const worker = startWorker<WriteJob, WriteResult>(new URL('./lib/rest-writer.ts', import.meta.url))
const rows: string[][] = []
try {
  for (const provider of ['sqlite', 'postgresql'] as const) {
    const tendril = await startTendril(provider, { 'sqlite-synchronous': args['sqlite-synchronous'] })
    try {
      const core = tendril.core
      await createOrg(core, 'bench')
      const { key, path } = await createController(core, 'bench/site/pi-1')
      await createOrgUser(core, 'reader@example.com', 'long enough pw', 'bench', false)
      const userKey = (await createKeyForUser(core, 'reader@example.com', 'bench')).key
      const folder = (await findPath(core.db, path))!.at(-1)!

      // writes through REST, one keep-alive client, one value per request; after a warm-up round not
      // counted (the server's code paths compile, the WAL file grows to its working size), as a
      // server that has been running a while answers
      const warmUp = await createSequence(core.db, folder, 'warm-up', {
        dataType: SequenceDataType.numeric,
        decimalPlaces: 1,
      })
      await worker.run({ url: httpUrl(tendril), key, path: `${path}/${warmUp.name}`, seconds: SECONDS }, 600_000)
      const rates: number[] = []
      let failed = 0
      for (let round = 0; round < ROUNDS; round++) {
        const name = `written-${round}`
        const seq = await createSequence(core.db, folder, name, {
          dataType: SequenceDataType.numeric,
          decimalPlaces: 1,
        })
        const result = await worker.run(
          { url: httpUrl(tendril), key, path: `${path}/${name}`, seconds: SECONDS },
          600_000,
        )
        const stored = await core.db.resourceRevision.count({ where: { resourceId: seq.id } })
        // every 200 was stored (a last request cut off by the end of the run may be stored unanswered)
        failed += result.failed + Math.max(0, result.ok - stored)
        rates.push((result.ok / result.ms) * 1000)
        console.log(`${provider} writes round ${round + 1}: ${stored} stored in ${fmt(result.ms / 1000, 2)} s`)
      }
      if (provider === 'sqlite') {
        const bare = await bareHttpRate()
        const disk = fdatasyncRate(core.config.dataDir)
        rows.push([provider, '  reference: bare node:http server, same client (writes/s)', fmt(bare, 0), '', ''])
        rows.push([provider, '  reference: this disk, 9 KiB append + fdatasync (per s)', fmt(disk, 0), '', ''])
        // one client waits for each answer, and with `full` each answer waits for a flush: no server
        // doing nothing else could answer faster than a bare round trip plus one fdatasync
        if (args['sqlite-synchronous'] === 'full')
          rows.push([
            provider,
            '  ceiling with full: 1 / (bare round trip + one fdatasync)',
            fmt(1 / (1 / bare + 1 / disk), 0),
            '',
            '',
          ])
      }
      rows.push([
        provider,
        `REST writes/s, 1 keep-alive client (${SECONDS} s per round)`,
        fmt(median(rates), 0),
        failed === 0 ? 'all stored' : `${failed} LOST`,
        '≥ 2,000/s',
      ])

      // a 100,000-point numeric sequence, seeded through the core in batches
      const big = await createSequence(core.db, folder, 'big', { dataType: SequenceDataType.numeric, decimalPlaces: 2 })
      for (let i = 0; i < POINTS; i += 5000) {
        await storeSequenceValues(
          core,
          core.blobs,
          Array.from({ length: Math.min(5000, POINTS - i) }, (_, j) => ({
            sequenceId: big.id,
            value: String(Math.sin((i + j) / 500) * 20 + 20),
            timestamp: new Date(T0 + (i + j) * 1000),
          })),
        )
      }
      const url = `${httpUrl(tendril)}/api/v1/resources${path}/big`
      const headers = { authorization: 'Basic ' + Buffer.from(`bench:${userKey}`).toString('base64') }
      const fetchJson = async (query: string) => {
        const res = await fetch(`${url}?${query}`, { headers })
        if (res.status !== 200) throw new Error(`GET ${query}: ${res.status} ${await res.text()}`)
        return res.json()
      }
      // timed: the whole response received, not parsed (the client shares this process with the server)
      const fetchBody = async (query: string) => {
        const res = await fetch(`${url}?${query}`, { headers })
        if (res.status !== 200) throw new Error(`GET ${query}: ${res.status}`)
        return res.arrayBuffer()
      }
      const latest = (await fetchJson('count=10000')) as { values: string[] }
      if (latest.values.length !== 10_000) throw new Error('expected 10,000 values')
      rows.push([
        provider,
        'GET ?count=10000 of 100,000, HTTP, body received (ms)',
        fmt(await timeIt(READS, () => fetchBody('count=10000')), 1),
        '',
        '< 50 ms',
      ])
      rows.push([
        provider,
        '  sequenceHistory(count 10000) alone (ms)',
        fmt(await timeIt(READS, () => sequenceHistory(core.db, big.id, { count: 10_000 })), 1),
        '',
        '',
      ])
      const end = new Date(T0 + (POINTS - 1) * 1000).toISOString()
      const bucketed = (await fetchJson('buckets=500')) as { buckets: { count: number }[] }
      if (bucketed.buckets.length !== 500 || bucketed.buckets.reduce((a, b) => a + b.count, 0) !== POINTS)
        throw new Error('expected 500 buckets holding every point')
      rows.push([
        provider,
        'GET ?buckets=500 of 100,000, HTTP, body received (ms)',
        fmt(await timeIt(READS, () => fetchBody('buckets=500')), 1),
        '',
        '< 100 ms',
      ])
      rows.push([
        provider,
        '  downsampleHistory(500) alone (ms)',
        fmt(
          await timeIt(READS, () =>
            downsampleHistory(core.db, big.id, { start: new Date(T0), end: new Date(end), buckets: 500 }),
          ),
          1,
        ),
        '',
        '',
      ])
      if (provider === 'sqlite') {
        const raw = new Database(join(core.config.dataDir, 'tendril.db'), { readonly: true })
        const statement = raw.prepare(
          'SELECT "timestamp", CAST("data" AS TEXT) AS v FROM "ResourceRevision" WHERE "resourceId" = ? ORDER BY "timestamp" DESC, id DESC LIMIT 10000',
        )
        rows.push([
          provider,
          '  reference: raw better-sqlite3, latest 10,000 rows (ms)',
          fmt(await timeIt(READS, async () => statement.all(big.id)), 1),
          '',
          '',
        ])
        raw.close()
      }
    } finally {
      await tendril.stop()
    }
  }
} finally {
  await worker.stop()
  await pg.stop()
}
printTable(['database', 'measure', 'median', 'check', 'target'], rows)
