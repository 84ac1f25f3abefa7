// Backups that restore: `tendril backup` while 20 controllers write QoS 1 values to a running
// `tendril serve`, `tendril restore` into an empty data dir, a server on the restored data that has
// every value acknowledged before the backup began, and `tendril check` that finds a rotted blob.
import assert from 'node:assert/strict'
import { appendFileSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import type { MqttClient } from 'mqtt'
import { createController, createOrg } from '../../core/admin.ts'
import { createSequence, findPath } from '../../core/resources/tree.ts'
import { SequenceDataType } from '../../core/resources/types.ts'
import { sharedPostgres } from '../harness/postgres.ts'
import { runCli, runJson, startServer, startServerWithMqtt, type RunningServer } from '../helpers/cli.ts'
import { openTestCore, providers, type Provider, type TestCore } from '../helpers/core.ts'
import { basicAuth, eventually } from '../helpers/http.ts'
import { connect, endAll } from '../helpers/mqtt.ts'

const CONTROLLERS = 20
const BLOB_EVERY = 4 // every 4th value is a text larger than the inline limit, so it goes to the blob store

/** pg_dump/pg_restore of the PostgreSQL the tests run (the harness's own choice of bin directory). */
function pgBinArgs(provider: Provider): string[] {
  if (provider === 'sqlite') return []
  const dir =
    process.env.TENDRIL_PG_BIN ??
    readdirSync('/usr/lib/postgresql')
      .sort((a, b) => parseFloat(b) - parseFloat(a))
      .map((v) => `/usr/lib/postgresql/${v}/bin`)[0]!
  return ['--pg-bin', dir]
}

interface Written {
  controller: number
  sequence: 'level' | 'note'
  value: string
}

async function provision(core: TestCore): Promise<string[]> {
  await createOrg(core, 'acme')
  const keys: string[] = []
  for (let i = 0; i < CONTROLLERS; i++) {
    const { key } = await createController(core, `acme/c-${i}`)
    const folder = (await findPath(core.db, `/acme/c-${i}`))!.at(-1)!
    await createSequence(core.db, folder, 'level', { dataType: SequenceDataType.numeric })
    await createSequence(core.db, folder, 'note', { dataType: SequenceDataType.text })
    keys.push(key)
  }
  return keys
}

/** Each controller publishes QoS 1 values one after another; a value counts once its PUBACK is in. */
function startWriters(clients: MqttClient[]) {
  const acked: Written[] = []
  let running = true
  const loops = clients.map(async (client, controller) => {
    for (let n = 1; running; n++) {
      const sequence = n % BLOB_EVERY === 0 ? 'note' : 'level'
      const value = sequence === 'level' ? String(n) : `c${controller}-n${n}-${'x'.repeat(1200)}`
      await client.publishAsync(`acme/c-${controller}/${sequence}`, value, { qos: 1 })
      acked.push({ controller, sequence, value })
    }
  })
  return {
    acked,
    async stop() {
      running = false
      await Promise.all(loops)
    },
  }
}

async function history(server: RunningServer, key: string, path: string): Promise<Set<string>> {
  const res = await fetch(`${server.url}/api/v1/resources/${path}?count=100000`, {
    headers: { authorization: basicAuth(key) },
  })
  const text = await res.text()
  assert.equal(res.status, 200, `${path}: ${text}`)
  const body = JSON.parse(text) as { values: unknown[] }
  return new Set(body.values.map(String))
}

function blobFiles(dataDir: string): string[] {
  const root = join(dataDir, 'blobs')
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /^[0-9a-f]{64}$/.test(e.name))
    .map((e) => join(e.parentPath, e.name))
}

for (const provider of providers) {
  describe(`backups on ${provider}`, () => {
    test('a backup taken while 20 controllers write restores every acknowledged value, and check finds a rotted blob', async () => {
      const core = await openTestCore(provider)
      const keys = await provision(core)
      const source = ['--db', core.config.database.url, '--data-dir', core.config.dataDir]
      const server = await startServerWithMqtt(source)
      const work = mkdtempSync(join(tmpdir(), 'tendril-backup-test-'))
      const file = join(work, 'tendril.tar.gz')
      const restoredDir = join(work, 'restored')
      const restoredUrl =
        provider === 'sqlite'
          ? `file:${join(restoredDir, 'tendril.db')}`
          : await (await sharedPostgres()).createDatabase()
      const target = ['--db', restoredUrl, '--data-dir', restoredDir]
      let restored: RunningServer | undefined
      try {
        const clients = await Promise.all(
          keys.map((key, i) => connect(`mqtt://127.0.0.1:${server.mqttPort}`, key, { clientId: `c-${i}` })),
        )
        const writers = startWriters(clients)
        assert.ok(
          await eventually(() => writers.acked.filter((w) => w.sequence === 'note').length >= 40, 20_000),
          'writers got going',
        )
        const before = writers.acked.slice()
        const backup = await runJson<{ blobs: number; blobsIncluded: boolean }>([
          'backup',
          file,
          ...source,
          ...pgBinArgs(provider),
        ])
        const duringBackup = writers.acked.length - before.length
        await writers.stop()
        assert.ok(duringBackup > 0, 'the controllers kept writing while the backup ran')
        assert.ok(
          backup.blobsIncluded && backup.blobs >= before.filter((w) => w.sequence === 'note').length,
          `blobs in the backup: ${backup.blobs}`,
        )
        console.log(
          `${provider}: ${before.length} values acknowledged before the backup, ${duringBackup} during it, ${backup.blobs} blobs in it`,
        )

        const restoring = await runCli(['restore', file, ...target, ...pgBinArgs(provider), '--json'])
        assert.equal(restoring.code, 0, restoring.stderr)
        assert.equal(JSON.parse(restoring.stdout).blobs, backup.blobs)

        restored = await startServer(target)
        for (let controller = 0; controller < CONTROLLERS; controller++) {
          for (const sequence of ['level', 'note'] as const) {
            const stored = await history(restored, keys[controller]!, `acme/c-${controller}/${sequence}`)
            const missing = before.filter(
              (w) => w.controller === controller && w.sequence === sequence && !stored.has(w.value),
            )
            assert.deepEqual(
              missing,
              [],
              `acknowledged values of acme/c-${controller}/${sequence} missing after the restore`,
            )
          }
        }
        await restored.stop()

        const clean = await runCli(['check', ...target])
        assert.equal(clean.code, 0, clean.stdout + clean.stderr)
        assert.match(clean.stdout, new RegExp(`checked ${backup.blobs} blobs: all present and intact`))

        const rotted = blobFiles(restoredDir)[0]!
        appendFileSync(rotted, 'bit rot')
        const dirty = await runCli(['check', ...target, '--json'])
        assert.equal(dirty.code, 1, dirty.stdout + dirty.stderr)
        const report = JSON.parse(dirty.stdout) as { checked: number; problems: { hash: string; problem: string }[] }
        assert.deepEqual(
          report.problems.map((p) => [p.hash, p.problem]),
          [[rotted.split('/').at(-1), 'corrupt']],
        )
        assert.match(dirty.stderr, /1 of \d+ referenced blobs are missing or corrupt/)
      } finally {
        endAll()
        await server.stop()
        await restored?.stop()
        await core.cleanup()
        rmSync(work, { recursive: true, force: true })
      }
    })

    test('restore refuses a data dir or database that is not empty; backup without pg_dump says where to look', async () => {
      const core = await openTestCore(provider)
      const work = mkdtempSync(join(tmpdir(), 'tendril-backup-test-'))
      const file = join(work, 'tendril.tar.gz')
      try {
        await createOrg(core, 'acme')
        await runJson([
          'backup',
          file,
          '--db',
          core.config.database.url,
          '--data-dir',
          core.config.dataDir,
          ...pgBinArgs(provider),
        ])
        // the source itself is not empty
        const over = await runCli([
          'restore',
          file,
          '--db',
          core.config.database.url,
          '--data-dir',
          core.config.dataDir,
          ...pgBinArgs(provider),
        ])
        assert.equal(over.code, 1)
        assert.match(over.stderr, /is not empty: a backup is restored into an empty one/)
        if (provider === 'postgresql') {
          const withoutPgDump = await runCli([
            'backup',
            join(work, 'other.tar.gz'),
            '--db',
            core.config.database.url,
            '--pg-bin',
            work,
          ])
          assert.equal(withoutPgDump.code, 1)
          assert.match(withoutPgDump.stderr, /pg_dump not found in .*see "Backups" in docs\/operations.md/)
          assert.deepEqual(readdirSync(work).sort(), ['tendril.tar.gz'], 'nothing half-written')
          const emptyDir = join(work, 'empty')
          const intoUsed = await runCli([
            'restore',
            file,
            '--db',
            core.config.database.url,
            '--data-dir',
            emptyDir,
            ...pgBinArgs(provider),
          ])
          assert.equal(intoUsed.code, 1)
          assert.match(intoUsed.stderr, /the PostgreSQL database is not empty/)
          assert.equal(existsSync(emptyDir), false, 'nothing was made')
        }
      } finally {
        await core.cleanup()
        rmSync(work, { recursive: true, force: true })
      }
    })
  })
}
