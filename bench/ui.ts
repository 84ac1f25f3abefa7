// The web UI in headless Chromium against a local Tendril (SQLite): JavaScript sizes (gzipped),
// how long a folder of 500 items takes to render after navigation, and whether 200 live values/s
// into one open folder page keep its JS heap flat and the page responsive. Medians printed; not a test.
// Usage: node --import tsx bench/ui.ts [--seconds 300] [--runs 5] [--no-sequence] (see bench/ui-sequence.ts)
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { createController, createOrg, createOrgUser } from '../core/admin.ts'
import { inTransaction } from '../core/db/index.ts'
import { createSequence, ensureFolders } from '../core/resources/tree.ts'
import { SequenceDataType } from '../core/resources/types.ts'
import { WEB_DIST } from '../http/web-ui.ts'
import { launchBrowser, newContext, signIn } from '../test/e2e/browser.ts'
import { connect } from '../test/helpers/mqtt.ts'
import { startTestServer } from '../test/helpers/server.ts'

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : fallback
}
const SECONDS = arg('seconds', 60)
const RUNS = arg('runs', 5)
const ITEMS = 500
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`

// 1. sizes: what the shell loads (its entry and the chunks it imports statically), and the MQTT chunk
const manifest = JSON.parse(readFileSync(join(WEB_DIST, 'manifest.json'), 'utf8')) as {
  scripts: string[]
  styles: string[]
}
const gz = (file: string) => gzipSync(readFileSync(join(WEB_DIST, file))).length
const entry = manifest.scripts[0]!
const staticImports = [...readFileSync(join(WEB_DIST, entry), 'utf8').matchAll(/from"\.\/([\w.-]+\.js)"/g)].map(
  (m) => `assets/${m[1]}`,
)
const shellJs = [entry, ...new Set(staticImports)].reduce((sum, f) => sum + gz(f), 0)
const mqttChunk = readFileSync(join(WEB_DIST, entry), 'utf8').match(/import\("\.\/(mqtt[\w.-]+\.js)"\)/)?.[1]
console.log(
  `JS for the shell and the folder page: ${kb(shellJs)} gzipped (${[entry, ...new Set(staticImports)].length} files); CSS ${kb(gz(manifest.styles[0]!))}; MQTT chunk ${mqttChunk ? kb(gz(`assets/${mqttChunk}`)) : '?'}`,
)

const server = await startTestServer('sqlite')
try {
  await createOrg(server.core, 'acme')
  await createOrgUser(server.core, 'ann@example.com', 'long enough pw', 'acme', false)
  const pi = await createController(server.core, '/acme/pi-1')
  await inTransaction(server.core.db, async (tx) => {
    const big = await ensureFolders(tx, ['acme', 'big'])
    for (let i = 0; i < ITEMS; i++)
      await createSequence(tx, big, `sensor-${String(i).padStart(3, '0')}`, {
        dataType: SequenceDataType.numeric,
        units: '°C',
        decimalPlaces: 1,
      })
  })
  const browser = await launchBrowser()
  const page = await (await newContext(browser)).newPage()
  await signIn(page, server.url, 'ann@example.com', 'long enough pw', '/acme')

  // 2. a folder of 500 sequences, from the click on its link to the last tile drawn
  const times: number[] = []
  for (let run = 0; run < RUNS; run++) {
    await page.goto(`${server.url}/acme`)
    await page.getByRole('link', { name: 'big' }).waitFor()
    const ms = await page.evaluate(async (items) => {
      const started = performance.now()
      ;(document.querySelector('a[href="/acme/big"]') as HTMLAnchorElement).click()
      while (document.querySelectorAll('li.tile').length < items) await new Promise((r) => requestAnimationFrame(r))
      return performance.now() - started
    }, ITEMS)
    times.push(ms)
  }
  console.log(
    `folder of ${ITEMS} items rendered after navigation: median ${median(times).toFixed(0)} ms (${times.map((t) => t.toFixed(0)).join(', ')})`,
  )

  // 3. 200 values/s into the open page for SECONDS: JS heap and frame delay
  await page.getByRole('status').filter({ hasText: 'Live' }).waitFor()
  const cdp = await page.context().newCDPSession(page)
  const heap = async () => {
    await cdp.send('HeapProfiler.collectGarbage')
    const { metrics } = await cdp.send('Performance.getMetrics')
    return metrics.find((m) => m.name === 'JSHeapUsedSize')!.value / 1024 / 1024
  }
  await cdp.send('Performance.enable')
  const before = await heap()
  const controller = await connect(server.mqttUrl, pi.key)
  let sent = 0
  const timer = setInterval(() => {
    // 2 messages of 10 values every 100 ms: 200 values/s, announced to the page as "d," lines
    for (let i = 0; i < 2; i++) {
      const lines = Array.from(
        { length: 10 },
        (_, j) =>
          `s,/acme/big/sensor-${String((sent + j) % ITEMS).padStart(3, '0')},,${(Math.random() * 40).toFixed(2)}`,
      )
      controller.publish('acme/pi-1', lines.join('\n'))
      sent += 10
    }
  }, 100)
  const delays: number[] = []
  for (const end = Date.now() + SECONDS * 1000; Date.now() < end;) {
    delays.push(
      await page.evaluate(
        () =>
          new Promise<number>((resolve) => {
            const t = performance.now()
            requestAnimationFrame(() => resolve(performance.now() - t))
          }),
      ),
    )
    await new Promise((r) => setTimeout(r, 500))
  }
  clearInterval(timer)
  controller.end(true)
  const after = await heap()
  console.log(
    `${sent} values in ${SECONDS} s (${(sent / SECONDS).toFixed(0)}/s): JS heap ${before.toFixed(1)} -> ${after.toFixed(1)} MB (${(after - before).toFixed(1)} MB); frame delay median ${median(delays).toFixed(0)} ms, max ${Math.max(...delays).toFixed(0)} ms`,
  )
  await browser.close()
} finally {
  await server.close()
}

// 4. the sequence explorer (issue 18): a year of 1,000,000 values on SQLite and PostgreSQL
if (!process.argv.includes('--no-sequence')) await (await import('./ui-sequence.ts')).benchSequencePage()
