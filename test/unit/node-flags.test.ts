// The server's node flags (cli/node-flags.ts) reach every way of starting it: `npm start`, the
// `tendril` command run as an executable, and the test and benchmark helpers that start servers.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { describe, test } from 'node:test'
import { SERVER_NODE_FLAGS, workerNodeFlags } from '../../cli/node-flags.ts'
import { tendrilBin } from '../helpers/cli.ts'

describe('server node flags', () => {
  test('npm start and the tendril command pass them', () => {
    const start = (
      JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { scripts: { start: string } }
    ).scripts.start
    assert.equal(start, `node ${SERVER_NODE_FLAGS.join(' ')} bin/tendril.js serve`)
    const shebang = readFileSync(tendrilBin, 'utf8').split('\n')[0]
    assert.equal(shebang, `#!/usr/bin/env -S node ${SERVER_NODE_FLAGS.join(' ')}`)
  })

  test('the tendril command runs as an executable with them', () => {
    // a node that refused the flags (or an env without -S) would fail here
    const probe = `--eval=process.stdout.write(JSON.stringify(process.execArgv))`
    const execArgv = JSON.parse(
      execFileSync('/usr/bin/env', ['-S', `node ${SERVER_NODE_FLAGS.join(' ')} ${probe}`], { encoding: 'utf8' }),
    ) as string[]
    for (const flag of SERVER_NODE_FLAGS)
      assert.ok(execArgv.includes(flag), `${flag} missing from ${execArgv.join(' ')}`)
    assert.match(execFileSync(tendrilBin, ['--version'], { encoding: 'utf8' }), /^\d+\.\d+\.\d+/)
  })

  test("workers on every core run without the scavenger's helper threads; fewer workers keep them", () => {
    assert.deepEqual(workerNodeFlags(2, 2), ['--no-parallel-scavenge'])
    assert.deepEqual(workerNodeFlags(4, 2), ['--no-parallel-scavenge'])
    assert.deepEqual(workerNodeFlags(2, 8), [])
  })

  test('node accepts the flags a primary gives its workers', () => {
    // a flag that a later node renamed would stop every worker at its start
    const flags = [...SERVER_NODE_FLAGS, ...workerNodeFlags(1, 1)]
    assert.equal(
      execFileSync(process.execPath, [...flags, '--eval=process.stdout.write("ok")'], { encoding: 'utf8' }),
      'ok',
    )
  })
})
