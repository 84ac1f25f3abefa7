// File pages in Chromium against a real Tendril (issue 18): images inline, Markdown rendered without
// running what it carries, CSV as a table with column figures, text edited into a new revision,
// restore, and two editors saving the same file: the second is told, nothing is lost.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { AxeBuilder } from '@axe-core/playwright'
import sharp from 'sharp'
import type { Browser, Page } from 'playwright-core'
import { fixture, PASSWORD } from '../helpers/fixtures.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { launchBrowser, newContext, scrollsSideways, signIn } from './browser.ts'

async function seriousViolations(page: Page) {
  const results = await new AxeBuilder({ page }).analyze()
  return results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)
}

describe('file views in Chromium', () => {
  let server: TestServer
  let browser: Browser
  let key: string
  const auth = () => ({ authorization: 'Basic ' + Buffer.from(`x:${key}`).toString('base64') })
  const upload = async (name: string, bytes: Buffer | string) => {
    const res = await fetch(`${server.url}/api/v1/resources`, {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/json' },
      body: JSON.stringify({ path: '/acme/docs', name, type: 20, data: Buffer.from(bytes).toString('base64') }),
    })
    assert.equal(res.status, 200, await res.text())
  }
  const contents = async (name: string) =>
    (await fetch(`${server.url}/api/v1/resources/acme/docs/${name}`, { headers: auth() })).text()

  before(async () => {
    server = await startTestServer('sqlite')
    const f = await fixture(server.core, {
      org: 'acme',
      users: { ann: { admin: true, key: false }, bob: { admin: true, key: false } },
      controllers: ['/acme/docs'],
    })
    key = f.controllers['/acme/docs'].key
    await upload(
      'plan.png',
      await sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 10, g: 120, b: 200 } } })
        .png()
        .toBuffer(),
    )
    await upload(
      'readme.md',
      '# Greenhouse\n\nSome **bold** text.\n\n<script>window.pwned = 1</script>\n<img src="x" onerror="window.pwned = 2">\n<a href="javascript:window.pwned=3">click</a>\n',
    )
    await upload('readings.csv', 'time,temp,note\n1,20.5,ok\n2,22.5,"warm, dry"\n3,18,\n')
    await upload('notes.txt', 'first version\n')
    await upload('config.json', '{"interval": 5}\n')
    browser = await launchBrowser()
  })
  after(async () => {
    await browser?.close()
    await server?.close()
  })

  const open = async (path: string, user = 'ann@example.com', width = 1280) => {
    const page = await (await newContext(browser, width)).newPage()
    await signIn(page, server.url, user, PASSWORD, path)
    return page
  }

  test("an image is shown inline; a CSV is a table with each column's min, max and mean", async () => {
    const page = await open('/acme/docs/plan.png')
    const img = page.getByRole('img', { name: 'plan.png' })
    await img.waitFor()
    await page.waitForFunction(
      () => (document.querySelector('.file-image') as HTMLImageElement | null)?.naturalWidth === 40,
    )
    await page.goto(`${server.url}/acme/docs/readings.csv`)
    const table = page.getByRole('table')
    await table.getByRole('cell', { name: 'warm, dry' }).waitFor()
    const stat = (name: string) => table.locator(`tr[data-stat="${name}"] td`).allTextContents()
    assert.deepEqual(await stat('min'), ['1', '18', '—'])
    assert.deepEqual(await stat('max'), ['3', '22.5', '—'])
    assert.deepEqual(await stat('mean'), ['2', '20.3333', '—'])
    assert.deepEqual(await seriousViolations(page), [])
    await page.context().close()
  })

  test('Markdown is rendered and sanitised: its <script>, onerror= and javascript: link never run', async () => {
    const page = await open('/acme/docs/readme.md')
    const md = page.getByTestId('markdown')
    await md.getByRole('heading', { name: 'Greenhouse' }).waitFor()
    assert.equal(await md.locator('strong').textContent(), 'bold')
    assert.equal(await md.locator('script').count(), 0)
    assert.equal(await md.locator('[onerror]').count(), 0)
    assert.equal(await md.locator('a[href^="javascript:"]').count(), 0)
    await md.getByText('click').click()
    assert.equal(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned), undefined)
    await page.context().close()
  })

  test('editing a text file makes a revision; restore brings the old text back', async () => {
    const page = await open('/acme/docs/notes.txt')
    await page.getByTestId('file-text').filter({ hasText: 'first version' }).waitFor()
    await page.getByRole('button', { name: 'Edit' }).click()
    await page.getByLabel('Contents of notes.txt').fill('second version\n')
    await page.getByRole('button', { name: 'Save', exact: true }).click()
    await page.getByRole('status').filter({ hasText: 'Saved as a new revision.' }).waitFor()
    await page.getByTestId('file-text').filter({ hasText: 'second version' }).waitFor()
    assert.equal(await contents('notes.txt'), 'second version\n')
    const rows = page.getByRole('region', { name: 'Revisions' }).getByRole('row')
    await rows.nth(2).waitFor()
    assert.equal(await rows.count(), 3, 'a header and two revisions')
    await rows.nth(2).getByRole('button', { name: 'Restore' }).click()
    await page
      .getByRole('status')
      .filter({ hasText: /Restored the revision/ })
      .waitFor()
    await page.getByTestId('file-text').filter({ hasText: 'first version' }).waitFor()
    assert.equal(await contents('notes.txt'), 'first version\n')
    assert.equal(await rows.count(), 4)
    // an older revision can be viewed by itself
    await rows.nth(3).getByRole('link', { name: 'View' }).click()
    await page.getByText('You are looking at an older revision.').waitFor()
    await page.getByTestId('file-text').filter({ hasText: 'first version' }).waitFor()
    await page.context().close()
  })

  test('two editors save the same file: the second is told, and nothing is lost', async () => {
    const ann = await open('/acme/docs/config.json')
    const bob = await open('/acme/docs/config.json', 'bob@example.com')
    for (const page of [ann, bob]) {
      await page.getByTestId('file-text').filter({ hasText: '"interval": 5' }).waitFor()
      await page.getByRole('button', { name: 'Edit' }).click()
    }
    await ann.getByLabel('Contents of config.json').fill('{"interval": 10}')
    await ann.getByRole('button', { name: 'Save', exact: true }).click()
    await ann.getByRole('status').filter({ hasText: 'Saved as a new revision.' }).waitFor()
    await bob.getByLabel('Contents of config.json').fill('{"interval": 60}')
    await bob.getByRole('button', { name: 'Save', exact: true }).click()
    await bob.getByRole('alert').filter({ hasText: 'Someone else saved a newer version' }).waitFor()
    assert.equal(
      await bob.getByLabel('Contents of config.json').inputValue(),
      '{"interval": 60}',
      "Bob's text is still in his editor",
    )
    assert.equal(await contents('config.json'), '{"interval": 10}', "Ann's save stands")
    // invalid JSON is refused before it is sent
    await ann.getByRole('button', { name: 'Edit' }).click()
    await ann.getByLabel('Contents of config.json').fill('{"interval": ')
    await ann.getByRole('button', { name: 'Save', exact: true }).click()
    await ann.getByRole('alert').filter({ hasText: 'not valid JSON' }).waitFor()
    assert.equal(await scrollsSideways(ann), false)
    await ann.context().close()
    await bob.context().close()
  })

  test('at 375 px a file page fits and passes axe', async () => {
    const page = await open('/acme/docs/readings.csv', 'ann@example.com', 375)
    await page.getByRole('table').first().waitFor()
    assert.equal(await scrollsSideways(page), false)
    await page.screenshot({ path: '/tmp/file-375.png', fullPage: true })
    assert.deepEqual(await seriousViolations(page), [])
    await page.context().close()
  })
})
