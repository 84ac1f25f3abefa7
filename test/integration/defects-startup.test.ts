// Issue 16, item 3: `tendril serve` that cannot start exits non-zero within seconds, with one line
// naming what failed, instead of staying alive behind a listen error (a service manager would think
// it runs). The backstop exit of a failed start is pushed past the test's patience, so an exit
// means everything opened was released.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import net from 'node:net'
import { after, before, describe, test } from 'node:test'
import { SERVER_NODE_FLAGS } from '../../cli/node-flags.ts'
import { freePort } from '../harness/ports.ts'
import { sharedRedis } from '../harness/redis.ts'
import { startServer, tendrilBin } from '../helpers/cli.ts'
import { freshDatabase, providers, type TestDatabase } from '../helpers/core.ts'

// A hung start is killed at HUNG_MS; a failed one must be gone within EXIT_MS of saying why. (The
// start itself is timed from the failure line: on a loaded machine tsx alone can take seconds.)
const HUNG_MS = 40_000
const EXIT_MS = 10_000

interface Outcome {
  code: number | null
  /** from the first line saying the start failed to the exit */
  exitMs: number
  stderr: string
}

/** Runs `tendril serve …` and kills it (SIGKILL) if it has not exited within HUNG_MS. */
function serveUntilExit(args: string[]): Promise<Outcome> {
  // the backstop exit of a failed start comes at --shutdown-timeout + 1 s, after HUNG_MS
  const child = spawn(
    process.execPath,
    [...SERVER_NODE_FLAGS, tendrilBin, 'serve', '--host', '127.0.0.1', '--shutdown-timeout', '60000', ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let stderr = ''
  let failedAt = Infinity
  child.stdout.on('data', (d) => (stderr += d))
  child.stderr.on('data', (d) => {
    stderr += d
    if (/"tendril did not start"|^tendril: /m.test(stderr)) failedAt = Math.min(failedAt, Date.now())
  })
  const timer = setTimeout(() => child.kill('SIGKILL'), HUNG_MS)
  return new Promise((resolve) => {
    child.on('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, exitMs: Date.now() - failedAt, stderr })
    })
  })
}

/** Nothing listens on the port: we can bind it ourselves. */
async function assertFree(port: number) {
  const probe = net.createServer()
  await new Promise<void>((resolve, reject) => probe.once('error', reject).listen(port, '127.0.0.1', resolve))
  await new Promise((resolve) => probe.close(resolve))
}

function holdPort(): Promise<net.Server & { port: number }> {
  const server = net.createServer((socket) => socket.destroy())
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve(Object.assign(server, { port: (server.address() as net.AddressInfo).port })),
    ),
  )
}

function assertFailedFast(result: Outcome, reason: RegExp, code = 1) {
  assert.equal(result.code, code, `exit status (null = still running after ${HUNG_MS} ms):\n${result.stderr}`)
  assert.ok(result.exitMs < EXIT_MS, `exited ${result.exitMs} ms after the failure line`)
  assert.match(result.stderr, reason)
  assert.doesNotMatch(result.stderr, /took too long/)
}

for (const provider of providers) {
  describe(`tendril serve that cannot start, on ${provider}`, () => {
    let db: TestDatabase
    before(async () => (db = await freshDatabase(provider)))
    after(() => db.cleanup())

    test('a second server on a busy HTTP port exits 1, names the port, and leaves the first one serving', async () => {
      const first = await startServer(['--db', db.url, '--data-dir', db.dataDir])
      try {
        const mqttPort = await freePort()
        const second = await serveUntilExit([
          '--db',
          db.url,
          '--data-dir',
          db.dataDir,
          '--port',
          String(first.port),
          '--mqtt-port',
          String(mqttPort),
        ])
        assertFailedFast(
          second,
          new RegExp(`tendril: cannot listen for HTTP on 127\\.0\\.0\\.1:${first.port}: the port is in use`),
        )
        await assertFree(mqttPort)
        assert.equal((await fetch(`${first.url}/health`)).status, 200)
      } finally {
        assert.equal((await first.stop()).code, 0)
      }
    })

    test('a busy MQTT port exits 1 and closes the HTTP listener it had opened', async () => {
      const busy = await holdPort()
      try {
        const httpPort = await freePort()
        const result = await serveUntilExit([
          '--db',
          db.url,
          '--data-dir',
          db.dataDir,
          '--port',
          String(httpPort),
          '--mqtt-port',
          String(busy.port),
        ])
        assertFailedFast(
          result,
          new RegExp(`tendril: cannot listen for MQTT on 127\\.0\\.0\\.1:${busy.port}: the port is in use`),
        )
        await assertFree(httpPort)
      } finally {
        busy.close()
      }
    })

    test('an unreachable Redis exits 1 naming it, after closing the database', async () => {
      const httpPort = await freePort()
      const redis = `redis://127.0.0.1:${await freePort()}`
      const result = await serveUntilExit([
        '--db',
        db.url,
        '--data-dir',
        db.dataDir,
        '--port',
        String(httpPort),
        '--mqtt-port',
        '0',
        '--redis',
        redis,
      ])
      assertFailedFast(result, /tendril: cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+/)
      await assertFree(httpPort)
    })
  })
}

describe('tendril serve that cannot reach its database or read its TLS files', () => {
  test('an unreachable PostgreSQL URL (a port nobody listens on) exits 1 naming it, password redacted', async () => {
    const result = await serveUntilExit([
      '--db',
      `postgresql://tendril:secret@127.0.0.1:${await freePort()}/tendril`,
      '--port',
      '0',
      '--mqtt-port',
      '0',
    ])
    assertFailedFast(
      result,
      /tendril: cannot reach PostgreSQL at postgresql:\/\/tendril:\*\*\*\*\*@127\.0\.0\.1:\d+\/tendril/,
    )
    assert.doesNotMatch(result.stderr, /secret/)
  })

  test('a missing TLS file exits 2 naming the file', async () => {
    const db = await freshDatabase('sqlite')
    try {
      const result = await serveUntilExit([
        '--data-dir',
        db.dataDir,
        '--port',
        '0',
        '--mqtt-port',
        '0',
        '--tls-cert',
        '/nonexistent/cert.pem',
        '--tls-key',
        '/nonexistent/key.pem',
      ])
      assertFailedFast(result, /cannot read the TLS certificate \/nonexistent\/cert\.pem/, 2)
    } finally {
      db.cleanup()
    }
  })

  test('a Redis that is reachable still starts (the failure path is not taken by a healthy start)', async () => {
    const db = await freshDatabase('sqlite')
    const server = await startServer(['--data-dir', db.dataDir, '--redis', (await sharedRedis()).url])
    try {
      assert.equal((await fetch(`${server.url}/health`)).status, 200)
    } finally {
      assert.equal((await server.stop()).code, 0)
      db.cleanup()
    }
  })
})
