#!/usr/bin/env node
// Runs the test suite against ONE PostgreSQL and ONE Redis shared by every test file (via
// TENDRIL_TEST_PG_URL / TENDRIL_TEST_REDIS_URL), so each file doesn't pay for its own initdb.
// Usage: node scripts/run-tests.mjs [files or globs...]   (default: test/**/*.test.ts)
import { spawn } from 'node:child_process'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import { glob } from 'tinyglobby'
import { tsImport } from 'tsx/esm/api'

// tsImport loads the TS harness whether or not this script was started with --import tsx.
const { startPostgres } = await tsImport('../test/harness/postgres.ts', import.meta.url)
const { startRedis } = await tsImport('../test/harness/redis.ts', import.meta.url)

// Given patterns are relative to where the command runs; the default is the repository's whole suite.
const given = process.argv.slice(2)
const patterns = given.length ? given : ['test/**/*.test.ts']
const cwd = given.length ? process.cwd() : fileURLToPath(new URL('..', import.meta.url))
const files = (await glob(patterns, { cwd, absolute: true, ignore: ['**/node_modules/**'] })).sort()
if (files.length === 0) {
  console.error(`run-tests: no test files match ${patterns.join(' ')}`)
  process.exit(1)
}

let child
let interrupted
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    interrupted ??= sig
    child?.kill(sig) // its exit runs the normal cleanup path below
  })
}

const servers = []
async function finish(code) {
  await Promise.allSettled(servers.map((s) => s.stop()))
  process.exit(code)
}

const t0 = performance.now()
const started = await Promise.allSettled([startPostgres(), startRedis()])
for (const r of started) if (r.status === 'fulfilled') servers.push(r.value)
const failed = started.find((r) => r.status === 'rejected')
if (failed || interrupted) {
  if (failed) console.error(`run-tests: ${failed.reason?.message ?? failed.reason}`)
  await finish(interrupted ? 128 + os.constants.signals[interrupted] : 1)
}
const [pgServer, redisServer] = servers
console.error(
  `run-tests: PostgreSQL ${pgServer.version} on :${pgServer.port}, Redis ${redisServer.version} on :${redisServer.port} ` +
    `(ready in ${Math.round(performance.now() - t0)} ms); ${files.length} test file(s)`,
)

child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), '--test', '--test-concurrency=2', ...files], {
  stdio: 'inherit',
  env: {
    ...process.env,
    NODE_OPTIONS: withSourceCondition(process.env.NODE_OPTIONS),
    TENDRIL_TEST_PG_URL: pgServer.url,
    TENDRIL_TEST_REDIS_URL: redisServer.url,
  },
})
// The SDK's "tendril-source" export condition: tests (and the processes they start) use its TypeScript
// source rather than a build in controllers-sdk/dist that may be stale or absent.
function withSourceCondition(options = '') {
  return options.includes('--conditions=tendril-source') ? options : `${options} --conditions=tendril-source`.trim()
}

child.on('error', (err) => {
  console.error(`run-tests: ${err.message}`)
  void finish(1)
})
child.on('exit', (code, signal) => void finish(code ?? 128 + (os.constants.signals[signal] ?? 0)))
