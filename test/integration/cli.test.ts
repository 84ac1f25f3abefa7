// The `tendril` command as scripts use it: provisioning with --json, exit statuses, and admin
// commands beside a running server.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { authenticateKey } from '../../core/accounts/keys.ts'
import { checkCredentials } from '../../core/accounts/users.ts'
import { readMigrations } from '../../core/db/migrate.ts'
import { openCore } from '../../core/index.ts'
import { loadConfig } from '../../core/config.ts'
import { createLogger } from '../../core/log.ts'
import { runCli, runJson, startServer } from '../helpers/cli.ts'
import { basicAuth } from '../helpers/http.ts'
import { freshDatabase, providers, type TestDatabase } from '../helpers/core.ts'

const FAST = ['--bcrypt-cost', '4']

async function withCore<T>(url: string, fn: (core: Awaited<ReturnType<typeof openCore>>) => Promise<T>) {
  const core = await openCore(
    loadConfig({ flags: { db: url }, env: {} }),
    createLogger({ logLevel: 'silent', logFormat: 'json' }),
  )
  try {
    return await fn(core)
  } finally {
    await core.close()
  }
}

for (const provider of providers) {
  describe(`tendril CLI provisioning on ${provider}`, () => {
    let db: TestDatabase
    before(async () => (db = await freshDatabase(provider)))
    after(() => db.cleanup())

    test('provisions an admin, two organizations, a controller and a user key', async () => {
      const args = ['--db', db.url, ...FAST]
      // every checked-in migration, in order, then none
      const checkedIn = readMigrations(provider).map((m) => m.name)
      assert.equal(checkedIn[0], '20261123000000_init')
      assert.deepEqual(await runJson(['migrate', '--db', db.url]), { applied: checkedIn })
      assert.deepEqual(await runJson(['migrate', '--db', db.url]), { applied: [] })
      const admin = await runJson(['create-admin', 'root@example.com:admin password', ...args])
      assert.equal(admin.email, 'root@example.com')
      const acme = await runJson(['create-org', 'acme', '--full-name', 'Acme Labs', ...args])
      const beta = await runJson(['create-org', 'beta', ...args])
      assert.notEqual(acme.id, beta.id)
      const controller = await runJson<{ id: number; path: string; key: string }>([
        'create-controller',
        'acme/greenhouse/pi-1',
        ...args,
      ])
      assert.deepEqual(Object.keys(controller).sort(), ['id', 'key', 'path'])
      assert.equal(controller.path, '/acme/greenhouse/pi-1')
      const user = await runJson(['create-user', 'bob@example.com:bobs password', '--org', 'acme', '--admin', ...args])
      assert.equal(user.admin, true)
      const key = await runJson<{ id: number; key: string }>([
        'create-key',
        '--user',
        'bob@example.com',
        '--org',
        'acme',
        ...args,
      ])
      assert.deepEqual(Object.keys(key).sort(), ['id', 'key'])

      await withCore(db.url, async (core) => {
        assert.equal((await authenticateKey(core, controller.key))?.kind, 'controller')
        const principal = await authenticateKey(core, key.key)
        assert.ok(principal?.kind === 'user' && principal.organizationIds.length === 1)
        assert.ok(await checkCredentials(core, 'root@example.com', 'admin password'))
        const membership = await core.db.organizationUser.findFirstOrThrow({ where: { userId: user.id as number } })
        assert.equal(membership.isAdmin, true)
      })
    })

    test('a failing command exits 1 with one clear line and changes nothing', async () => {
      const args = ['--db', db.url, ...FAST]
      const counts = () =>
        withCore(db.url, async (core) => [
          await core.db.resource.count(),
          await core.db.user.count(),
          await core.db.key.count(),
        ])
      const before = await counts()
      for (const [cmd, message] of [
        [['create-controller', 'nowhere/pi'], /organization "nowhere" not found/],
        [['create-controller', 'acme/greenhouse/pi-1'], /already exists/],
        [['create-user', 'eve@example.com:long enough pw', '--org', 'nowhere'], /not found/],
        [['create-user', 'eve@example.com:short', '--org', 'acme'], /at least 10 characters/],
        [['create-key', '--user', 'nobody@example.com', '--org', 'acme'], /user "nobody@example.com" not found/],
        [['create-org', 'bad/name'], /must not contain "\/"/],
      ] as [string[], RegExp][]) {
        const result = await runCli([...cmd, ...args, '--json'])
        assert.equal(result.code, 1, `${cmd.join(' ')}: ${result.stderr}`)
        assert.equal(result.stdout, '')
        assert.match(result.stderr, message)
        assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr)
      }
      assert.deepEqual(await counts(), before)
    })

    test("a server stopped right after a key was used exits 0 at once, with the key's use recorded", async () => {
      const { key } = await runJson<{ key: string }>(['create-controller', 'acme/greenhouse/pi-stop', '--db', db.url])
      const server = await startServer(['--db', db.url, '--data-dir', db.dataDir])
      const res = await fetch(`${server.url}/api/v1/resources/acme/greenhouse/pi-stop`, {
        headers: { authorization: basicAuth(key) },
      })
      assert.equal(res.status, 200)
      // the use is written a moment later, in a batch; the shutdown must write it, not leave it to reopen the database
      const { code, ms } = await server.stop()
      assert.equal(code, 0, server.output())
      assert.ok(ms < 3000, `shutdown took ${ms} ms`)
      await withCore(db.url, async (core) => {
        const row = await core.db.key.findFirstOrThrow({ where: { accessAsController: { name: 'pi-stop' } } })
        assert.ok(row.lastUsedAt, 'the key use was recorded before the database closed')
      })
    })
  })
}

describe('tendril CLI usage errors', () => {
  test('an unknown flag, a bad port and a malformed database URL exit with status 2 and name the setting', async () => {
    const unknown = await runCli(['serve', '--bogus'])
    assert.equal(unknown.code, 2)
    assert.match(unknown.stderr, /unknown option '--bogus'/)
    const port = await runCli(['serve', '--port', '99999'])
    assert.equal(port.code, 2)
    assert.match(port.stderr, /--port/)
    const envPort = await runCli(['config'], { TENDRIL_PORT: 'http' })
    assert.equal(envPort.code, 2)
    assert.match(envPort.stderr, /TENDRIL_PORT/)
    const db = await runCli(['create-org', 'x', '--db', 'mysql://localhost/x'])
    assert.equal(db.code, 2)
    assert.match(db.stderr, /--db: must start with file:/)
    const creds = await runCli(['create-admin', 'no-colon-here'])
    assert.equal(creds.code, 2)
    assert.match(creds.stderr, /EMAIL:PASSWORD/)
  })

  test('`tendril restart` refuses a pid file naming a process that is not tendril, and leaves it running', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tendril-restart-'))
    const bystander = spawn('sleep', ['30'])
    try {
      writeFileSync(join(dataDir, 'tendril.pid'), `${bystander.pid}\n`) // a primary killed long ago; its pid reused
      const refused = await runCli(['restart', '--data-dir', dataDir])
      assert.equal(refused.code, 1)
      assert.match(refused.stderr, /no tendril serve --workers runs on .* is gone or is another program/)
      assert.equal(bystander.exitCode, null)
      assert.equal(bystander.signalCode, null, 'the other program got no signal')
    } finally {
      bystander.kill('SIGKILL')
      rmSync(dataDir, { recursive: true, force: true })
    }
  })

  test('`tendril config` prints the effective settings with secrets redacted', async () => {
    const result = await runCli(['config', '--db', 'postgresql://tendril:hunter22@db.local:5432/t'], {
      TENDRIL_SECRET: 'z'.repeat(40),
      TENDRIL_PORT: '9000',
    })
    assert.equal(result.code, 0, result.stderr)
    const config = JSON.parse(result.stdout)
    assert.equal(config.port, 9000)
    assert.equal(config.db, 'postgresql://tendril:*****@db.local:5432/t')
    assert.doesNotMatch(result.stdout, /hunter22|z{40}/)
  })
})

describe('tendril serve', () => {
  let db: TestDatabase
  before(async () => (db = await freshDatabase('sqlite')))
  after(() => db.cleanup())

  test('serves /health, and admin commands work beside it on the same data', async () => {
    const server = await startServer(['--data-dir', db.dataDir, ...FAST])
    try {
      const health = await fetch(`${server.url}/health`)
      assert.equal(health.status, 200)
      assert.deepEqual(await health.json(), { status: 'ok', version: '0.1.0' })
      const missing = await fetch(`${server.url}/no/such/thing`)
      assert.equal(missing.status, 404)
      assert.equal(((await missing.json()) as { error: { code: string } }).error.code, 'not_found')
      // several admin commands at once, while the server holds the database open
      await runJson(['create-org', 'live', '--data-dir', db.dataDir])
      const results = await Promise.all(
        [1, 2, 3, 4, 5, 6].map((n) => runJson(['create-controller', `live/pi-${n}`, '--data-dir', db.dataDir])),
      )
      assert.equal(new Set(results.map((r) => r.id)).size, 6)
    } finally {
      const { code, ms } = await server.stop()
      assert.equal(code, 0)
      assert.ok(ms < 5000, `shutdown took ${ms} ms`)
    }
  })

  test('SIGTERM stops within 5 s even with an idle keep-alive connection open', async () => {
    const server = await startServer(['--data-dir', db.dataDir])
    const { Agent, request } = await import('node:http')
    const agent = new Agent({ keepAlive: true })
    await new Promise<void>((resolve, reject) => {
      request(`${server.url}/health`, { agent }, (res) => {
        res.resume()
        res.on('end', resolve)
      })
        .on('error', reject)
        .end()
    })
    const { code, ms } = await server.stop()
    agent.destroy()
    assert.equal(code, 0)
    assert.ok(ms < 5000, `shutdown took ${ms} ms`)
    assert.match(server.output(), /"msg":"stopped"/)
  })

  test('--dev prints an admin login that works', async () => {
    const server = await startServer(['--data-dir', db.dataDir, '--dev', ...FAST])
    let output: string
    try {
      await new Promise((r) => setTimeout(r, 200))
      output = server.output()
    } finally {
      await server.stop()
    }
    const email = /admin login: (\S+)/.exec(output)?.[1]
    const password = /password:\s+(\S+)/.exec(output)?.[1]
    assert.ok(email && password, output)
    await withCore(db.url, async (core) => assert.ok(await checkCredentials(core, email, password)))
  })

  test('secrets given in settings never reach the logs', async () => {
    const pg = await freshDatabase('postgresql')
    const secret = 'S3cr3t'.repeat(8)
    // trust auth ignores it
    const withPassword = pg.url.replace('postgresql://postgres@', 'postgresql://postgres:hunter22@')
    const server = await startServer(['--db', withPassword, '--log-level', 'trace'], { TENDRIL_SECRET: secret })
    await fetch(`${server.url}/health`, {
      headers: { authorization: 'Basic ' + Buffer.from(`x:${secret}`).toString('base64') },
    })
    await server.stop()
    pg.cleanup()
    assert.doesNotMatch(server.output(), /S3cr3tS3cr3t|hunter22/)
  })
})
