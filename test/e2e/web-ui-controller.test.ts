// The web UI's controller page, live home counts, new controller / rename / move with refused names,
// and image thumbnails, in Debian's Chromium against a real Tendril. Waits for what a person sees.
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { after, before, describe, test } from 'node:test'
import { AxeBuilder } from '@axe-core/playwright'
import type { Browser, Page } from 'playwright-core'
import sharp from 'sharp'
import { fixture, PASSWORD } from '../helpers/fixtures.ts'
import { connect, endAll } from '../helpers/mqtt.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { launchBrowser, newContext, scrollsSideways, signIn } from './browser.ts'

const tile = (page: Page, name: string) => page.locator(`li.tile[data-name="${name}"]`)

async function seriousViolations(page: Page) {
  const results = await new AxeBuilder({ page }).analyze()
  return results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)
}

describe('web UI: controller page, live home, names, thumbnails', () => {
  let server: TestServer
  let browser: Browser
  let pi: { id: number; path: string; key: string }
  let userKey: string
  /** The REST API as the organization admin's key (what the test checks on the server). */
  const rest = (path: string, init: { method?: string; body?: unknown } = {}) =>
    fetch(`${server.url}/api/v1/resources${path}`, {
      method: init.method ?? 'GET',
      headers: {
        authorization: 'Basic ' + Buffer.from(`x:${userKey}`).toString('base64'),
        'content-type': 'application/json',
      },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    })
  const names = async (folder: string) =>
    ((await (await rest(folder)).json()) as { name: string; type: number }[]).map((e) => e.name)

  before(async () => {
    server = await startTestServer('sqlite')
    const f = await fixture(server.core, {
      org: 'acme',
      fullNames: { acme: 'Acme Greenhouses' },
      users: { ann: { admin: true } },
      controllers: ['/acme/greenhouse/pi-1', '/acme/greenhouse/pi-2'],
    })
    userKey = f.users.ann.key
    pi = f.controllers['/acme/greenhouse/pi-1']
    // what the Pi reported, and the last hours of one status sequence and of its log
    assert.equal(
      (
        await rest('/acme/greenhouse/pi-1', {
          method: 'PUT',
          body: { status: { ip_address: '10.0.0.7', os: 'Raspberry Pi OS' } },
        })
      ).status,
      200,
    )
    const now = Date.now()
    for (const [hoursAgo, value] of [
      [3, 10],
      [2, 30],
      [1, 20],
    ] as const) {
      const res = await rest('/acme/greenhouse/pi-1/status/processor_usage', {
        method: 'PUT',
        body: { value: String(value), timestamp: new Date(now - hoursAgo * 3600_000).toISOString() },
      })
      assert.equal(res.status, 200, await res.text())
    }
    assert.equal(
      (
        await rest('/acme/greenhouse/pi-1/log', {
          method: 'PUT',
          body: { value: 'booted', timestamp: new Date(now - 60_000).toISOString() },
        })
      ).status,
      200,
    )
    browser = await launchBrowser()
  })
  after(async () => {
    endAll()
    await browser?.close()
    await server?.close()
  })

  test('the controller page shows its status, status charts and log, and follows them live', async () => {
    const page = await (await newContext(browser)).newPage()
    await signIn(page, server.url, 'ann@example.com', PASSWORD, '/acme/greenhouse/pi-1')
    const status = page.getByRole('region', { name: 'Controller status' })
    await status.getByText('Offline · never connected').waitFor()
    await status.getByText('10.0.0.7').waitFor()
    await status.getByText('Raspberry Pi OS').waitFor()
    const chart = page.locator('figure[data-name="processor_usage"]')
    await chart
      .getByRole('img', { name: 'processor_usage: from 10.0 percent to 30.0 percent over the last 6 hours' })
      .waitFor()
    assert.equal(await chart.locator('canvas').count(), 1, 'drawn by uPlot')
    const log = page.getByRole('list', { name: 'Log, newest first' })
    await log.getByText('booted').waitFor()
    await page.getByRole('status').filter({ hasText: 'Live' }).waitFor()
    assert.deepEqual(await seriousViolations(page), [])

    const started = Date.now()
    const controller = await connect(server.mqttUrl, pi.key)
    // (the issue asks for ≤ 1 s; the bound leaves room for a machine shared with other test runs)
    await status.getByText('Online', { exact: true }).waitFor({ timeout: 3000 })
    console.log(`# controller page: online ${Date.now() - started} ms after the controller connected`)
    await controller.publishAsync('acme/greenhouse/pi-1/status/processor_usage', '42', { qos: 1 })
    await chart.getByTestId('value').filter({ hasText: '42.0 percent' }).waitFor({ timeout: 1000 })
    await chart.getByRole('img', { name: /from 10.0 percent to 42.0 percent/ }).waitFor({ timeout: 1000 })
    await controller.publishAsync('acme/greenhouse/pi-1/log', 'pump on, valve 2', { qos: 1 })
    await log.getByRole('listitem').first().getByText('pump on, valve 2').waitFor({ timeout: 1000 })
    assert.equal(await status.getByText('never').count(), 1, 'no watchdog yet')
    await controller.publishAsync('acme/greenhouse/pi-1', JSON.stringify({ watchdog: {} }), { qos: 1 })
    // last connect and last watchdog
    await status.locator('dd').filter({ hasText: 'just now' }).nth(1).waitFor({ timeout: 1000 })
    controller.end(true)
    await status.getByText(/Offline · last seen/).waitFor({ timeout: 1500 })

    for (const width of [1280, 375, 320]) {
      await page.setViewportSize({ width, height: 800 })
      assert.equal(await scrollsSideways(page), false, `${width} px`)
    }
    if (process.env.TENDRIL_SCREENSHOTS) await screenshots(page, process.env.TENDRIL_SCREENSHOTS)
    await page.context().close()
  })

  test('home counts a controller online as it connects, without a reload', async () => {
    const page = await (await newContext(browser)).newPage()
    await signIn(page, server.url, 'ann@example.com', PASSWORD)
    const card = page.getByRole('listitem').filter({ has: page.getByRole('heading', { name: 'Acme Greenhouses' }) })
    await card.getByText('0 online').waitFor()
    await page.getByRole('status').filter({ hasText: 'Live' }).waitFor()
    const controller = await connect(server.mqttUrl, pi.key)
    const started = Date.now()
    await card.getByText('1 online').waitFor({ timeout: 3000 })
    console.log(`# home: counted online ${Date.now() - started} ms after the controller connected`)
    controller.end(true)
    await card.getByText('0 online').waitFor({ timeout: 3000 })
    await page.context().close()
  })

  test('new controller, rename and move; a refused name shows the API message and makes nothing', async () => {
    const page = await (await newContext(browser)).newPage()
    await signIn(page, server.url, 'ann@example.com', PASSWORD, '/acme/greenhouse')
    const before = await names('/acme/greenhouse')
    await page.getByRole('button', { name: 'New controller' }).click()
    const dialog = page.getByRole('dialog', { name: 'New controller' })
    for (const [name, message] of [
      ['..', 'a name must not be "." or ".."'],
      ['a/b', 'a name must not contain "/"'],
      ['c:\\d', 'a name must not contain "\\" or ":"'],
      ['x'.repeat(101), 'a name must be at most 100 characters'],
    ]) {
      await dialog.getByLabel('Name').fill(name!)
      await dialog.getByRole('button', { name: 'Create controller' }).click()
      await dialog.getByRole('alert').filter({ hasText: message! }).waitFor()
    }
    assert.deepEqual(await names('/acme/greenhouse'), before, 'nothing half-made')
    assert.equal((await rest('/acme/greenhouse/a')).status, 404)

    const name = 'Pi de la salle 3 ✓'
    await dialog.getByLabel('Name').fill(name)
    await dialog.getByRole('button', { name: 'Create controller' }).click()
    await page
      .getByRole('dialog', { name: `New key for ${name}` })
      .getByRole('button', { name: 'Done, I have copied it' })
      .click() // its key, shown once
    await tile(page, name).getByText('Offline · never connected').waitFor()
    assert.deepEqual((await names(`/acme/greenhouse/${encodeURIComponent(name)}`)).sort(), ['log', 'status'])

    await tile(page, name).getByRole('checkbox').check()
    await page.getByRole('button', { name: 'Rename…' }).click()
    const rename = page.getByRole('dialog', { name: `Rename “${name}”` })
    assert.equal(await rename.getByLabel('New name').inputValue(), name)
    await rename.getByLabel('New name').fill('bad/name')
    await rename.getByRole('button', { name: 'Rename' }).click()
    await rename.getByRole('alert').filter({ hasText: 'must not contain "/"' }).waitFor()
    await rename.getByLabel('New name').fill('Pi 3 — serre')
    await rename.getByRole('button', { name: 'Rename' }).click()
    await tile(page, 'Pi 3 — serre').waitFor()
    assert.equal(await tile(page, name).count(), 0)

    await tile(page, 'Pi 3 — serre').getByRole('checkbox').check()
    await page.getByRole('button', { name: 'Move…' }).click()
    const move = page.getByRole('dialog', { name: 'Move “Pi 3 — serre”' })
    await move.getByLabel('To the folder (its path)').fill('/acme/nowhere')
    await move.getByRole('button', { name: 'Move' }).click()
    await move.getByRole('alert').filter({ hasText: 'no folder at /acme/nowhere' }).waitFor()
    await move.getByLabel('To the folder (its path)').fill('/acme')
    await move.getByRole('button', { name: 'Move' }).click()
    await tile(page, 'Pi 3 — serre').waitFor({ state: 'detached' })
    assert.ok((await names('/acme')).includes('Pi 3 — serre'), 'moved on the server')
    assert.ok(!(await names('/acme/greenhouse')).includes('Pi 3 — serre'))
    await page.context().close()
  })

  test('an image file shows its thumbnail, loaded lazily', async () => {
    const png = await sharp({ create: { width: 400, height: 300, channels: 3, background: { r: 30, g: 140, b: 60 } } })
      .png()
      .toBuffer()
    const res = await rest('', {
      method: 'POST',
      body: { path: '/acme/greenhouse', name: 'leaf.png', type: 20, data: png.toString('base64') },
    })
    assert.equal(res.status, 200, await res.text())
    const page = await (await newContext(browser)).newPage()
    await signIn(page, server.url, 'ann@example.com', PASSWORD, '/acme/greenhouse')
    const image = tile(page, 'leaf.png').locator('img.thumb')
    await image.waitFor()
    assert.equal(await image.getAttribute('loading'), 'lazy')
    await page.waitForFunction(() => {
      const img = document.querySelector<HTMLImageElement>('li.tile[data-name="leaf.png"] img.thumb')
      return !!img && img.complete && img.naturalWidth === 120
    })
    await page.context().close()
  })
})

async function screenshots(page: Page, dir: string) {
  mkdirSync(dir, { recursive: true })
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme })
    for (const width of [1280, 375]) {
      await page.setViewportSize({ width, height: width < 600 ? 740 : 900 })
      await page.screenshot({ path: `${dir}/controller-${width}-${scheme}.png`, fullPage: true })
      await page
        .locator('figure[data-name="processor_usage"]')
        .screenshot({ path: `${dir}/chart-${width}-${scheme}.png` })
    }
  }
}
