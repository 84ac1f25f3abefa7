// The controllers SDK's browser entry bundles for the browser platform: no Node built-in is pulled
// in (the disk queue and provisioning stay out), and MQTT.js resolves to its browser build.
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { test } from 'node:test'
import { build } from 'esbuild'

const entry = fileURLToPath(new URL('../../controllers-sdk/src/browser.ts', import.meta.url))

test('the browser entry bundles without Node built-ins, and without the disk queue or provisioning', async () => {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    write: false,
    metafile: true,
    logLevel: 'silent',
  })
  assert.deepEqual(result.errors, [])
  const inputs = Object.keys(result.metafile.inputs)
  assert.ok(inputs.some((i) => i.includes('controllers-sdk/src/client.ts')))
  assert.ok(
    inputs.some((i) => i.includes('node_modules/mqtt/')),
    'MQTT.js is bundled',
  )
  for (const i of inputs) {
    assert.doesNotMatch(i, /controllers-sdk\/src\/(queue\/disk|provision|index)\.ts$/)
    assert.doesNotMatch(i, /^node:/)
  }
  const code = result.outputFiles[0]!.text
  assert.doesNotMatch(code, /from ["']node:|require\(["'](fs|net|tls|child_process)["']\)/)
})

test('the package resolves to the browser entry under the browser condition (source here; dist: sdk-package.test.ts)', async () => {
  const stdin = {
    contents: "export { connect } from '@tendril/controllers-sdk'",
    resolveDir: fileURLToPath(new URL('.', import.meta.url)),
  }
  const result = await build({
    stdin,
    bundle: true,
    platform: 'browser',
    format: 'esm',
    write: false,
    metafile: true,
    logLevel: 'silent',
    conditions: ['tendril-source'],
  })
  const inputs = Object.keys(result.metafile.inputs)
  assert.ok(
    inputs.some((i) => i.endsWith('controllers-sdk/src/browser.ts')),
    inputs.join('\n'),
  )
  assert.ok(!inputs.some((i) => i.endsWith('controllers-sdk/src/queue/disk.ts')))
})
