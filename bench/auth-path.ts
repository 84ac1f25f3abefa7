// Where a Tendril MQTT connection spends its time: each database step of CONNECT + SUBSCRIBE timed on
// its own (sequential calls over distinct controllers, µs per call, median of rounds), with raw
// better-sqlite3 statements beside them to separate Prisma's cost from SQLite's.
// Also: the cost per connection of the same work batched over the CONNECTs of one tick, and of one
// session-revalidation tick (broker/revalidate.ts) with --sessions connected keys.
//   node --import tsx bench/auth-path.ts [--calls 2000] [--sessions 10000] [--rounds 5] [--pg]
import './lib/as-served.ts'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import Database from 'better-sqlite3'
import { authenticateKey, authenticateKeyWithOwner, keyPartOf } from '../core/accounts/keys.ts'
import { createPathResolver } from '../core/resources/resolver.ts'
import { accessToPath } from '../core/resources/access.ts'
import { markConnected, markDisconnected, markManyConnected } from '../core/resources/controller-status.ts'
import { liveKey } from '../core/resources/tree.ts'
import type { Principal } from '../core/resources/permissions.ts'
import type { PostgresServer } from '../test/harness/postgres.ts'
import { openTestCore, type Provider, type TestCore } from '../test/helpers/core.ts'
import { startBenchPostgres } from './lib/postgres.ts'
import { seedControllers, type SeededController } from './lib/seed.ts'
import { fmt, machine, median, printTable } from './lib/stats.ts'

const { values: args } = parseArgs({
  options: {
    calls: { type: 'string', default: '2000' },
    sessions: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '5' },
    pg: { type: 'boolean', default: false },
  },
})
const CALLS = Number(args.calls)
const ROUNDS = Number(args.rounds)
const BATCH = 200
const SESSIONS = Math.max(Number(args.sessions), CALLS)

type Step = { name: string; run: (c: SeededController, i: number) => unknown; before?: () => Promise<unknown> }

async function measure(provider: Provider): Promise<[string, number][]> {
  const core: TestCore = await openTestCore(provider)
  let raw: Database.Database | undefined
  try {
    const all = await seedControllers(core, SESSIONS, { lean: true, batch: 500 })
    const controllers = all.slice(0, CALLS)
    await core.db.controllerStatus.createMany({ data: all.map((c) => ({ controllerId: c.id })) })
    const keyIds = (await core.db.key.findMany({ orderBy: { id: 'asc' }, select: { id: true } })).map((k) => k.id)
    const orgId = (await core.db.resource.findFirstOrThrow({ where: { parentId: null } })).id
    const resolver = createPathResolver(core.db, 3_600_000)
    const principals: Principal[] = controllers.map((c) => ({
      kind: 'controller',
      controllerId: c.id,
      organizationId: 0,
      keyId: 0,
    }))
    for (let i = 0; i < controllers.length; i++) principals[i] = (await authenticateKey(core, controllers[i]!.key))!
    const steps: Step[] = [
      {
        name: 'authenticateKey, key not used for a minute (1 read; lastUsedAt queued, 1 write per 200 ms)',
        before: () => core.db.key.updateMany({ data: { lastUsedAt: null } }),
        run: (c) => authenticateKey(core, c.key),
      },
      { name: 'authenticateKey, key used just now (1 read)', run: (c) => authenticateKey(core, c.key) },
      {
        name: 'accessToPath of the own folder, no cache (2 reads)',
        run: (c, i) => accessToPath(core.db, principals[i]!, '/' + c.topic),
      },
      {
        name: "accessToPath as the broker does it (rows cached; the controller's own row kept from authentication)",
        before: async () => {
          resolver.invalidate()
          for (const c of controllers) {
            const found = await authenticateKeyWithOwner(core, c.key)
            if (found?.controller) resolver.remember(found.controller)
          }
        },
        run: (c, i) => accessToPath(core.db, principals[i]!, '/' + c.topic, resolver.findLive),
      },
      {
        name: `presence of ${BATCH} controllers as the broker writes it (markManyConnected)`,
        run: (c, i) =>
          i % BATCH === 0 &&
          markManyConnected(
            core.db,
            controllers.slice(i, i + BATCH).map((x) => x.id),
          ),
      },
      { name: 'markConnected (1 upsert)', run: (c) => markConnected(core.db, c.id) },
      { name: 'markDisconnected (1 updateMany)', run: (c) => markDisconnected(core.db, c.id) },
      {
        name: 'one Prisma read by primary key (resource.findUnique)',
        run: (c) => core.db.resource.findUnique({ where: { id: c.id } }),
      },
      {
        name: 'the key lookup as Prisma $queryRawUnsafe',
        run: (c) =>
          core.db.$queryRawUnsafe(
            `SELECT * FROM "Key" WHERE "keyPart" = ${provider === 'sqlite' ? '?' : '$1'} AND "revokedAt" IS NULL`,
            keyPartOf(c.key),
          ),
      },
      // what batching the CONNECTs of one tick would cost, per connection
      {
        name: `batched: keys + controllers of ${BATCH} CONNECTs in one findMany`,
        run: (_, i) =>
          i % BATCH === 0 &&
          core.db.key.findMany({
            where: { keyPart: { in: controllers.slice(i, i + BATCH).map((c) => keyPartOf(c.key)) }, revokedAt: null },
            include: { accessAsController: true },
          }),
      },
      {
        name: `batched: lastUsedAt of ${BATCH} keys in one updateMany`,
        run: (_, i) =>
          i % BATCH === 0 &&
          core.db.key.updateMany({
            where: { id: { in: keyIds.slice(i, i + BATCH) } },
            data: { lastUsedAt: new Date() },
          }),
      },
      {
        name: `batched: presence of ${BATCH} controllers in one updateMany`,
        run: (_, i) =>
          i % BATCH === 0 &&
          core.db.controllerStatus.updateMany({
            where: { controllerId: { in: controllers.slice(i, i + BATCH).map((c) => c.id) } },
            data: { connected: true, lastConnectAt: new Date() },
          }),
      },
      {
        name: `batched: ${BATCH} folders by liveKey in one findMany`,
        run: (_, i) =>
          i % BATCH === 0 &&
          core.db.resource.findMany({
            where: {
              liveKey: { in: controllers.slice(i, i + BATCH).map((c) => liveKey(orgId, c.topic.split('/')[1]!)) },
            },
          }),
      },
    ]
    if (provider === 'sqlite') {
      const db = (raw = new Database(join(core.config.dataDir, 'tendril.db')))
      const byKeyPart = db.prepare('SELECT * FROM "Key" WHERE "keyPart" = ? AND "revokedAt" IS NULL')
      const byId = db.prepare('SELECT * FROM "Resource" WHERE "id" = ?')
      const touch = db.prepare('UPDATE "Key" SET "lastUsedAt" = ? WHERE "id" = ?')
      db.pragma('synchronous = NORMAL') // as on Tendril's own connection (WAL)
      steps.push(
        {
          name: 'raw better-sqlite3: key lookup by keyPart (prepared once)',
          run: (c) => byKeyPart.all(keyPartOf(c.key)),
        },
        { name: 'raw better-sqlite3: resource by id (prepared once)', run: (c) => byId.get(c.id) },
        {
          name: 'raw better-sqlite3: one-row UPDATE, autocommit (WAL, synchronous=NORMAL)',
          run: (_, i) => touch.run(Date.now(), principals[i]!.kind === 'controller' ? principals[i]!.keyId : 0),
        },
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
    // broker/revalidate.ts before: every second, every connected session's key with its owner (now
    // done only when the credentials version moves, in chunks of 1,000 keys)
    const tick: number[] = []
    for (let round = 0; round < ROUNDS; round++) {
      const t0 = performance.now()
      await core.db.key.findMany({
        where: { id: { in: keyIds } },
        select: {
          id: true,
          organizationId: true,
          revokedAt: true,
          accessAsController: { select: { deleted: true } },
          accessAsUser: { select: { deleted: true, role: true, memberships: { select: { organizationId: true } } } },
        },
      })
      tick.push((performance.now() - t0) * 1000)
    }
    // broker/revalidate.ts now, every second: the two markers in one read, and a 1/30 slice of the keys
    const markerTick: number[] = []
    const slice = keyIds.slice(0, Math.ceil(keyIds.length / 30))
    for (let round = 0; round < ROUNDS; round++) {
      const t0 = performance.now()
      await core.db.serverSetting.findMany({ where: { name: { in: ['credentials_version', 'access_version'] } } })
      await core.db.key.findMany({
        where: { id: { in: slice } },
        select: {
          id: true,
          organizationId: true,
          revokedAt: true,
          accessAsController: { select: { deleted: true } },
          accessAsUser: { select: { deleted: true, role: true, memberships: { select: { organizationId: true } } } },
        },
      })
      markerTick.push((performance.now() - t0) * 1000)
    }
    return [
      ...steps.map((s): [string, number] => [s.name, median(samples.get(s.name)!)]),
      [`old revalidation tick: all ${SESSIONS} keys re-read (µs per tick, not per call)`, median(tick)],
      [`revalidation tick now: markers + sweep slice of ${slice.length} keys (µs per tick)`, median(markerTick)],
    ]
  } finally {
    raw?.close()
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
    sqlite.map(([name, us]) => [
      name,
      fmt(us, 0),
      ...(args.pg ? [fmt(pg.find(([n]) => n === name)?.[1] ?? NaN, 0)] : []),
    ]),
  )
  const total = (rows: [string, number][]) =>
    rows
      .filter(([n]) => /^(batched: keys \+ controllers|accessToPath as the broker|presence of)/.test(n))
      .reduce((a, [, us]) => a + us, 0)
  console.log(
    `\nper connection as the broker now does it in a storm (keys looked up together — the broker gathers ~16 a query, this step 200 — + cached accessToPath + batched presence): SQLite ${fmt(total(sqlite), 0)} µs` +
      (args.pg ? `, PostgreSQL ${fmt(total(pg), 0)} µs (sequential latency)` : ''),
  )
} finally {
  await postgres?.stop()
}
