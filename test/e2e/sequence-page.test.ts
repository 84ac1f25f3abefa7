// The sequence explorer in Chromium against a real Tendril (issue 18): a year of 1,000,000 values
// with one spike that stays visible at every zoom, the CSV of a zoomed range, live follow that
// pauses in the past, a text log tailing live, an image filmstrip, settings, and bad input.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { AxeBuilder } from '@axe-core/playwright'
import sharp from 'sharp'
import type { Browser, Page } from 'playwright-core'
import { createController, createOrg, createOrgUser } from '../../core/admin.ts'
import { storeSequenceValues } from '../../core/resources/sequence-store/store.ts'
import { createSequence, findPath } from '../../core/resources/tree.ts'
import { SequenceDataType } from '../../core/resources/types.ts'
import { connect, endAll } from '../helpers/mqtt.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { launchBrowser, newContext, scrollsSideways, signIn } from './browser.ts'
import { seedValues, type SeededValues } from './seed-values.ts'

const PASSWORD = 'long enough pw'
const DAY = 86400_000

async function seriousViolations(page: Page) {
  const results = await new AxeBuilder({ page }).analyze()
  return results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)
}

/** the chart's range and the drawing time it last finished */
const chartState = (page: Page) =>
  page.getByTestId('chart').evaluate((el: HTMLElement) => ({
    start: Number(el.dataset.start),
    end: Number(el.dataset.end),
    drawn: Number(el.dataset.drawn ?? 0),
    mode: el.dataset.mode,
  }))

/** drags across the plot from one instant to another, as a person with a mouse does */
async function dragZoom(page: Page, from: number, to: number) {
  const { start, end } = await chartState(page)
  const box = (await page.locator('.chart .u-over').boundingBox())!
  const x = (t: number) => box.x + (box.width * (t - start)) / (end - start)
  const y = box.y + box.height / 2
  await page.mouse.move(x(from), y)
  await page.mouse.down()
  await page.mouse.move((x(from) + x(to)) / 2, y)
  await page.mouse.move(x(to), y)
  await page.mouse.up()
}

describe('sequence explorer in Chromium', () => {
  let server: TestServer
  let browser: Browser
  let pi: { key: string }
  let year: SeededValues
  let bigId: number
  const now = Date.now()

  before(async () => {
    server = await startTestServer('sqlite')
    await createOrg(server.core, 'acme')
    await createOrgUser(server.core, 'ann@example.com', PASSWORD, 'acme', true)
    pi = await createController(server.core, '/acme/lab/pi')
    const folder = (await findPath(server.core.db, '/acme/lab/pi'))!.at(-1)!
    const big = await createSequence(server.core.db, folder, 'year', {
      dataType: SequenceDataType.numeric,
      units: '°C',
      decimalPlaces: 2,
    })
    bigId = big.id
    const t0 = Date.now()
    year = await seedValues(server.core, big.id, {
      count: 1_000_000,
      start: now - 365 * DAY,
      end: now - 60_000,
      spikeIndex: 654_321,
    })
    console.log(`# 1,000,000 values stored in ${Date.now() - t0} ms`)
    await createSequence(server.core.db, folder, 'temp', {
      dataType: SequenceDataType.numeric,
      units: '°C',
      decimalPlaces: 1,
    })
    await createSequence(server.core.db, folder, 'empty', { dataType: SequenceDataType.numeric })
    const mixed = await createSequence(server.core.db, folder, 'mixed', { dataType: SequenceDataType.numeric })
    await storeSequenceValues(
      server.core,
      server.core.blobs,
      [1, 2, 3].map((i) => ({ sequenceId: mixed.id, value: String(i), timestamp: new Date(now - i * 60_000) })),
    )
    // text stored before the sequence was numeric: history holds it, the chart cannot draw it
    await server.core.db.$executeRawUnsafe(
      `INSERT INTO "ResourceRevision" ("resourceId", "timestamp", "data", "size") VALUES (${mixed.id}, '${new Date(now - 30_000).toISOString().slice(0, -1)}+00:00', CAST('sensor error' AS BLOB), 12)`,
    )
    const cam = await createSequence(server.core.db, folder, 'cam', { dataType: SequenceDataType.image })
    for (const [i, color] of (['red', 'green', 'blue'] as const).entries()) {
      const rgb = { red: { r: 200, g: 0, b: 0 }, green: { r: 0, g: 200, b: 0 }, blue: { r: 0, g: 0, b: 200 } }[color]
      const jpeg = await sharp({ create: { width: 64, height: 48, channels: 3, background: rgb } })
        .jpeg()
        .toBuffer()
      await storeSequenceValues(server.core, server.core.blobs, [
        { sequenceId: cam.id, value: jpeg, timestamp: new Date(now - (3 - i) * 60_000) },
      ])
    }
    browser = await launchBrowser()
  })
  after(async () => {
    endAll()
    await browser?.close()
    await server?.close()
  })

  const open = async (path: string, width = 1280) => {
    const page = await (await newContext(browser, width)).newPage()
    await signIn(page, server.url, 'ann@example.com', PASSWORD, path)
    return page
  }

  test('a one-sample spike in a year of 1,000,000 values shows at the full range and after three zooms; the CSV of the zoom has exactly its rows', async () => {
    const page = await open('/acme/lab/pi/year?range=all')
    const spikeAt = year.at(year.spikeIndex)
    await page.getByTestId('stat-max').filter({ hasText: '999.50 °C' }).waitFor()
    assert.equal(await page.getByTestId('stat-count').textContent(), (1_000_000).toLocaleString('en-GB'))
    assert.equal((await chartState(page)).mode, 'buckets')
    assert.match(
      (await page.getByTestId('chart-summary').textContent())!,
      /1,000,000 values, from 15\.00 to 999\.50 °C/,
    )
    let span = (await chartState(page)).end - (await chartState(page)).start
    for (let zoom = 1; zoom <= 3; zoom++) {
      const before = await chartState(page)
      // a window a fifth as wide, around the spike but not centred on it
      span /= 5
      await dragZoom(page, spikeAt - span * 0.3, spikeAt + span * 0.7)
      await page.waitForURL(new RegExp(`zoom=${zoom}`))
      await page.waitForFunction(
        (drawn) => Number(document.querySelector<HTMLElement>('[data-testid=chart]')?.dataset.drawn) > drawn,
        before.drawn,
      )
      await page.getByTestId('stat-max').filter({ hasText: '999.50 °C' }).waitFor()
      const state = await chartState(page)
      assert.ok(state.start <= spikeAt && spikeAt <= state.end, `zoom ${zoom} holds the spike`)
      assert.ok(state.end - state.start < (before.end - before.start) / 3, `zoom ${zoom} narrowed the range`)
    }
    // the CSV link is the visible range: exactly the rows stored between its bounds
    const { start, end } = await chartState(page)
    const href = await page.getByRole('link', { name: 'Download CSV of this range' }).getAttribute('href')
    const csv = await page.evaluate((url) => fetch(url!).then((r) => r.text()), href)
    const lines = csv.trim().split('\n')
    const expected = await server.core.db.resourceRevision.count({
      where: { resourceId: bigId, timestamp: { gte: new Date(start), lte: new Date(end) } },
    })
    assert.equal(lines[0], 'utc_timestamp,value')
    assert.equal(lines.length - 1, expected)
    assert.equal(String(expected), (await page.getByTestId('stat-count').textContent())!.replace(/,/g, ''))
    assert.ok(Date.parse(lines[1]!.split(',')[0]!) >= start && Date.parse(lines.at(-1)!.split(',')[0]!) <= end)
    assert.ok(
      lines.some((l) => l.endsWith(',999.5')),
      'the spike is in the CSV',
    )
    // Back pops one zoom; double-click another
    await page.goBack()
    await page.waitForURL(/zoom=2/)
    await page.locator('.chart .u-over').dblclick()
    await page.waitForURL(/zoom=1/)
    await page.getByTestId('stat-max').filter({ hasText: '999.50 °C' }).waitFor()
    await page.context().close()
  })

  test('live values append while following and stop while zoomed into the past; Live resumes', async () => {
    const page = await open('/acme/lab/pi/temp?range=1h')
    await page
      .getByText('No values in this range')
      .or(page.getByText('This sequence has no values yet.'))
      .first()
      .waitFor()
    await page
      .locator('.live')
      .filter({ hasText: /^Live$/ })
      .waitFor()
    const controller = await connect(server.mqttUrl, pi.key)
    for (const [i, v] of ['20.5', '21.25', '22'].entries()) {
      const started = Date.now()
      await controller.publishAsync('acme/lab/pi/temp', v, { qos: 1 })
      // (the first may wait for the page's subscription to be granted)
      await page
        .getByTestId('stat-count')
        .filter({ hasText: new RegExp(`^${i + 1}$`) })
        .waitFor({ timeout: i === 0 ? 3000 : 1000 })
      console.log(`# live value ${i + 1} on the chart after ${Date.now() - started} ms`)
    }
    await page.getByTestId('latest-value').filter({ hasText: '22.0 °C' }).waitFor()
    // into the past: a custom range a day ago
    await page
      .getByLabel('From', { exact: true })
      .fill(new Date(Date.now() - 2 * DAY - new Date().getTimezoneOffset() * 60_000).toISOString().slice(0, 16))
    await page
      .getByLabel('To', { exact: true })
      .fill(new Date(Date.now() - DAY - new Date().getTimezoneOffset() * 60_000).toISOString().slice(0, 16))
    await page.getByRole('button', { name: 'Show range' }).click()
    await page.getByText('Paused: showing a fixed range').waitFor()
    await page.getByTestId('stat-count').filter({ hasText: /^0$/ }).waitFor()
    await controller.publishAsync('acme/lab/pi/temp', '30', { qos: 1 })
    await page.getByTestId('latest-value').filter({ hasText: '30.0 °C' }).waitFor({ timeout: 1000 })
    assert.equal(await page.getByTestId('stat-count').textContent(), '0', 'a range in the past does not follow')
    await page.getByRole('button', { name: 'Live' }).click()
    await page.getByText('Following live').waitFor()
    assert.match(page.url(), /range=1h/, 'Live goes back to the range followed before')
    await page.getByTestId('stat-count').filter({ hasText: /^4$/ }).waitFor()
    controller.end(true)
    await page.context().close()
  })

  test('the chart has a summary, a table and a keyboard cursor announced politely; axe finds nothing serious; 375 px fits', async () => {
    const page = await open('/acme/lab/pi/temp?range=24h', 375)
    await page.getByTestId('chart').waitFor()
    await page
      .getByTestId('chart-summary')
      .filter({ hasText: /4 values/ })
      .waitFor()
    await page.getByTestId('latest-value').filter({ hasText: '30.0 °C' }).waitFor()
    assert.equal(await page.getByRole('region', { name: 'Values in this range' }).getByRole('row').count(), 5)
    await page.getByTestId('chart').focus()
    await page.keyboard.press('ArrowRight')
    await page
      .getByTestId('cursor-value')
      .filter({ hasText: /: 20\.5$/ })
      .waitFor()
    await page.keyboard.press('End')
    await page
      .getByTestId('cursor-value')
      .filter({ hasText: /: 30\.0$/ })
      .waitFor()
    assert.equal(await page.getByTestId('cursor-value').getAttribute('aria-live'), 'polite')
    assert.equal(await scrollsSideways(page), false)
    await page.screenshot({ path: '/tmp/sequence-375.png', fullPage: true })
    assert.deepEqual(await seriousViolations(page), [])
    await page.context().close()
  })

  test('on a phone: a tap shows the value under the finger, a horizontal drag zooms, a vertical swipe scrolls the page', async () => {
    const context = await browser.newContext({
      viewport: { width: 375, height: 740 },
      hasTouch: true,
      isMobile: true,
      locale: 'en-GB',
    })
    const page = await context.newPage()
    await signIn(page, server.url, 'ann@example.com', PASSWORD, '/acme/lab/pi/year?range=30d')
    await page.getByTestId('stat-max').filter({ hasText: '°C' }).waitFor()
    const box = (await page.locator('.chart .u-over').boundingBox())!
    const y = box.y + box.height / 2
    await page.touchscreen.tap(box.x + box.width / 2, y)
    await page
      .locator('.readout')
      .filter({ hasText: /: mean [\d.]+, min/ })
      .waitFor()
    const cdp = await context.newCDPSession(page)
    const touch = async (type: 'touchStart' | 'touchMove' | 'touchEnd', x: number, yy: number) =>
      cdp.send('Input.dispatchTouchEvent', { type, touchPoints: type === 'touchEnd' ? [] : [{ x, y: yy }] })
    await touch('touchStart', box.x + box.width * 0.3, y)
    for (let i = 1; i <= 8; i++) await touch('touchMove', box.x + box.width * (0.3 + i * 0.05), y)
    await touch('touchEnd', 0, 0)
    await page.waitForURL(/zoom=1/)
    const scrolled = await page.evaluate(() => scrollY)
    await touch('touchStart', box.x + box.width / 2, y)
    for (let i = 1; i <= 8; i++) await touch('touchMove', box.x + box.width / 2, y - i * 30)
    await touch('touchEnd', 0, 0)
    await page.waitForFunction((before) => scrollY > before, scrolled)
    assert.match(page.url(), /zoom=1/, 'a vertical swipe does not zoom')
    await context.close()
  })

  test('bad input is explained: end before start, dates out of range, no values, text in a numeric history', async () => {
    const page = await open('/acme/lab/pi/temp')
    await page.getByLabel('From', { exact: true }).fill('2024-05-02T10:00')
    await page.getByLabel('To', { exact: true }).fill('2024-05-01T10:00')
    await page.getByRole('button', { name: 'Show range' }).click()
    await page.getByRole('alert').filter({ hasText: 'The end of the range is before' }).waitFor()
    await page.goto(`${server.url}/acme/lab/pi/temp?start=1500-01-01T00:00:00Z&end=1600-01-01T00:00:00Z`)
    await page.getByRole('alert').filter({ hasText: 'Dates must lie between 1970 and 9999.' }).waitFor()
    await page.goto(`${server.url}/acme/lab/pi/temp?start=yesterday&end=now`)
    await page.getByRole('alert').filter({ hasText: 'not a pair of valid dates' }).waitFor()
    await page.goto(`${server.url}/acme/lab/pi/empty`)
    await page.getByText('This sequence has no values yet.').waitFor()
    await page.goto(`${server.url}/acme/lab/pi/mixed?range=1h`)
    await page.getByRole('status').filter({ hasText: '1 value is not a number (for example “sensor error”)' }).waitFor()
    await page.getByTestId('stat-count').filter({ hasText: /^3$/ }).waitFor()
    await page.context().close()
  })

  test('a text log tails live, newest first, and is searchable', async () => {
    const page = await open('/acme/lab/pi/log')
    await page.getByText('This log has no lines yet.').waitFor()
    await page
      .locator('.live')
      .filter({ hasText: /^Live$/ })
      .waitFor()
    const controller = await connect(server.mqttUrl, pi.key)
    for (const line of ['boot ok', 'pump on', 'pump off'])
      await controller.publishAsync('acme/lab/pi/log', line, { qos: 1 })
    const lines = page.getByRole('list', { name: 'Lines of log' }).getByRole('listitem')
    await lines.filter({ hasText: 'pump off' }).waitFor({ timeout: 3000 })
    assert.match((await lines.first().textContent())!, /pump off$/)
    await page.getByLabel('Search').fill('pump')
    await page.getByText('2 of 3 loaded lines match.').waitFor()
    await page.reload()
    await lines.filter({ hasText: 'pump off' }).waitFor()
    assert.equal(await lines.count(), 2, 'the search is kept in the address')
    controller.end(true)
    await page.context().close()
  })

  test('an image sequence steps through its images with the filmstrip and the arrow keys', async () => {
    const page = await open('/acme/lab/pi/cam')
    const strip = page.getByRole('list', { name: 'Filmstrip' })
    await strip.getByRole('button').nth(2).waitFor()
    const shown = () => page.getByTestId('full-image').getAttribute('data-revision')
    const ids = await strip.getByRole('button').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.id))
    assert.equal(await shown(), ids[2], 'the newest image first')
    await strip.getByRole('button').nth(2).focus()
    await page.keyboard.press('ArrowLeft')
    assert.equal(await shown(), ids[1])
    await page.keyboard.press('ArrowLeft')
    await page.keyboard.press('ArrowRight')
    assert.equal(await shown(), ids[1])
    await strip.getByRole('button').first().click()
    assert.equal(await shown(), ids[0])
    assert.ok(
      await page.getByTestId('full-image').evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth === 64),
    )
    // a new image arrives live, told over MQTT: the page asks for no list, only the new image
    await page
      .locator('.live')
      .filter({ hasText: /^Live$/ })
      .waitFor()
    const asked: string[] = []
    page.on('request', (r) => r.url().includes('/api/v1/resources/') && asked.push(r.url()))
    const jpeg = await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 9, g: 9, b: 9 } } })
      .jpeg()
      .toBuffer()
    const res = await fetch(`${server.url}/api/v1/resources/acme/lab/pi/cam`, {
      method: 'PUT',
      headers: {
        authorization: 'Basic ' + Buffer.from(`x:${pi.key}`).toString('base64'),
        'content-type': 'application/json',
      },
      body: JSON.stringify({ data: jpeg.toString('base64') }),
    })
    assert.equal(res.status, 200)
    await strip.getByRole('button').nth(3).waitFor({ timeout: 1000 })
    const newest = (await strip.getByRole('button').nth(3).getAttribute('data-id'))!
    assert.equal(await shown(), ids[0], 'an image chosen in the past stays shown')
    assert.deepEqual(
      asked.filter((u) => !u.endsWith(`/cam?rev=${newest}`)),
      [],
      'no polling, no list read again',
    )
    await page.context().close()
  })

  test('settings are saved; delete data asks for the name first', async () => {
    const page = await open('/acme/lab/pi/mixed')
    await page.locator('summary', { hasText: 'Settings' }).click()
    await page.getByLabel('Units').fill('kPa')
    await page.getByLabel('Decimal places').fill('3')
    await page.getByRole('button', { name: 'Save settings' }).click()
    await page.getByRole('status').filter({ hasText: 'Settings saved.' }).waitFor()
    const meta = (await (
      await fetch(`${server.url}/api/v1/resources/acme/lab/pi/mixed?meta=1`, {
        headers: { authorization: 'Basic ' + Buffer.from(`x:${pi.key}`).toString('base64') },
      })
    ).json()) as { system_attributes: Record<string, unknown> }
    assert.deepEqual(
      [meta.system_attributes.units, meta.system_attributes.decimal_places, meta.system_attributes.data_type],
      ['kPa', 3, 1],
    )
    await page.getByRole('button', { name: 'Delete data…' }).click()
    const confirm = page.getByRole('button', { name: 'Delete all values' })
    assert.equal(await confirm.isDisabled(), true)
    await page.getByLabel('Type mixed to confirm').fill('mixe')
    assert.equal(await confirm.isDisabled(), true)
    await page.getByLabel('Type mixed to confirm').fill('mixed')
    await confirm.click()
    await page.getByText('This sequence has no values yet.').waitFor()
    await page.context().close()
  })
})
