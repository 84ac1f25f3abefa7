// The sequence explorer (issue 18) in headless Chromium against a local Tendril, on SQLite and
// PostgreSQL: a year of 1,000,000 values with one spike; navigation → first chart painted (range
// "all", and 24 h), a drag zoom → new data drawn, the raw-points path for contrast (the history
// maximum of 100,000 values fetched and parsed, and the CSV of all 1,000,000), and the JS heap under
// live values at 20/s. Medians printed; not a test. Run by bench/ui.ts, or alone:
// node --import tsx bench/ui-sequence.ts [--runs 7] [--live-seconds 60] [--providers sqlite,postgresql]
import type { Page } from 'playwright-core'
import { createController, createOrg, createOrgUser } from '../core/admin.ts'
import { createSequence, findPath } from '../core/resources/tree.ts'
import { SequenceDataType } from '../core/resources/types.ts'
import { launchBrowser, newContext, signIn } from '../test/e2e/browser.ts'
import { seedValues } from '../test/e2e/seed-values.ts'
import { connect } from '../test/helpers/mqtt.ts'
import { startTestServer } from '../test/helpers/server.ts'
import { startBenchPostgres } from './lib/postgres.ts'

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? process.argv[i + 1]! : fallback
}
const RUNS = Number(arg('runs', '7'))
const LIVE_SECONDS = Number(arg('live-seconds', '60'))
const PROVIDERS = arg('providers', 'sqlite,postgresql').split(',') as ('sqlite' | 'postgresql')[]
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const list = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(', ')
const DAY = 86400_000

/** from a click on a link to the sequence page until its chart has drawn its data (in the page's clock) */
async function navigationToChart(page: Page, href: string): Promise<number> {
  return page.evaluate(async (href) => {
    const a = document.createElement('a')
    a.href = href
    document.body.append(a)
    const started = Date.now()
    a.click()
    for (;;) {
      const drawn = Number(document.querySelector<HTMLElement>('[data-testid=chart]')?.dataset.drawn ?? 0)
      if (drawn >= started && document.querySelector('[data-testid=chart] canvas')) return drawn - started
      await new Promise((r) => requestAnimationFrame(r))
    }
  }, href)
}

/** a mouse drag across the middle fifth of the plot, from mouse-up until the new range is drawn */
async function zoomToDrawn(page: Page): Promise<number> {
  const box = (await page.locator('.chart .u-over').boundingBox())!
  await page.evaluate(() => {
    const over = document.querySelector('.chart .u-over')!
    over.addEventListener('mouseup', () => ((window as unknown as { zoomAt: number }).zoomAt = Date.now()), {
      once: true,
      capture: true,
    })
  })
  const y = box.y + box.height / 2
  await page.mouse.move(box.x + box.width * 0.4, y)
  await page.mouse.down()
  await page.mouse.move(box.x + box.width * 0.5, y)
  await page.mouse.move(box.x + box.width * 0.6, y)
  await page.mouse.up()
  return page.evaluate(async () => {
    const at = (window as unknown as { zoomAt: number }).zoomAt
    for (;;) {
      const drawn = Number(document.querySelector<HTMLElement>('[data-testid=chart]')?.dataset.drawn ?? 0)
      if (drawn > at && new URLSearchParams(location.search).has('zoom')) return drawn - at
      await new Promise((r) => requestAnimationFrame(r))
    }
  })
}

async function rawPath(page: Page, path: string, start: number, end: number) {
  return page.evaluate(
    async ({ path, start, end }) => {
      let t = performance.now()
      await (
        await fetch(
          `/api/v1/resources${path}?buckets=900&start_timestamp=${new Date(start).toISOString()}&end_timestamp=${new Date(end).toISOString()}`,
        )
      ).json()
      const buckets = performance.now() - t
      t = performance.now()
      const res = await fetch(
        `/api/v1/resources${path}?count=100000&start_timestamp=${new Date(start).toISOString()}&end_timestamp=${new Date(end).toISOString()}`,
      )
      const body = (await res.json()) as { values: string[]; timestamps: string[]; truncated?: boolean }
      const xs = body.timestamps.map((s) => Date.parse(s) / 1000)
      const ys = body.values.map(Number)
      const history = performance.now() - t
      t = performance.now()
      const csv = await (await fetch(`/api/v1/resources${path}?download=1`)).text()
      return {
        buckets,
        history,
        points: xs.length + ys.length * 0,
        truncated: !!body.truncated,
        csv: performance.now() - t,
        csvMB: csv.length / 1048576,
      }
    },
    { path, start, end },
  )
}

async function heapUnderLive(page: Page, key: string): Promise<string> {
  const cdp = await page.context().newCDPSession(page)
  await cdp.send('Performance.enable')
  const heap = async () => {
    await cdp.send('HeapProfiler.collectGarbage')
    const { metrics } = await cdp.send('Performance.getMetrics')
    return metrics.find((m) => m.name === 'JSHeapUsedSize')!.value / 1048576
  }
  const before = await heap()
  const controller = await connect(process.env.BENCH_MQTT_URL!, key)
  let sent = 0
  const timer = setInterval(() => {
    controller.publish('acme/lab/pi/live', (20 + Math.random() * 5).toFixed(2))
    sent++
  }, 50)
  await new Promise((r) => setTimeout(r, LIVE_SECONDS * 1000))
  clearInterval(timer)
  controller.end(true)
  const after = await heap()
  return `${sent} live values in ${LIVE_SECONDS} s (20/s) into a 1 h chart: JS heap ${before.toFixed(1)} -> ${after.toFixed(1)} MB (${(after - before).toFixed(1)} MB)`
}

export async function benchSequencePage(): Promise<void> {
  for (const provider of PROVIDERS) {
    const pg = provider === 'postgresql' ? await startBenchPostgres() : undefined
    const server = await startTestServer(provider)
    process.env.BENCH_MQTT_URL = server.mqttUrl
    try {
      await createOrg(server.core, 'acme')
      await createOrgUser(server.core, 'ann@example.com', 'long enough pw', 'acme', false)
      const pi = await createController(server.core, '/acme/lab/pi')
      const folder = (await findPath(server.core.db, '/acme/lab/pi'))!.at(-1)!
      const year = await createSequence(server.core.db, folder, 'year', {
        dataType: SequenceDataType.numeric,
        units: '°C',
        decimalPlaces: 2,
      })
      await createSequence(server.core.db, folder, 'live', { dataType: SequenceDataType.numeric, decimalPlaces: 2 })
      const now = Date.now()
      const t = performance.now()
      const seeded = await seedValues(server.core, year.id, {
        count: 1_000_000,
        start: now - 365 * DAY,
        end: now - 60_000,
        spikeIndex: 654_321,
      })
      console.log(`\n${provider}: 1,000,000 values seeded in ${(performance.now() - t).toFixed(0)} ms`)
      const browser = await launchBrowser()
      const page = await (await newContext(browser)).newPage()
      await signIn(page, server.url, 'ann@example.com', 'long enough pw', '/acme/lab/pi')
      for (const range of ['all', '24h'] as const) {
        const times: number[] = []
        for (let run = 0; run < RUNS; run++) {
          await page.goto(`${server.url}/acme/lab/pi`)
          await page.getByRole('link', { name: 'year' }).first().waitFor()
          times.push(await navigationToChart(page, `/acme/lab/pi/year?range=${range}`))
        }
        console.log(
          `${provider}: navigation -> first chart painted, range ${range}: median ${median(times).toFixed(0)} ms (${list(times)})`,
        )
      }
      const zooms: number[] = []
      for (let run = 0; run < RUNS; run++) {
        await page.goto(`${server.url}/acme/lab/pi/year?range=all`)
        await page.locator('[data-testid=chart] canvas').waitFor()
        await page.waitForFunction(
          () => Number(document.querySelector<HTMLElement>('[data-testid=chart]')?.dataset.drawn) > 0,
        )
        zooms.push(await zoomToDrawn(page))
      }
      console.log(
        `${provider}: drag zoom (a fifth of a year) -> new data drawn: median ${median(zooms).toFixed(0)} ms (${list(zooms)})`,
      )
      const raws: Awaited<ReturnType<typeof rawPath>>[] = []
      for (let run = 0; run < 3; run++) raws.push(await rawPath(page, '/acme/lab/pi/year', seeded.start, now))
      const r = raws[1]!
      console.log(
        `${provider}: the server's answer of 900 buckets over the whole year alone: median ${median(raws.map((x) => x.buckets)).toFixed(0)} ms`,
      )
      console.log(
        `${provider}: raw-points path for contrast: history of the whole year (capped at 100,000 values${r.truncated ? ', truncated by the byte budget' : ''}: ${r.points} points) fetched and parsed in median ${median(raws.map((x) => x.history)).toFixed(0)} ms, before any drawing; CSV of all 1,000,000 (${r.csvMB.toFixed(1)} MB) in ${median(raws.map((x) => x.csv)).toFixed(0)} ms`,
      )
      if (LIVE_SECONDS > 0) {
        await page.goto(`${server.url}/acme/lab/pi/live?range=1h`)
        await page
          .locator('.live')
          .filter({ hasText: /^Live$/ })
          .waitFor()
        console.log(`${provider}: ${await heapUnderLive(page, pi.key)}`)
      }
      await browser.close()
    } finally {
      await server.close()
      await pg?.stop()
    }
  }
}

if (process.argv[1]?.endsWith('ui-sequence.ts')) await benchSequencePage()
