// An organization admin (a teacher) in Debian's Chromium against a real Tendril: members (add by
// email, make and remove an admin, the last admin kept with the reason shown), the organization's
// full name, its keys (revoked from the list: the key then gets a 401), folder permissions and the
// public read-only link; a plain member sees none of it and a crafted request of theirs is refused.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { AxeBuilder } from '@axe-core/playwright'
import type { Browser, Page } from 'playwright-core'
import { fixture, PASSWORD } from '../helpers/fixtures.ts'
import { basicAuth } from '../helpers/http.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { launchBrowser, newContext, scrollsSideways, signIn } from './browser.ts'

const SHOTS = process.env.TENDRIL_SCREENSHOTS

async function seriousViolations(page: Page) {
  const results = await new AxeBuilder({ page }).analyze()
  return results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)
}

/** axe finds nothing serious, and at 375 px nothing scrolls sideways; screenshots when asked for. */
async function checkPage(page: Page, name: string) {
  assert.deepEqual(await seriousViolations(page), [], `${name}: axe`)
  for (const width of [375, 1280]) {
    await page.setViewportSize({ width, height: 900 })
    assert.equal(await scrollsSideways(page), false, `${name} at ${width} px`)
    if (SHOTS) await page.screenshot({ path: `${SHOTS}/org-admin-${name}-${width}.png`, fullPage: true })
  }
}

describe('web UI: organization admin', () => {
  let server: TestServer
  let browser: Browser
  let acme: number
  let ann: number
  let pi: { id: number; path: string; key: string }
  const anonymous = (path: string) => fetch(`${server.url}/api/v1/resources${path}`)
  const membership = (email: string) =>
    server.core.db.organizationUser.findFirst({ where: { organizationId: acme, user: { email } } })

  before(async () => {
    server = await startTestServer('sqlite')
    const f = await fixture(server.core, {
      orgs: ['acme', 'other'],
      fullNames: { acme: 'Acme School' },
      users: { ann: { admin: true, key: false }, bob: {}, carol: { org: 'other', key: false } },
      controllers: ['/acme/lab/pi-1'],
    })
    acme = f.orgs.acme.id
    ann = f.users.ann.id
    pi = f.controllers['/acme/lab/pi-1']
    browser = await launchBrowser()
  })
  after(async () => {
    await browser?.close()
    await server?.close()
  })

  test('members: add by email, make and remove an admin, the last admin stays with the reason; the full name', async () => {
    const page = await (await newContext(browser)).newPage()
    await signIn(page, server.url, 'ann@example.com', PASSWORD, '/acme')
    const tabs = page.getByRole('navigation', { name: 'Folder views' })
    for (const name of ['Members', 'Keys', 'Access']) await tabs.getByRole('link', { name }).waitFor()
    await tabs.getByRole('link', { name: 'Members' }).click()
    const list = page.getByRole('list', { name: 'Members' })
    await list.locator('li[data-email="bob@example.com"]').waitFor()

    await page.getByLabel('Email address of an existing user').fill('nobody@example.com')
    await page.getByRole('button', { name: 'Add member' }).click()
    await page.getByRole('alert').filter({ hasText: 'no user with that email address' }).waitFor()

    await page.getByLabel('Email address of an existing user').fill('carol@example.com')
    await page.getByRole('button', { name: 'Add member' }).click()
    const carol = list.locator('li[data-email="carol@example.com"]')
    await carol.getByText('Member', { exact: true }).waitFor()
    assert.equal((await membership('carol@example.com'))?.isAdmin, false)

    await carol.getByRole('button', { name: 'Make admin' }).click()
    await carol.getByText('Administrator', { exact: true }).waitFor()
    assert.equal((await membership('carol@example.com'))?.isAdmin, true)
    await carol.getByRole('button', { name: 'Remove admin' }).click()
    await carol.getByText('Member', { exact: true }).waitFor()
    assert.equal((await membership('carol@example.com'))?.isAdmin, false)

    // ann, the last admin, tries to remove herself, by keyboard: the dialog says why not, and nothing changes
    const annRow = list.locator('li[data-email="ann@example.com"]')
    await annRow.getByRole('button', { name: 'Remove…' }).focus()
    await page.keyboard.press('Enter')
    const dialog = page.getByRole('dialog', { name: 'Remove ann@example.com?' })
    await dialog.waitFor()
    await dialog.getByRole('button', { name: 'Remove member' }).focus()
    await page.keyboard.press('Enter')
    await dialog
      .getByRole('alert')
      .filter({
        hasText: 'ann@example.com is the last administrator: an organization needs at least one administrator',
      })
      .waitFor()
    assert.equal((await membership('ann@example.com'))?.isAdmin, true)
    await page.keyboard.press('Escape')
    await dialog.waitFor({ state: 'hidden' })

    // removing carol after confirming ends her membership
    await carol.getByRole('button', { name: 'Remove…' }).click()
    await page
      .getByRole('dialog', { name: 'Remove carol@example.com?' })
      .getByRole('button', { name: 'Remove member' })
      .click()
    await carol.waitFor({ state: 'detached' })
    assert.equal(await membership('carol@example.com'), null)

    await page.getByLabel('Full name').fill('Acme Primary School')
    await page.getByRole('button', { name: 'Save name' }).click()
    await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor()
    const org = await server.core.db.resource.findUnique({ where: { id: acme } })
    assert.equal((org?.systemAttributes as { full_name?: string }).full_name, 'Acme Primary School')
    await checkPage(page, 'members')
    await page.goto(server.url + '/')
    await page.getByRole('heading', { name: 'Acme Primary School' }).waitFor()
    await page.context().close()
  })

  test("keys: the organization's keys with owners; a revoked key gets a 401 at once", async () => {
    const rest = () =>
      fetch(`${server.url}/api/v1/resources/acme/lab/pi-1?meta=1`, { headers: { authorization: basicAuth(pi.key) } })
    assert.equal((await rest()).status, 200)
    const page = await (await newContext(browser)).newPage()
    await signIn(page, server.url, 'ann@example.com', PASSWORD, '/acme?tab=keys')
    const keys = page.getByRole('list', { name: /Keys of acme/ })
    const piKey = keys.getByRole('listitem').filter({ hasText: 'Controller /acme/lab/pi-1' })
    await piKey.getByText('Active').waitFor()
    await keys.getByRole('listitem').filter({ hasText: 'User bob@example.com' }).waitFor()
    await checkPage(page, 'keys')

    await piKey.getByRole('button', { name: 'Revoke…' }).click()
    const dialog = page.getByRole('dialog', { name: 'Revoke this key?' })
    await dialog.getByRole('button', { name: 'Cancel' }).click()
    await dialog.waitFor({ state: 'hidden' })
    assert.equal((await rest()).status, 200, 'cancelled: still works')
    await piKey.getByRole('button', { name: 'Revoke…' }).click()
    await dialog.getByRole('button', { name: 'Revoke key' }).click()
    await piKey.getByText(/^Revoked/).waitFor()
    assert.equal((await rest()).status, 401)
    await page.context().close()
  })

  test('access: effective access, public read with a kiosk link, then an own list that keeps the admin writing', async () => {
    assert.equal((await anonymous('/acme/lab')).status, 404, 'not public yet')
    const page = await (await newContext(browser)).newPage()
    await signIn(page, server.url, 'ann@example.com', PASSWORD, '/acme/lab')
    await page.getByRole('navigation', { name: 'Folder views' }).getByRole('link', { name: 'Access' }).click()
    const entries = page.getByRole('list', { name: 'Permission entries' })
    await entries.getByText('Members of acme: write').waitFor()
    await page.getByText('Inherited from /acme').waitFor()
    await checkPage(page, 'access')

    await page.getByRole('button', { name: 'Make public (read-only) and show the link' }).click()
    const link = page.getByLabel('Public link')
    await link.waitFor()
    assert.equal(await link.inputValue(), `${server.url}/acme/lab?kiosk=1`)
    await entries.getByText('Public (anyone, without signing in): read').waitFor()
    await page.getByText('This folder has its own permissions.').waitFor()
    assert.equal((await anonymous('/acme/lab')).status, 200, 'public now')
    assert.equal((await anonymous('/acme/lab/pi-1?meta=1')).status, 200, 'and what is in it')

    // members read only, ann herself write: the page warns while ann's own write would go, not after
    await page.getByRole('button', { name: 'Edit permissions' }).click()
    await page.getByLabel('Members of acme', { exact: true }).selectOption({ label: 'read' })
    await page.getByRole('alert').filter({ hasText: 'After saving you will have read here' }).waitFor()
    await page.getByLabel('Add', { exact: true }).selectOption({ label: 'ann@example.com' })
    await page.getByLabel('with', { exact: true }).selectOption({ label: 'write' })
    await page.getByRole('button', { name: 'Add entry' }).click()
    assert.equal(await page.getByText('After saving you will have').count(), 0)
    await checkPage(page, 'access-edit')
    await page.getByRole('button', { name: 'Save permissions' }).click()
    await entries.getByText('ann@example.com: write').waitFor()
    await page.getByRole('list', { name: 'What each member gets' }).getByText('bob@example.com: read').waitFor()
    const lab = await server.core.db.resource.findFirst({ where: { name: 'lab', organizationId: acme } })
    assert.deepEqual(lab?.permissions, [
      [110, acme, 10],
      [120, acme, 20],
      [100, null, 10],
      [130, ann, 20],
    ])
    await checkPage(page, 'access-own')
    await page.context().close()
  })

  test('a plain member sees no admin tabs, and a crafted request from their session is refused', async () => {
    const page = await (await newContext(browser)).newPage()
    await signIn(page, server.url, 'bob@example.com', PASSWORD, '/acme?tab=members')
    const tabs = page.getByRole('navigation', { name: 'Folder views' })
    await tabs.getByRole('link', { name: 'Contents' }).waitFor()
    assert.equal(
      await tabs.getByRole('link', { name: 'Contents' }).getAttribute('aria-current'),
      'page',
      '?tab=members shows Contents',
    )
    for (const name of ['Members', 'Keys', 'Access'])
      assert.equal(await tabs.getByRole('link', { name }).count(), 0, `${name} on /acme`)
    await page.goto(server.url + '/acme/lab?tab=access') // bob reads /acme/lab only (the test before)
    await tabs.getByRole('link', { name: 'Contents' }).waitFor()
    assert.equal(await tabs.getByRole('link', { name: 'Access' }).count(), 0, 'Access on a folder bob only reads')

    const refused = await page.evaluate(async () => {
      const session = (await (await fetch('/api/v1/session')).json()) as { csrf_token: string }
      const res = await fetch('/api/v1/organizations/acme/users', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-csrf-token': session.csrf_token },
        body: JSON.stringify({ email_address: 'carol@example.com', is_admin: 1 }),
      })
      return { status: res.status, body: (await res.json()) as { message?: string } }
    })
    assert.equal(refused.status, 403)
    assert.match(refused.body.message ?? '', /administrator/)
    assert.equal(await membership('carol@example.com'), null)
    await page.context().close()
  })
})
