// The web UI when things go wrong (an upload over the limit, a connection lost mid-upload, a live
// connection dropped, a session that lapsed meanwhile) and for people on keyboards and phones:
// keyboard only on the folder page, touch targets, 320 px and axe on every page. Real Chromium, a
// real Tendril; a TCP proxy in between cuts connections for real.
import assert from 'node:assert/strict'
import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { AxeBuilder } from '@axe-core/playwright'
import type { Browser, Page } from 'playwright-core'
import { fixture, PASSWORD } from '../helpers/fixtures.ts'
import { connect, endAll } from '../helpers/mqtt.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { launchBrowser, newContext, scrollsSideways, signIn } from './browser.ts'

const UPLOAD_LIMIT = 2 * 1024 * 1024
/** bytes a slowed request goes up per 10 ms through the proxy */
const SLICE = 16 * 1024
const tile = (page: Page, name: string) => page.locator(`li.tile[data-name="${name}"]`)

async function seriousViolations(page: Page) {
  const results = await new AxeBuilder({ page }).analyze()
  return results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)
}

/**
 * A TCP proxy to the server that can cut the connections whose request starts with a given prefix.
 * Requests starting with `slow` go up in small slices, so a cut lands mid-body (over loopback a
 * whole upload would otherwise be through before the test could cut it).
 */
function startProxy(port: number, slow?: string) {
  const pairs = new Set<{ first: string; client: Socket; upstream: Socket; sent: number }>()
  const server: Server = createServer((client) => {
    const upstream = tcpConnect(port, '127.0.0.1')
    const pair = { first: '', client, upstream, sent: 0 }
    pairs.add(pair)
    const forward = (chunk: Buffer) => {
      pair.sent += chunk.length
      if (!upstream.write(chunk)) {
        client.pause()
        upstream.once('drain', () => client.resume())
      }
    }
    const trickle = (chunk: Buffer) => {
      client.pause()
      const next = (at: number) => {
        if (upstream.destroyed) return
        upstream.write(chunk.subarray(at, at + SLICE))
        pair.sent += Math.min(SLICE, chunk.length - at)
        if (at + SLICE < chunk.length) setTimeout(next, 10, at + SLICE)
        else client.resume()
      }
      next(0)
    }
    client.on('data', (chunk: Buffer) => {
      // a kept-alive connection carries one request after another: count from the latest request line
      const head = chunk.toString('latin1', 0, 64)
      if (/^(GET|POST|PUT|DELETE|HEAD) \//.test(head)) {
        pair.first = head
        pair.sent = 0
      }
      if (slow && pair.first.startsWith(slow)) trickle(chunk)
      else forward(chunk)
    })
    upstream.pipe(client)
    const end = () => (client.destroy(), upstream.destroy(), pairs.delete(pair))
    client.on('error', end).on('close', end)
    upstream.on('error', end).on('close', end)
  })
  return {
    listen: () =>
      new Promise<string>((resolve) =>
        server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as { port: number }).port}`)),
      ),
    /** cuts the connections whose request starts so, once more than minBytes went up them */
    cut: (prefix: string, minBytes = 0) => {
      let cut = 0
      for (const p of pairs) {
        if (!p.first.startsWith(prefix) || p.sent <= minBytes) continue
        p.client.destroy()
        p.upstream.destroy()
        cut++
      }
      return cut
    },
    uploaded: (prefix: string) =>
      Math.max(0, ...[...pairs].filter((p) => p.first.startsWith(prefix)).map((p) => p.sent)),
    close: () => (server.close(), [...pairs].forEach((p) => (p.client.destroy(), p.upstream.destroy()))),
  }
}

/** A file dropped on the page, as a person dragging it from their desktop would. */
const dropFile = (page: Page, name: string, size: number) =>
  page.evaluate(
    ([name, size]) => {
      const transfer = new DataTransfer()
      transfer.items.add(new File([new Uint8Array(size)], name, { type: 'application/octet-stream' }))
      document.dispatchEvent(new DragEvent('dragover', { dataTransfer: transfer, bubbles: true, cancelable: true }))
      document.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }))
    },
    [name, size] as const,
  )

describe('web UI: bad input, lost connections, keyboard and phones', () => {
  let server: TestServer
  let browser: Browser
  let proxy: ReturnType<typeof startProxy>
  let base: string
  let pi: { key: string }
  let userKey: string
  const names = async (folder: string) => {
    const res = await fetch(`${server.url}/api/v1/resources${folder}`, {
      headers: { authorization: 'Basic ' + Buffer.from(`x:${userKey}`).toString('base64') },
    })
    return ((await res.json()) as { name: string }[]).map((e) => e.name)
  }

  before(async () => {
    server = await startTestServer('sqlite', { config: { 'upload-limit': UPLOAD_LIMIT } })
    const f = await fixture(server.core, {
      org: 'acme',
      fullNames: { acme: 'Acme Greenhouses' },
      users: { ann: { admin: true } },
      controllers: ['/acme/greenhouse/pi-1'],
    })
    userKey = f.users.ann.key
    pi = f.controllers['/acme/greenhouse/pi-1']
    proxy = startProxy(Number(new URL(server.url).port), 'POST /api/v1/resources')
    base = await proxy.listen()
    browser = await launchBrowser()
  })
  after(async () => {
    endAll()
    proxy?.close()
    await browser?.close()
    await server?.close()
  })

  test('an upload over the limit says so before sending it and leaves nothing on the server', async () => {
    const page = await (await newContext(browser)).newPage()
    await signIn(page, base, 'ann@example.com', PASSWORD, '/acme/greenhouse')
    await tile(page, 'pi-1').waitFor()
    await dropFile(page, 'too-big.bin', UPLOAD_LIMIT + 512 * 1024)
    await page
      .getByRole('list', { name: 'Uploads' })
      .getByRole('alert')
      .filter({ hasText: 'Too large: too-big.bin is 2.5 MB; the limit is 2.0 MB' })
      .waitFor({ timeout: 10_000 })
      .catch(async (err) =>
        assert.fail(`${err}: the page says ${await page.getByRole('list', { name: 'Uploads' }).innerText()}`),
      )
    assert.ok(!(await names('/acme/greenhouse')).includes('too-big.bin'), 'nothing half-made')
    await page.context().close()
  })

  test('a connection lost mid-upload says so and leaves no half-made file', async () => {
    const page = await (await newContext(browser)).newPage()
    await signIn(page, base, 'ann@example.com', PASSWORD, '/acme/greenhouse')
    await tile(page, 'pi-1').waitFor()
    await dropFile(page, 'half.bin', UPLOAD_LIMIT - 4096)
    await page.getByRole('progressbar', { name: 'Upload of half.bin' }).waitFor()
    // cut once some of it went up: the server sees the request end in the middle of the file
    await page.waitForFunction(() => Number(document.querySelector('progress')?.value) > 0)
    // the network stays down: Chromium resends a request cut on a reused connection, and that goes too
    let cuts = 0
    const cutting = setInterval(() => (cuts += proxy.cut('POST /api/v1/resources', 64 * 1024)), 10)
    await page
      .getByRole('list', { name: 'Uploads' })
      .getByRole('alert')
      .filter({ hasText: 'the connection was lost' })
      .waitFor({ timeout: 10_000 })
      .catch(async (err) =>
        assert.fail(`${err}: the page says ${await page.getByRole('list', { name: 'Uploads' }).innerText()}`),
      )
      .finally(() => clearInterval(cutting))
    assert.ok(cuts >= 1, 'the upload cut')
    assert.ok(!(await names('/acme/greenhouse')).includes('half.bin'), 'nothing half-made')
    await page.context().close()
  })

  test('a dropped live connection comes back with a fresh token; a lapsed session goes to sign-in and back', async () => {
    const page = await (await newContext(browser)).newPage()
    const tokens: string[] = []
    // (the body is read after the event: the page may close first, which must not fail the run)
    page.on('response', (res) => {
      if (res.url().endsWith('/api/v1/mqtt-info') && res.ok())
        res.json().then(
          (body: { token: string }) => tokens.push(body.token),
          () => {},
        )
    })
    await signIn(page, base, 'ann@example.com', PASSWORD, '/acme/greenhouse/pi-1')
    await page.getByRole('status').filter({ hasText: 'Live' }).waitFor()
    assert.ok(proxy.cut('GET /mqtt') >= 1, 'the live connection cut')
    await page.getByRole('status').filter({ hasText: 'Offline, retrying' }).waitFor()
    await page.getByRole('status').filter({ hasText: 'Live' }).waitFor({ timeout: 5000 })
    for (const end = Date.now() + 2000; tokens.length < 2 && Date.now() < end;)
      await new Promise((r) => setTimeout(r, 20))
    assert.equal(tokens.length, 2)
    assert.notEqual(tokens[0], tokens[1], 'a fresh token for the reconnect')
    const controller = await connect(server.mqttUrl, pi.key)
    await controller.publishAsync('acme/greenhouse/pi-1/log', 'back again', { qos: 1 })
    await page.getByRole('list', { name: 'Log, newest first' }).getByText('back again').waitFor({ timeout: 1000 })
    controller.end(true)

    // the session lapses while the page is open: the next reconnect finds out, and sign-in returns here
    await server.core.db.session.deleteMany({})
    proxy.cut('GET /mqtt')
    await page.waitForURL(/\/sign-in\?next=%2Facme%2Fgreenhouse%2Fpi-1$/, { timeout: 10_000 })
    await page.getByLabel('Email address').fill('ann@example.com')
    await page.getByLabel('Password').fill(PASSWORD)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('region', { name: 'Controller status' }).waitFor()
    await page.context().close()
  })

  test('the folder page works by keyboard alone, with visible focus', async () => {
    const page = await (await newContext(browser)).newPage()
    await signIn(page, server.url, 'ann@example.com', PASSWORD, '/acme')
    await page.getByRole('link', { name: 'greenhouse' }).waitFor()
    /** Tabs until the focused element is the one wanted (a bounded number of presses). */
    const tabTo = async (wanted: ReturnType<Page['getByRole']>) => {
      for (let i = 0; i < 40; i++) {
        await page.keyboard.press('Tab')
        if (await wanted.evaluate((el) => el === document.activeElement).catch(() => false)) {
          const outline = await wanted.evaluate(
            (el) => getComputedStyle(el).outlineStyle + ' ' + getComputedStyle(el).outlineWidth,
          )
          assert.match(outline, /^solid [2-9]/, 'focus is visible')
          return
        }
      }
      assert.fail(`Tab never reached ${wanted}`)
    }
    await tabTo(page.getByRole('link', { name: 'greenhouse' }))
    await page.keyboard.press('Enter')
    await page.getByRole('heading', { name: 'greenhouse', level: 1 }).waitFor()

    await tabTo(page.getByRole('button', { name: 'New folder' }))
    await page.keyboard.press('Enter')
    const dialog = page.getByRole('dialog', { name: 'New folder' })
    await dialog.waitFor()
    await page.keyboard.type('by keyboard') // the name field has the focus
    await page.keyboard.press('Enter')
    await tile(page, 'by keyboard').waitFor()

    await tabTo(page.getByRole('checkbox', { name: 'Select by keyboard' }))
    await page.keyboard.press('Space')
    await tabTo(page.getByRole('button', { name: 'Delete 1…' }))
    await page.keyboard.press('Enter')
    const confirm = page.getByRole('dialog', { name: 'Delete “by keyboard”?' })
    await confirm.waitFor()
    await tabTo(confirm.getByRole('button', { name: 'Delete' }))
    await page.keyboard.press('Enter')
    await tile(page, 'by keyboard').waitFor({ state: 'detached' })
    await page.keyboard.press('Escape')
    await page.context().close()
  })

  test('every page: nothing scrolls sideways at 320 px, touch targets are 24 px at 375 px, no serious axe finding', async () => {
    const png = Buffer.from(
      'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
      'base64',
    )
    await fetch(`${server.url}/api/v1/resources`, {
      method: 'POST',
      headers: {
        authorization: 'Basic ' + Buffer.from(`x:${userKey}`).toString('base64'),
        'content-type': 'application/json',
      },
      body: JSON.stringify({
        path: '/acme/greenhouse',
        name: 'a picture with a long name that has to wrap somewhere.png',
        type: 20,
        data: png.toString('base64'),
      }),
    })
    const pages: [string, (page: Page) => Promise<unknown>][] = [
      ['/', (p) => p.getByRole('heading', { name: 'Organizations' }).waitFor()],
      ['/acme/greenhouse', (p) => tile(p, 'pi-1').waitFor()],
      [
        '/acme/greenhouse/pi-1',
        (p) =>
          p
            .getByRole('list', { name: 'Log, newest first' })
            .or(p.getByRole('region', { name: 'Controller status' }))
            .first()
            .waitFor(),
      ],
      ['/acme/greenhouse/pi-1?tab=messages', (p) => p.getByRole('form', { name: 'Send a message' }).waitFor()],
      ['/activity', (p) => p.getByRole('heading', { name: 'Activity' }).waitFor()],
      ['/acme/no-such-folder', (p) => p.getByRole('heading', { name: 'Not found' }).waitFor()],
    ]
    const small: string[] = []
    const sideways: string[] = []
    const findings: string[] = []
    for (const width of [375, 320]) {
      const page = await (await newContext(browser, width)).newPage()
      await signIn(page, server.url, 'ann@example.com', PASSWORD)
      for (const [path, ready] of pages) {
        await page.goto(server.url + path)
        await ready(page)
        if (await scrollsSideways(page)) sideways.push(`${path} at ${width} px`)
        if (width === 375) {
          findings.push(...(await seriousViolations(page)).map((v) => `${path}: ${v}`))
          small.push(...(await tooSmall(page)).map((t) => `${path}: ${t}`))
        }
      }
      await page.getByRole('button', { name: 'Sign out' }).click()
      await page.getByRole('heading', { name: 'Sign in to Tendril' }).waitFor()
      if (await scrollsSideways(page)) sideways.push(`/sign-in at ${width} px`)
      if (width === 375) findings.push(...(await seriousViolations(page)).map((v) => `/sign-in: ${v}`))
      await page.context().close()
    }
    assert.deepEqual(sideways, [])
    assert.deepEqual(small, [])
    assert.deepEqual(findings, [])
  })
})

/** Buttons, links and form controls on screen smaller than 24 × 24 px (WCAG 2.5.8). */
function tooSmall(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    Array.from(document.querySelectorAll<HTMLElement>('a[href], button, input, select, textarea, summary'))
      .filter((el) => el.offsetParent !== null || getComputedStyle(el).position === 'fixed')
      .map((el) => ({ el, box: el.getBoundingClientRect() }))
      .filter(({ box }) => box.right > 0 && box.left < innerWidth && (box.width < 24 || box.height < 24))
      .map(
        ({ el, box }) =>
          `${el.tagName.toLowerCase()} "${(el.textContent || el.getAttribute('aria-label') || '').trim().slice(0, 30)}" ${Math.round(box.width)}×${Math.round(box.height)}`,
      ),
  )
}
