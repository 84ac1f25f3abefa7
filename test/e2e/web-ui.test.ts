// The web UI in a real browser (Debian's Chromium) against a real Tendril: what a person does and
// sees, found by roles and labels, waiting for what appears rather than for fixed times.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { after, before, describe, test } from 'node:test'
import { AxeBuilder } from '@axe-core/playwright'
import type { Browser, Page } from 'playwright-core'
import { createOrgUser } from '../../core/admin.ts'
import { fixture, PASSWORD } from '../helpers/fixtures.ts'
import { connect, endAll } from '../helpers/mqtt.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { launchBrowser, newContext, scrollsSideways, signIn } from './browser.ts'

/** A tile of the folder page, by the name it shows. */
const tile = (page: Page, name: string) => page.locator(`li.tile[data-name="${name}"]`)

async function seriousViolations(page: Page) {
  const results = await new AxeBuilder({ page }).analyze()
  return results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)
}

describe('web UI in Chromium', () => {
  let server: TestServer
  let browser: Browser
  let pi: { id: number; path: string; key: string }

  before(async () => {
    server = await startTestServer('sqlite')
    const f = await fixture(server.core, {
      orgs: ['acme', 'globex'],
      fullNames: { acme: 'Acme Greenhouses' },
      users: { ann: { admin: true, key: false }, gus: { org: 'globex', key: false } },
      controllers: ['/acme/greenhouse/pi-1', '/acme/greenhouse/pi-2'],
    })
    pi = f.controllers['/acme/greenhouse/pi-1']
    // a numeric sequence beside the controllers, with units
    const res = await fetch(`${server.url}/api/v1/resources`, {
      method: 'POST',
      headers: {
        authorization: 'Basic ' + Buffer.from(`x:${pi.key}`).toString('base64'),
        'content-type': 'application/json',
      },
      body: JSON.stringify({
        path: '/acme/greenhouse',
        name: 'temperature',
        type: 21,
        data_type: 1,
        units: '°C',
        decimal_places: 1,
      }),
    })
    assert.equal(res.status, 200, await res.text())
    browser = await launchBrowser()
  })
  after(async () => {
    endAll()
    await browser?.close()
    await server?.close()
  })

  test('sign-in says why it failed, then returns the person to the page they asked for', async () => {
    const page = await (await newContext(browser)).newPage()
    await page.goto(`${server.url}/acme/greenhouse`)
    await page.waitForURL(/\/sign-in\?next=%2Facme%2Fgreenhouse$/)
    await page.getByLabel('Email address').fill('ann@example.com')
    await page.getByLabel('Password').fill('not the password')
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('alert').filter({ hasText: 'Wrong email address or password.' }).waitFor()
    assert.deepEqual(await seriousViolations(page), [])
    await page.getByLabel('Password').fill(PASSWORD)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('heading', { name: 'greenhouse', level: 1 }).waitFor()
    assert.equal(new URL(page.url()).pathname, '/acme/greenhouse')
    await page.context().close()
  })

  test('a rate-limited sign-in says to wait; next= never leads to another site', async () => {
    const page = await (await newContext(browser)).newPage()
    // ten failures for this account (the limit), then the page's attempt is refused with 429
    for (let i = 0; i < 10; i++) {
      await fetch(`${server.url}/sign-in`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email_address: 'gus@example.com', password: 'wrong' }),
      })
    }
    await page.goto(`${server.url}/sign-in?next=${encodeURIComponent('//evil.example/x')}`)
    await page.getByLabel('Email address').fill('gus@example.com')
    await page.getByLabel('Password').fill(PASSWORD)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('alert').filter({ hasText: 'Too many failed sign-ins' }).waitFor()
    await page.context().close()
  })

  test('home shows a card per organization with controllers online and offline; folders can be walked', async () => {
    const page = await (await newContext(browser)).newPage()
    await signIn(page, server.url, 'ann@example.com', PASSWORD)
    const card = page.getByRole('listitem').filter({ has: page.getByRole('heading', { name: 'Acme Greenhouses' }) })
    await card.getByText('0 online').waitFor()
    await card.getByText('2 offline').waitFor()
    assert.equal(
      await page.getByRole('heading', { name: 'globex' }).count(),
      0,
      'only the organizations the person belongs to',
    )
    assert.deepEqual(await seriousViolations(page), [])
    await card.getByRole('link', { name: 'Acme Greenhouses' }).click()
    await page.getByRole('link', { name: 'greenhouse' }).click()
    await tile(page, 'pi-1').getByText('Offline · never connected').waitFor()
    await page.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('link', { name: 'acme' }).click()
    await page.getByRole('heading', { name: 'acme', level: 1 }).waitFor()
    await page.goBack()
    await tile(page, 'temperature').waitFor()
    assert.equal(new URL(page.url()).pathname, '/acme/greenhouse')
    await page.context().close()
  })

  test('a value published by the Pi appears on its tile within a second, and its dot turns online', async () => {
    const page = await (await newContext(browser)).newPage()
    await signIn(page, server.url, 'ann@example.com', PASSWORD, '/acme/greenhouse')
    await page.getByRole('status').filter({ hasText: 'Live' }).waitFor()
    assert.deepEqual(await seriousViolations(page), [])

    let started = Date.now()
    const controller = await connect(server.mqttUrl, pi.key)
    await tile(page, 'pi-1')
      .getByText('Online', { exact: true })
      .waitFor({ timeout: 1000 + (Date.now() - started) })
    const onlineMs = Date.now() - started

    started = Date.now()
    await controller.publishAsync('acme/greenhouse/temperature', '21.456', { qos: 1 })
    await tile(page, 'temperature').getByTestId('value').filter({ hasText: '21.5 °C' }).waitFor({ timeout: 1000 })
    const valueMs = Date.now() - started
    console.log(`# controller online on its tile after ${onlineMs} ms; a value after ${valueMs} ms`)

    controller.end(true)
    await tile(page, 'pi-1')
      .getByText(/Offline · last seen/)
      .waitFor({ timeout: 1500 })
    await page.context().close()
  })

  test('a 20 MB file dropped on the page uploads with progress and downloads back byte-identical; zip of a selection', async () => {
    const page = await (await newContext(browser)).newPage()
    await signIn(page, server.url, 'ann@example.com', PASSWORD, '/acme/greenhouse')
    await tile(page, 'temperature').waitFor()
    // a person dragging a file from their desktop: a DataTransfer holding a 20 MB file, dropped on the page
    const digest = await page.evaluate(async () => {
      const bytes = new Uint8Array(20 * 1024 * 1024)
      for (let i = 0; i < bytes.length; i += 65536) crypto.getRandomValues(bytes.subarray(i, i + 65536))
      const transfer = new DataTransfer()
      transfer.items.add(new File([bytes], 'readings.bin', { type: 'application/octet-stream' }))
      document.dispatchEvent(new DragEvent('dragover', { dataTransfer: transfer, bubbles: true, cancelable: true }))
      document.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }))
      return [...new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))]
        .map((b) => b.toString(16).padStart(2, '0'))
        .join('')
    })
    await page.getByRole('progressbar', { name: 'Upload of readings.bin' }).waitFor()
    await page.getByRole('list', { name: 'Uploads' }).getByText('Uploaded').waitFor({ timeout: 20_000 })
    await tile(page, 'readings.bin').getByText('20 MB').waitFor()

    await tile(page, 'readings.bin').getByRole('link', { name: 'readings.bin' }).click()
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Download', exact: true }).first().click(),
    ])
    const downloaded = readFileSync((await download.path())!)
    assert.equal(downloaded.length, 20 * 1024 * 1024)
    assert.equal(createHash('sha256').update(downloaded).digest('hex'), digest)

    await page.goBack()
    await tile(page, 'readings.bin').getByRole('checkbox', { name: 'Select readings.bin' }).check()
    await tile(page, 'temperature').getByRole('checkbox', { name: 'Select temperature' }).check()
    const [zip] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Download 2 as zip' }).click(),
    ])
    const bytes = readFileSync((await zip.path())!)
    assert.equal(bytes.subarray(0, 2).toString(), 'PK')
    assert.ok(bytes.includes(Buffer.from('readings.bin')))
    await page.context().close()
  })

  test('new folder, a refused name, and delete after confirming', async () => {
    const page = await (await newContext(browser)).newPage()
    await signIn(page, server.url, 'ann@example.com', PASSWORD, '/acme/greenhouse')
    await page.getByRole('button', { name: 'New folder' }).click()
    const dialog = page.getByRole('dialog', { name: 'New folder' })
    await dialog.getByLabel('Name').fill('..')
    await dialog.getByRole('button', { name: 'Create folder' }).click()
    await dialog.getByRole('alert').filter({ hasText: 'must not be' }).waitFor()
    await dialog.getByLabel('Name').fill('Salle de classe 3 é')
    await dialog.getByRole('button', { name: 'Create folder' }).click()
    await tile(page, 'Salle de classe 3 é').waitFor()

    await tile(page, 'Salle de classe 3 é').getByRole('checkbox').check()
    await page.getByRole('button', { name: 'Delete 1…' }).click()
    const confirm = page.getByRole('dialog', { name: 'Delete “Salle de classe 3 é”?' })
    await confirm.getByRole('button', { name: 'Delete' }).click()
    await tile(page, 'Salle de classe 3 é').waitFor({ state: 'detached' })
    await page.context().close()
  })

  test('the Messages tab sends a message an MQTT subscriber receives, and shows messages arriving live', async () => {
    const page = await (await newContext(browser)).newPage()
    const subscriber = await connect(server.mqttUrl, pi.key)
    await subscriber.subscribeAsync('acme/greenhouse/pi-1')
    const received = new Promise<string>((resolve) =>
      subscriber.on('message', (_t, payload) => resolve(payload.toString())),
    )
    await signIn(page, server.url, 'ann@example.com', PASSWORD, '/acme/greenhouse/pi-1')
    await page.getByRole('link', { name: 'Messages' }).click()
    assert.equal(new URL(page.url()).search, '?tab=messages')
    const form = page.getByRole('form', { name: 'Send a message' })
    await form.getByLabel('Type').fill('set_interval')
    await form.getByLabel('Parameters (JSON)').fill('{"seconds": 30')
    await form.getByRole('button', { name: 'Send' }).click()
    await form.getByRole('alert').filter({ hasText: 'Parameters must be JSON' }).waitFor()
    await form.getByLabel('Parameters (JSON)').fill('{"seconds": 30}')
    await form.getByRole('button', { name: 'Send' }).click()
    assert.deepEqual(JSON.parse(await received), { set_interval: { seconds: 30 } })
    const list = page.getByRole('list', { name: 'Messages, newest first' })
    await list.getByText('set_interval').first().waitFor()
    await page.getByRole('status').filter({ hasText: 'Live' }).waitFor()
    await subscriber.publishAsync('acme/greenhouse/pi-1', JSON.stringify({ alarm: { level: 'high' } }), { qos: 1 })
    await list.getByText('{"level":"high"}').waitFor({ timeout: 1000 })
    await page.getByLabel('Type contains').fill('alarm')
    assert.equal(await list.getByText('set_interval').count(), 0, 'filtered by type')
    assert.match(new URL(page.url()).search, /type=alarm/)
    subscriber.end(true)
    await page.context().close()
  })

  test('Activity streams what arrives in the organization, filtered by folder and type', async () => {
    const page = await (await newContext(browser)).newPage()
    await signIn(page, server.url, 'ann@example.com', PASSWORD)
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Activity' }).click()
    await page.getByRole('heading', { name: 'Activity' }).waitFor()
    await page.getByRole('status').filter({ hasText: 'Live' }).waitFor()
    const controller = await connect(server.mqttUrl, pi.key)
    await controller.publishAsync('acme/greenhouse/temperature', '19.0', { qos: 1 })
    await controller.publishAsync('acme/greenhouse/pi-1', JSON.stringify({ door: { open: true } }), { qos: 1 })
    const list = page.getByRole('list', { name: 'Activity, newest first' })
    await list.getByText('temperature = 19').waitFor({ timeout: 1000 })
    await list.getByText('{"open":true}').waitFor({ timeout: 1000 })
    await page.getByLabel('Type contains').fill('door')
    await list.getByText('temperature = 19').waitFor({ state: 'detached' })
    assert.match(new URL(page.url()).search, /type=door/)
    controller.end(true)
    await page.context().close()
  })

  test('a member of another organization sees Not found for its folders', async () => {
    const page = await (await newContext(browser)).newPage()
    await createOrgUser(server.core, 'hal@example.com', PASSWORD, 'globex', false)
    await signIn(page, server.url, 'hal@example.com', PASSWORD, '/acme/greenhouse')
    await page.getByRole('heading', { name: 'Not found' }).waitFor()
    assert.equal(await tile(page, 'pi-1').count(), 0)
    await page.context().close()
  })

  test('an expired session sends the person to sign in and back; sign-out closes the live connection', async () => {
    const page = await (await newContext(browser)).newPage()
    const sockets: { closed: boolean }[] = []
    page.on('websocket', (ws) => {
      const seen = { closed: false }
      sockets.push(seen)
      ws.on('close', () => (seen.closed = true))
    })
    await signIn(page, server.url, 'ann@example.com', PASSWORD, '/acme')
    await page.getByRole('status').filter({ hasText: 'Live' }).waitFor()
    await server.core.db.session.deleteMany({}) // the session lapses
    await page.getByRole('link', { name: 'greenhouse' }).click()
    await page.waitForURL(/\/sign-in\?next=%2Facme%2Fgreenhouse$/)
    await page.getByLabel('Email address').fill('ann@example.com')
    await page.getByLabel('Password').fill(PASSWORD)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await tile(page, 'pi-1').waitFor()
    await page.getByRole('status').filter({ hasText: 'Live' }).waitFor()
    const open = sockets.filter((s) => !s.closed)
    assert.equal(open.length, 1, 'one live connection')

    await page.getByRole('button', { name: 'Sign out' }).click()
    await page.getByRole('heading', { name: 'Sign in to Tendril' }).waitFor()
    await page.waitForFunction(() => true) // (the close event is delivered with the next protocol round trip)
    for (let i = 0; i < 50 && !open[0]!.closed; i++) await page.waitForTimeout(20)
    assert.ok(open[0]!.closed, 'the live connection closed')
    await page.context().close()
  })

  test('at 320 px nothing scrolls sideways; dark mode follows the system', async () => {
    const context = await newContext(browser, 320, { colorScheme: 'dark' })
    const page = await context.newPage()
    await signIn(page, server.url, 'ann@example.com', PASSWORD, '/acme/greenhouse')
    await tile(page, 'temperature').waitFor()
    assert.equal(await scrollsSideways(page), false)
    const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor)
    assert.equal(background, 'rgb(15, 18, 22)')
    assert.deepEqual(await seriousViolations(page), [])
    await page.getByRole('button', { name: 'List' }).click()
    assert.equal(await scrollsSideways(page), false)
    await page.goto(`${server.url}/`)
    await page.getByRole('heading', { name: 'Organizations' }).waitFor()
    assert.equal(await scrollsSideways(page), false)
    await context.close()
  })
})
