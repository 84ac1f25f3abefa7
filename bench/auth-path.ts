// Where a Tendril MQTT connection spends its time: each database step of CONNECT + SUBSCRIBE timed on
// its own (sequential calls over distinct controllers, µs per call, median of rounds), with raw
// better-sqlite3 statements beside them to separate Prisma's cost from SQLite's.
//   node --import tsx bench/auth-path.ts [--calls 2000] [--rounds 5] [--pg]
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import Database from 'better-sqlite3'
import { authenticateKey } from '../core/accounts/keys.ts'
import { accessToPath } from '../core/resources/access.ts'
import { markConnected, markDisconnected } from '../core/resources/controller-status.ts'
import type { Principal } from '../core/resources/permissions.ts'
import type { PostgresServer } from '../test/harness/postgres.ts'
import { openTestCore, type Provider, type TestCore } from '../test/helpers/core.ts'
import { startBenchPostgres } from './lib/postgres.ts'
import { seedControllers, type SeededController } from './lib/seed.ts'
import { fmt, machine, median, printTable } from './lib/stats.ts'

const { values: args } = parseArgs({ options: { calls: { type: 'string', default: '2000' }, rounds: { type: 'string', default: '5' }, pg: { type: 'boolean', default: false } } })
const CALLS = Number(args.calls)
const ROUNDS = Number(args.rounds)

type Step = { name: string; run: (c: SeededController, i: number) => unknown; before?: () => Promise<unknown> }

async function measure(provider: Provider): Promise<[string, number][]> {
  const core: TestCore = await openTestCore(provider)
  try {
    const controllers = await seedControllers(core, CALLS, { lean: true, batch: 500 })
    const principals: Principal[] = controllers.map((c) => ({ kind: 'controller', controllerId: c.id, organizationId: 0, keyId: 0 }))
    for (let i = 0; i < controllers.length; i++) principals[i] = (await authenticateKey(core, controllers[i]!.key))!
    const steps: Step[] = [
      { name: 'authenticateKey, key not used for a minute (2 reads + lastUsedAt write)', before: () => core.db.key.updateMany({ data: { lastUsedAt: null } }), run: (c) => authenticateKey(core, c.key) },
      { name: 'authenticateKey, key used just now (2 reads)', run: (c) => authenticateKey(core, c.key) },
      { name: 'accessToPath of the own folder (4 reads)', run: (c, i) => accessToPath(core.db, principals[i]!, '/' + c.topic) },
      { name: 'markConnected (1 upsert)', run: (c) => markConnected(core.db, c.id) },
      { name: 'markDisconnected (1 updateMany)', run: (c) => markDisconnected(core.db, c.id) },
      { name: 'one Prisma read by primary key (resource.findUnique)', run: (c) => core.db.resource.findUnique({ where: { id: c.id } }) },
    ]
    if (provider === 'sqlite') {
      const raw = new Database(join(core.config.dataDir, 'tendril.db'))
      const byKeyPart = raw.prepare('SELECT * FROM "Key" WHERE "keyPart" = ? AND "revokedAt" IS NULL')
      const byId = raw.prepare('SELECT * FROM "Resource" WHERE "id" = ?')
      const touch = raw.prepare('UPDATE "Key" SET "lastUsedAt" = ? WHERE "id" = ?')
      steps.push(
        { name: 'raw better-sqlite3: key lookup by keyPart (prepared once)', run: (c) => byKeyPart.all(c.key.slice(4, 7) + c.key.slice(-3)) },
        { name: 'raw better-sqlite3: resource by id (prepared once)', run: (c) => byId.get(c.id) },
        { name: 'raw better-sqlite3: one-row UPDATE, autocommit (WAL, synchronous=FULL)', run: (_, i) => touch.run(Date.now(), principals[i]!.kind === 'controller' ? principals[i]!.keyId : 0) },
        { name: 'raw better-sqlite3: same UPDATE with synchronous=NORMAL', before: async () => raw.pragma('synchronous = NORMAL'), run: (_, i) => touch.run(Date.now(), principals[i]!.kind === 'controller' ? principals[i]!.keyId : 0) },
      )
    }
    const samples = new Map<string, number[]>(steps.map((s) => [s.name, []]))
    for (let round = 0; round < ROUNDS; round++) {
      for (const step of steps) {
        await step.before?.()
        const t0 = performance.now()
        for (let i = 0; i < controllers.length; i++) await step.run(controllers[i]!, i)
        samples.get(step.name)!.push(((performance.now() - t0) * 1000) / controllers.length)
      }
    }
    return steps.map((s) => [s.name, median(samples.get(s.name)!)])
  } finally {
    await core.cleanup()
  }
}

let postgres: PostgresServer | undefined
try {
  const sqlite = await measure('sqlite')
  let pg: [string, number][] = []
  if (args.pg) {
    postgres = await startBenchPostgres()
    pg = await measure('postgresql')
  }
  console.log(machine())
  console.log(`${CALLS} sequential calls per step, median of ${ROUNDS} rounds (µs per call)\n`)
  printTable(
    ['step', 'SQLite µs', ...(args.pg ? ['PostgreSQL µs'] : [])],
    sqlite.map(([name, us]) => [name, fmt(us, 0), ...(args.pg ? [fmt(pg.find(([n]) => n === name)?.[1] ?? NaN, 0)] : [])]),
  )
  const total = (rows: [string, number][]) => rows.filter(([n]) => /^(authenticateKey, key not|accessToPath|markConnected)/.test(n)).reduce((a, [, us]) => a + us, 0)
  console.log(`\nper connection (authenticateKey with write + accessToPath + markConnected): SQLite ${fmt(total(sqlite), 0)} µs` + (args.pg ? `, PostgreSQL ${fmt(total(pg), 0)} µs (sequential latency)` : ''))
} finally {
  await postgres?.stop()
}
