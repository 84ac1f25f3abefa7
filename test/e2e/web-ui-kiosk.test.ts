// Kiosk mode (?kiosk=1): a classroom screen on a public folder, without signing in. Big live values,
// no menus, a reconnect by itself when the broker drops it, a bounded chart; in Debian's Chromium
// against a real Tendril, with real MQTT.js controllers.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { AxeBuilder } from '@axe-core/playwright'
import mqtt from 'mqtt'
import type { Browser, Page } from 'playwright-core'
import { createController, createKeyForUser, createOrg, createOrgUser } from '../../core/admin.ts'
import { grant } from '../helpers/fixtures.ts'
import { connect, endAll } from '../helpers/mqtt.ts'
import { b64, resourceClient, type ResourceClient } from '../helpers/resources.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { launchBrowser, newContext, scrollsSideways, signIn } from './browser.ts'

const PASSWORD = 'long enough pw'
/** web/pages/kiosk/Kiosk.tsx MAX_POINTS */
const MAX_POINTS = 120
const tile = (page: Page, name: string) => page.locator(`li.kiosk-tile[data-name="${name}"]`)

async function seriousViolations(page: Page) {
  const results = await new AxeBuilder({ page }).analyze()
  return results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)
}

/** The points the tile's chart draws (one per value kept). */
const chartPoints = (page: Page, name: string) =>
  tile(page, name)
    .locator('svg.kiosk-chart polyline')
    .evaluate((line) => (line.getAttribute('points') ?? '').trim().split(/\s+/).filter(Boolean).length)

describe('web UI: kiosk mode on a public folder', () => {
  let server: TestServer
  let browser: Browser
  let teacher: ResourceClient
  let pi: { key: string }
  let office: { key: string }

  before(async () => {
    server = await startTestServer('sqlite')
    await createOrg(server.core, 'acme', 'Acme School')
    await createOrgUser(server.core, 'teacher@example.com', PASSWORD, 'acme', true)
    teacher = resourceClient(server.url, (await createKeyForUser(server.core, 'teacher@example.com', 'acme')).key)
    pi = await createController(server.core, '/acme/class/pi-1')
    office = await createController(server.core, '/acme/office/pi-2')
    // the classroom folder is public read (what the Access tab's public link sets); the office is not
    await grant(server.core, '/acme/class', [
      { to: 'public', level: 'read' },
      { to: 'members', level: 'write' },
      { to: 'controllers', level: 'write' },
    ])
    for (const [folder, name] of [
      ['acme/class', 'outside'],
      ['acme/office/pi-2', 'temp'],
    ] as const) {
      assert.equal(
        (await teacher.send('POST', '', { path: folder, name, type: 21, data_type: 1, decimal_places: 1, units: '°C' }))
          .status,
        200,
      )
    }
    assert.equal((await teacher.send('PUT', '/acme/class/outside', { data: b64('11.0') })).status, 200)
    assert.equal((await teacher.send('PUT', '/acme/class/outside', { data: b64('12.0') })).status, 200)
    browser = await launchBrowser()
  })
  after(async () => {
    endAll()
    await browser?.close()
    await server?.close()
  })

  test('without a session, the public link shows big live tiles and no menus, and a value published appears', async () => {
    const page = await (await newContext(browser)).newPage()
    await page.goto(`${server.url}/acme/class?kiosk=1`)
    await page.getByRole('heading', { name: 'class', level: 1 }).waitFor()
    await tile(page, 'outside').getByTestId('value').filter({ hasText: '12.0' }).waitFor()
    await tile(page, 'pi-1').getByText('Offline · never connected').waitFor()
    await page.getByRole('status').filter({ hasText: 'Live' }).waitFor({ timeout: 5000 })
    assert.equal(new URL(page.url()).pathname, '/acme/class', 'not sent to sign-in')
    assert.equal(await page.locator('header.top, nav').count(), 0, 'no header or menus')
    assert.equal(await page.getByRole('button').count(), 0, 'no actions')
    const size = await tile(page, 'outside')
      .getByTestId('value')
      .evaluate((el) => parseFloat(getComputedStyle(el).fontSize))
    assert.ok(size >= 48, `the value is ${size} px high at 1280 px wide`)
    assert.equal(await chartPoints(page, 'outside'), 2, 'the chart has the values stored so far')

    const controller = await connect(server.mqttUrl, pi.key)
    await tile(page, 'pi-1').getByText('Online', { exact: true }).waitFor({ timeout: 3000 })
    const started = Date.now()
    await controller.publishAsync('acme/class/outside', '21.5', { qos: 1 })
    await tile(page, 'outside').getByTestId('value').filter({ hasText: '21.5' }).waitFor({ timeout: 2000 })
    console.log(`# kiosk: a published value shown ${Date.now() - started} ms later, without a session`)
    assert.equal(await chartPoints(page, 'outside'), 3)
    assert.deepEqual(await seriousViolations(page), [])
    await page.screenshot({ path: '/tmp/kiosk-1280.png' })
    for (const width of [375, 320]) {
      await page.setViewportSize({ width, height: 740 })
      assert.equal(await scrollsSideways(page), false, `${width} px`)
    }
    await page.screenshot({ path: '/tmp/kiosk-375.png', fullPage: true })
    controller.end(true)
    await page.context().close()
  })

  test('the anonymous page reconnects by itself when the broker closes its connection', async (t) => {
    const page = await (await newContext(browser)).newPage()
    const answers: { token: string; clientId: string; anonymous?: boolean }[] = []
    page.on('response', async (res) => {
      if (res.url().endsWith('/api/v1/mqtt-info') && res.ok()) answers.push((await res.json()) as never)
    })
    await page.goto(`${server.url}/acme/class?kiosk=1`)
    await page.getByRole('status').filter({ hasText: 'Live' }).waitFor({ timeout: 5000 })
    assert.equal(answers.length, 1)
    assert.equal(answers[0]!.anonymous, true, 'an anonymous viewer token')
    // the broker closes the page's session: another connection takes over its client id
    const { token, clientId } = answers[0]!
    const takeover = mqtt.connect(server.wsUrl, { username: 'token', password: token, clientId, reconnectPeriod: 0 })
    t.after(() => takeover.end(true))
    await new Promise((resolve, reject) => takeover.once('connect', resolve).once('error', reject))
    await page.getByRole('status').filter({ hasText: 'Offline, retrying' }).waitFor({ timeout: 5000 })
    await page.getByRole('status').filter({ hasText: 'Live' }).waitFor({ timeout: 8000 })
    assert.equal(answers.length, 2, 'a fresh token for the reconnect')
    assert.notEqual(answers[1]!.clientId, clientId)
    takeover.end(true)
    const controller = await connect(server.mqttUrl, pi.key)
    await controller.publishAsync('acme/class/outside', '23.25', { qos: 1 })
    await tile(page, 'outside').getByTestId('value').filter({ hasText: '23.3' }).waitFor({ timeout: 2000 })
    controller.end(true)
    await page.context().close()
  })

  test('a value stored while the screen was offline is shown once it is back', async (t) => {
    const page = await (await newContext(browser)).newPage()
    const answers: { token: string; clientId: string }[] = []
    page.on('response', async (res) => {
      if (res.url().endsWith('/api/v1/mqtt-info') && res.ok()) answers.push((await res.json()) as never)
    })
    await page.goto(`${server.url}/acme/class?kiosk=1`)
    await page.getByRole('status').filter({ hasText: 'Live' }).waitFor({ timeout: 5000 })
    // the connection drops and the server stays out of reach for a while
    await page.route('**/api/v1/mqtt-info', (route) => route.abort())
    const takeover = mqtt.connect(server.wsUrl, {
      username: 'token',
      password: answers[0]!.token,
      clientId: answers[0]!.clientId,
      reconnectPeriod: 0,
    })
    t.after(() => takeover.end(true))
    await new Promise((resolve, reject) => takeover.once('connect', resolve).once('error', reject))
    await page.getByRole('status').filter({ hasText: 'Offline, retrying' }).waitFor({ timeout: 5000 })
    assert.equal((await teacher.send('PUT', '/acme/class/outside', { data: b64('30.0') })).status, 200)
    await page.waitForTimeout(300) // (not a wait for an event: the screen must not learn of it while away)
    assert.equal(await tile(page, 'outside').getByTestId('value').filter({ hasText: '30.0' }).count(), 0)
    await page.unroute('**/api/v1/mqtt-info')
    takeover.end(true)
    await page.getByRole('status').filter({ hasText: 'Live' }).waitFor({ timeout: 10_000 })
    await tile(page, 'outside').getByTestId('value').filter({ hasText: '30.0' }).waitFor({ timeout: 3000 })
    await page.context().close()
  })

  test('the chart keeps at most its bound of points however many values arrive', async () => {
    const page = await (await newContext(browser)).newPage()
    const cdp = await page.context().newCDPSession(page)
    await page.goto(`${server.url}/acme/class?kiosk=1`)
    await page.getByRole('status').filter({ hasText: 'Live' }).waitFor({ timeout: 5000 })
    const controller = await connect(server.mqttUrl, pi.key)
    const heap = async () => {
      await cdp.send('HeapProfiler.collectGarbage')
      const { usedSize } = await cdp.send('Runtime.getHeapUsage')
      return usedSize
    }
    const feed = async (from: number, count: number) => {
      for (let i = from; i < from + count; i++) {
        await controller.publishAsync('acme/class/outside', String(i % 50), { qos: 1 })
        if (i % 20 === 19) await new Promise((resolve) => setTimeout(resolve, 5)) // distinct timestamps
      }
      const last = from + count - 1
      await tile(page, 'outside')
        .getByTestId('value')
        .filter({ hasText: `${(last % 50).toFixed(1)}` })
        .waitFor({ timeout: 10_000 })
    }
    await feed(0, 300)
    assert.equal(await chartPoints(page, 'outside'), MAX_POINTS, 'full, and no more')
    const afterFirst = await heap()
    await feed(300, 600)
    assert.equal(await chartPoints(page, 'outside'), MAX_POINTS)
    const afterMore = await heap()
    console.log(
      `# kiosk: JS heap ${(afterFirst / 1e6).toFixed(2)} MB after 300 values, ${(afterMore / 1e6).toFixed(2)} MB after 900`,
    )
    assert.ok(afterMore - afterFirst < 2e6, `the heap grew ${afterMore - afterFirst} bytes over 600 more values`)
    controller.end(true)
    await page.context().close()
  })

  test('a folder that is not public sends an anonymous kiosk link to sign-in', async () => {
    const page = await (await newContext(browser)).newPage()
    await page.goto(`${server.url}/acme/office/pi-2?kiosk=1`)
    await page.waitForURL(/\/sign-in\?next=%2Facme%2Foffice%2Fpi-2%3Fkiosk%3D1$/, { timeout: 5000 })
    await page.goto(`${server.url}/acme/office`)
    await page.waitForURL(/\/sign-in\?next=%2Facme%2Foffice$/, { timeout: 5000 })
    await page.context().close()
  })

  test('without a session the public folder opens read-only, with Sign in instead of Sign out', async () => {
    const page = await (await newContext(browser)).newPage()
    await page.goto(`${server.url}/acme/class`)
    await page.getByRole('heading', { name: 'class', level: 1 }).waitFor()
    await page.locator('li.tile[data-name="outside"]').waitFor()
    await page.getByRole('link', { name: 'Sign in' }).waitFor()
    assert.equal(await page.getByRole('button', { name: 'Sign out' }).count(), 0)
    assert.equal(await page.getByRole('button', { name: 'New folder' }).count(), 0, 'no changes offered')
    assert.deepEqual(await seriousViolations(page), [])
    await page.getByRole('link', { name: 'Sign in' }).click()
    await page.waitForURL(/\/sign-in\?next=%2Facme%2Fclass$/)
    await page.context().close()
  })

  test('a screen whose old session lapsed still shows the public folder, anonymously', async () => {
    const page = await (await newContext(browser)).newPage()
    await signIn(page, server.url, 'teacher@example.com', PASSWORD)
    await server.core.db.session.deleteMany({}) // the cookie stays in the browser, the server forgot it
    await page.goto(`${server.url}/acme/class?kiosk=1`)
    await page.getByRole('status').filter({ hasText: 'Live' }).waitFor({ timeout: 5000 })
    await tile(page, 'outside').getByTestId('value').waitFor()
    assert.equal(new URL(page.url()).pathname, '/acme/class')
    await page.context().close()
  })

  test('a signed-in teacher opens the kiosk view of a controller that is not public', async () => {
    const page = await (await newContext(browser)).newPage()
    await signIn(page, server.url, 'teacher@example.com', PASSWORD)
    await page.goto(`${server.url}/acme/office/pi-2?kiosk=1`)
    await page.getByRole('heading', { name: 'pi-2', level: 1 }).waitFor()
    await page.locator('header.kiosk-head').getByText('Offline · never connected').waitFor()
    await page.getByRole('status').filter({ hasText: 'Live' }).waitFor({ timeout: 5000 })
    assert.equal(await page.getByRole('button', { name: 'Sign out' }).count(), 0, 'no menus')
    const controller = await connect(server.mqttUrl, office.key)
    await page.locator('header.kiosk-head').getByText('Online', { exact: true }).waitFor({ timeout: 3000 })
    await controller.publishAsync('acme/office/pi-2/temp', '19.75', { qos: 1 })
    await tile(page, 'temp').getByTestId('value').filter({ hasText: '19.8' }).waitFor({ timeout: 2000 })
    assert.deepEqual(await seriousViolations(page), [])
    await page.setViewportSize({ width: 375, height: 740 })
    assert.equal(await scrollsSideways(page), false)
    await page.screenshot({ path: '/tmp/kiosk-controller-375.png', fullPage: true })
    controller.end(true)
    await page.context().close()
  })
})
