// Issue 21, "a fuzzed OpenAPI contract": a real `tendril serve` fuzzed from its own
// /api/v1/openapi.json (test/helpers/openapi-fuzz.ts) for --seconds per database: generated valid and
// broken requests with no credentials, sessions, a user key and a controller key. Prints the
// operations, requests, statuses seen, failures and the seed (to replay: --seed). Exit 1 on any 5xx,
// undocumented answer, or a server that died.
//   node --import tsx bench/faults/openapi-fuzz.ts [--seconds 120] [--seed N] [--only sqlite|postgresql]
import { rmSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { createAdmin, createOrg } from '../../core/admin.ts'
import { startServer } from '../../test/helpers/cli.ts'
import { openTestCore } from '../../test/helpers/core.ts'
import { fuzzOpenApi, type OpenApiDocument } from '../../test/helpers/openapi-fuzz.ts'
import { startBenchPostgres } from '../lib/postgres.ts'
import { machine } from '../lib/stats.ts'

const { values: args } = parseArgs({
  options: { seconds: { type: 'string', default: '120' }, seed: { type: 'string' }, only: { type: 'string' } },
})
const ADMIN = { email: 'root@example.com', password: 'a long enough password' }

console.log(machine())
const pg = await startBenchPostgres()
let failed = false
try {
  for (const provider of (['sqlite', 'postgresql'] as const).filter((p) => !args.only || p === args.only)) {
    const core = await openTestCore(provider)
    await createAdmin(core, ADMIN.email, ADMIN.password)
    await createOrg(core, 'acme')
    const { url: db } = core.config.database
    const dataDir = core.config.dataDir
    await core.close() // the server process is the only writer
    const server = await startServer(['--db', db, '--data-dir', dataDir])
    try {
      const document = (await (await fetch(`${server.url}/api/v1/openapi.json`)).json()) as OpenApiDocument
      const seed = Number(args.seed ?? Date.now() % 1_000_000)
      const started = Date.now()
      console.log(`\n${provider}: ${args.seconds} s against tendril serve (pid ${server.child.pid}), seed ${seed}`)
      const r = await fuzzOpenApi({
        url: server.url,
        document,
        admin: ADMIN,
        org: 'acme',
        seed,
        ms: Number(args.seconds) * 1000,
        alive: () => server.child.exitCode === null,
        log: (line) => console.log(`  ${line.slice(0, 400)}`),
      })
      const byStatus = new Map<string, number>()
      for (const [key, n] of r.statuses)
        byStatus.set(key.split(' ').at(-1)!, (byStatus.get(key.split(' ').at(-1)!) ?? 0) + n)
      console.log(
        `  ${r.operations} operations, ${r.requests} requests in ${((Date.now() - started) / 1000).toFixed(0)} s (${(r.requests / ((Date.now() - started) / 1000)).toFixed(0)}/s)`,
      )
      console.log(
        `  statuses: ${[...byStatus]
          .sort()
          .map(([s, n]) => `${s}×${n}`)
          .join(' ')}`,
      )
      const unanswered = [
        ...new Set(
          Object.entries(document.paths).flatMap(([p, ms]) => Object.keys(ms).map((m) => `${m.toUpperCase()} ${p}`)),
        ),
      ].filter((op) => ![...r.statuses.keys()].some((k) => k.startsWith(op + ' ') && k.endsWith(' 200')))
      console.log(`  operations never answered 200: ${unanswered.length} ${unanswered.join(', ')}`)
      console.log(`  server alive: ${server.child.exitCode === null}; failures: ${r.failures.length}`)
      for (const f of r.failures.slice(0, 20)) console.log(`    ${f.slice(0, 400)}`)
      if (r.failures.length > 0 || server.child.exitCode !== null) failed = true
    } finally {
      await server.stop()
      rmSync(dataDir, { recursive: true, force: true })
    }
  }
} finally {
  await pg.stop()
}
process.exit(failed ? 1 : 0)
