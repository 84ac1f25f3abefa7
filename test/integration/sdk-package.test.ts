// The controllers SDK as a user gets it: `npm pack`, the tarball installed into a fresh project,
// imported by plain `node` (no tsx, no TypeScript loader), type-checked against its .d.ts, and
// bundled for the browser with esbuild.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { build } from 'esbuild'
import { createController, createOrg } from '../../core/admin.ts'
import { sequenceHistory } from '../../core/resources/sequence-history.ts'
import { createSequence, findPath } from '../../core/resources/tree.ts'
import { SequenceDataType } from '../../core/resources/types.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

const run = promisify(execFile)
const sdkDir = fileURLToPath(new URL('../../controllers-sdk/', import.meta.url))
const tsc = fileURLToPath(new URL('../../node_modules/typescript/bin/tsc', import.meta.url))
const typeRoots = fileURLToPath(new URL('../../node_modules/@types', import.meta.url))
// what a user's shell has: no tendril-source condition (run-tests.mjs sets it for the repository's own tests)
const userEnv = { ...process.env, NODE_OPTIONS: '' }

describe('the packed controllers SDK in a fresh project', () => {
  let work: string
  let project: string
  let packed: string[]

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'tendril-sdk-package-'))
    project = join(work, 'app')
    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', work], {
      cwd: sdkDir,
      env: userEnv,
      maxBuffer: 16 << 20,
    })
    const [info] = JSON.parse(stdout.slice(stdout.indexOf('['))) as { filename: string; files: { path: string }[] }[]
    packed = info!.files.map((f) => f.path)
    await run('mkdir', ['-p', project])
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }))
    // MQTT.js comes from npm's cache when this machine installed the repository (else from the registry)
    await run(
      'npm',
      ['install', '--prefer-offline', '--no-audit', '--no-fund', '--no-package-lock', join(work, info!.filename)],
      { cwd: project, env: userEnv },
    )
  })
  after(() => rmSync(work, { recursive: true, force: true }))

  test('the tarball holds compiled ESM with type declarations, not the TypeScript source', () => {
    for (const file of [
      'dist/index.js',
      'dist/index.d.ts',
      'dist/browser.js',
      'dist/browser.d.ts',
      'dist/queue/disk.js',
      'package.json',
      'README.md',
    ]) {
      assert.ok(packed.includes(file), `${file} in ${packed.join(', ')}`)
    }
    assert.ok(!packed.some((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')), 'no .ts source')
  })

  test('plain node imports it and stores a value on a real server', async () => {
    const server: TestServer = await startTestServer('sqlite')
    try {
      await createOrg(server.core, 'acme')
      const { key } = await createController(server.core, 'acme/pi')
      const pi = (await findPath(server.core.db, '/acme/pi'))!.at(-1)!
      const sequence = await createSequence(server.core.db, pi, 'temperature', { dataType: SequenceDataType.numeric })
      const program = `
        import { connect, DiskQueue } from '@tendril/controllers-sdk'
        if (typeof DiskQueue.open !== 'function') throw new Error('no DiskQueue')
        const client = await connect({ server: process.argv[1], mqttUrl: process.argv[2], key: process.argv[3], queueDir: process.argv[4] })
        await client.sequences.update('temperature', 21.5, { timestamp: '2026-12-01T00:00:00Z' })
        await client.flush(10000)
        await client.close()
        console.log('stored')`
      const { stdout } = await run(
        process.execPath,
        ['--input-type=module', '-e', program, server.url, server.mqttUrl, key, join(work, 'queue')],
        { cwd: project, env: userEnv },
      )
      assert.equal(stdout.trim(), 'stored')
      const h = await sequenceHistory(server.core.db, sequence.id)
      assert.deepEqual(h.values, ['21.5'])
      assert.equal(h.timestamps[0]!.toISOString(), '2026-12-01T00:00:00.000Z')
    } finally {
      await server.close()
    }
  })

  test('its type declarations check a TypeScript user program (and catch a type error in it)', async () => {
    const file = join(project, 'main.ts')
    writeFileSync(
      file,
      `import { connect, type TendrilClient } from '@tendril/controllers-sdk'
const client: TendrilClient = await connect({ server: 'http://localhost:8080', key: 'k' })
await client.sequences.update('temperature', 21.5)
export const size: number = client.queue.size
export const wrong: string = client.queue.size
`,
    )
    const args = [
      tsc,
      '--noEmit',
      '--strict',
      '--skipLibCheck',
      '--module',
      'nodenext',
      '--moduleResolution',
      'nodenext',
      '--target',
      'es2022',
      '--types',
      'node',
      '--typeRoots',
      typeRoots,
      file,
    ]
    const result = await run(process.execPath, args, { cwd: project, env: userEnv }).then(
      () => '',
      (err: { stdout: string }) => err.stdout,
    )
    const errors = result.trim().split('\n')
    assert.equal(errors.length, 1, result)
    assert.match(errors[0]!, /main\.ts\(5,14\): error TS2322: Type 'number' is not assignable to type 'string'/)
  })

  test('esbuild bundles it for the browser from the browser entry, without Node built-ins or the disk queue', async () => {
    const stdin = { contents: "export { connect } from '@tendril/controllers-sdk'", resolveDir: project }
    const result = await build({
      stdin,
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      metafile: true,
      logLevel: 'silent',
    })
    assert.deepEqual(result.errors, [])
    const inputs = Object.keys(result.metafile.inputs)
    assert.ok(
      inputs.some((i) => i.endsWith('@tendril/controllers-sdk/dist/browser.js')),
      inputs.join('\n'),
    )
    assert.ok(
      !inputs.some((i) => /controllers-sdk\/dist\/(queue\/disk|provision|index)\.js$/.test(i) || i.startsWith('node:')),
    )
    assert.doesNotMatch(result.outputFiles[0]!.text, /from ["']node:/)
    assert.match(readFileSync(join(project, 'node_modules/@tendril/controllers-sdk/package.json'), 'utf8'), /"browser"/)
  })
})
