#!/usr/bin/env node
// Builds the browser UI (web/) into web/dist: content-hashed bundles under assets/ (the MQTT client
// in a chunk of its own, loaded after the first paint) and manifest.json, which names the shell's
// <script> and <link> tags for the server (http/web-ui.ts). `tendril serve --dev` keeps it rebuilding.
import { mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const dist = join(root, 'web', 'dist')
const entry = join(root, 'web', 'main.tsx')

/** esbuild is a development dependency: an install without them (--omit=dev) serves a "not built" page. */
async function loadEsbuild() {
  try {
    return await import('esbuild')
  } catch {
    return undefined
  }
}

const options = (dev) => ({
  absWorkingDir: root,
  entryPoints: [entry],
  bundle: true,
  splitting: true,
  format: 'esm',
  target: ['es2020', 'chrome90', 'firefox90', 'safari15'],
  outdir: join(dist, 'assets'),
  entryNames: '[name]-[hash]',
  chunkNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  jsx: 'automatic',
  jsxImportSource: 'preact',
  minify: !dev,
  sourcemap: 'linked',
  metafile: true,
  legalComments: 'none',
  logLevel: 'warning',
  define: { 'process.env.NODE_ENV': dev ? '"development"' : '"production"', global: 'globalThis' },
})

/** manifest.json from esbuild's metafile: the entry's script and its CSS, as paths under the site root. */
function writeManifest(metafile) {
  const scripts = []
  const styles = []
  const main = relative(root, entry)
  for (const [file, output] of Object.entries(metafile.outputs)) {
    // (dynamic imports are entry points too in the metafile: only the page's own entry is in the shell)
    if (output.entryPoint !== main || !file.endsWith('.js')) continue
    scripts.push(relative(dist, join(root, file)))
    if (output.cssBundle) styles.push(relative(dist, join(root, output.cssBundle)))
  }
  const manifest = join(dist, 'manifest.json')
  writeFileSync(`${manifest}.tmp`, JSON.stringify({ scripts, styles }, null, 2))
  renameSync(`${manifest}.tmp`, manifest) // the server never reads half a manifest
}

export async function buildWeb() {
  const esbuild = await loadEsbuild()
  if (!esbuild) {
    console.warn('tendril: esbuild is not installed (npm install --omit=dev?); the web UI is not built')
    return false
  }
  // built over the last build, not after deleting it: a running server and its open pages keep their
  // files (the manifest is swapped whole), and bundles of earlier builds go once they are an hour old
  mkdirSync(dist, { recursive: true })
  const result = await esbuild.build(options(false))
  writeManifest(result.metafile)
  pruneAssets(result.metafile)
  return true
}

function pruneAssets(metafile, maxAgeMs = 3600_000) {
  const assets = join(dist, 'assets')
  const current = new Set(Object.keys(metafile.outputs).map((file) => join(root, file)))
  for (const name of readdirSync(assets)) {
    const file = join(assets, name)
    if (!current.has(file) && Date.now() - statSync(file).mtimeMs > maxAgeMs) rmSync(file, { force: true })
  }
}

/** Rebuilds on every change until stopped (serve --dev); resolves once the first build is written. */
export async function watchWeb(log = console) {
  const esbuild = await loadEsbuild()
  if (!esbuild)
    throw new Error('serve --dev rebuilds the web UI with esbuild, a development dependency: run npm install')
  mkdirSync(dist, { recursive: true })
  let first
  const ready = new Promise((resolve) => (first = resolve))
  const ctx = await esbuild.context({
    ...options(true),
    plugins: [
      {
        name: 'manifest',
        setup(build) {
          build.onEnd((result) => {
            if (result.metafile && result.errors.length === 0) {
              writeManifest(result.metafile)
              log.info?.('web UI rebuilt')
            }
            first()
          })
        },
      },
    ],
  })
  await ctx.watch()
  await ready
  return { stop: () => ctx.dispose() }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const t0 = performance.now()
  if (await buildWeb())
    console.log(`tendril: built the web UI into web/dist in ${Math.round(performance.now() - t0)} ms`)
}
