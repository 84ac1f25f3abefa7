// The web UI's settings page (each person) and admin pages (system admins), in Debian's Chromium
// against a real Tendril: users, organizations, every controller, live stats; own name, password
// and keys; and a non-admin refused by the page and by the API.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { AxeBuilder } from '@axe-core/playwright'
import type { Browser, Page } from 'playwright-core'
import { createOrgUser } from '../../core/admin.ts'
import { fixture, PASSWORD } from '../helpers/fixtures.ts'
import { connect, endAll } from '../helpers/mqtt.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { launchBrowser, newContext, scrollsSideways, signIn } from './browser.ts'

async function seriousViolations(page: Page) {
  const results = await new AxeBuilder({ page }).analyze()
  return results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)
}

/** axe finds nothing serious, and at 375 px nothing scrolls sideways. */
async function checkPage(page: Page, name: string) {
  assert.deepEqual(await seriousViolations(page), [], `${name}: axe`)
  await page.setViewportSize({ width: 375, height: 740 })
  assert.equal(await scrollsSideways(page), false, `${name} at 375 px`)
  if (process.env.TENDRIL_SCREENSHOTS)
    await page.screenshot({ path: `${process.env.TENDRIL_SCREENSHOTS}/admin-${name}-375.png`, fullPage: true })
  await page.setViewportSize({ width: 1280, height: 900 })
  if (process.env.TENDRIL_SCREENSHOTS)
    await page.screenshot({ path: `${process.env.TENDRIL_SCREENSHOTS}/admin-${name}-1280.png`, fullPage: true })
}

describe('web UI: settings and system admin pages', () => {
  let server: TestServer
  let browser: Browser
  let piKey: string
  const user = (email: string) => server.core.db.user.findFirst({ where: { email, deleted: false } })

  before(async () => {
    server = await startTestServer('sqlite')
    const f = await fixture(server.core, {
      orgs: ['acme', 'beta'],
      fullNames: { acme: 'Acme Greenhouses', beta: 'Beta School' },
      users: { root: { systemAdmin: true, key: false }, ann: { admin: true, key: false } },
      controllers: ['/acme/greenhouse/pi-1', '/beta/lab/pump'],
    })
    piKey = f.controllers['/acme/greenhouse/pi-1'].key
    browser = await launchBrowser()
  })
  after(async () => {
    endAll()
    await browser?.close()
    await server?.close()
  })

  test('a system admin creates an organization (a reserved name is refused) and renames it', async () => {
    const page = await (await newContext(browser)).newPage()
    await signIn(page, server.url, 'root@example.com', PASSWORD)
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Admin' }).click()
    await page.getByRole('navigation', { name: 'Administration' }).getByRole('link', { name: 'Organizations' }).click()
    const form = page.getByRole('form', { name: 'New organization' })
    await form.getByLabel('Folder name').fill('settings')
    await form.getByRole('button', { name: 'Create organization' }).click()
    await form.getByRole('alert').filter({ hasText: '"settings" cannot name an organization' }).waitFor()
    await form.getByLabel('Folder name').fill('lycee')
    await form.getByLabel('Full name').fill('Lycée Pasteur')
    await form.getByRole('button', { name: 'Create organization' }).click()
    const row = page.locator('tr[data-name="lycee"]')
    await row.getByText('Lycée Pasteur').waitFor()
    assert.equal(await server.core.db.resource.count({ where: { name: 'lycee', parentId: null } }), 1)
    assert.equal(await server.core.db.resource.count({ where: { name: 'settings', parentId: null } }), 0)

    await row.getByRole('button', { name: 'Rename lycee' }).click()
    const dialog = page.getByRole('dialog', { name: 'Rename /lycee' })
    await dialog.getByLabel('Full name').fill('Lycée Louis Pasteur')
    await dialog.getByLabel('Full name').press('Enter')
    await row.getByText('Lycée Louis Pasteur').waitFor()
    await checkPage(page, 'organizations')
    await page.context().close()
  })

  test('a system admin creates a teacher, makes a user system admin and back, deletes one by keyboard', async () => {
    const page = await (await newContext(browser)).newPage()
    await signIn(page, server.url, 'root@example.com', PASSWORD, '/admin/users')
    await page.getByRole('button', { name: 'New user…' }).click()
    const dialog = page.getByRole('dialog', { name: 'New user' })
    await dialog.getByText('At least 10 characters, at most 72 bytes.').waitFor() // the rule, before submitting
    await dialog.getByLabel('Email address').fill('teacher@example.com')
    await dialog.getByLabel('Full name').fill('Tess Teacher')
    await dialog.getByLabel('Password', { exact: true }).fill('short')
    await dialog.getByRole('button', { name: 'Create user' }).click()
    assert.equal(await dialog.isVisible(), true, 'the browser holds a too-short password back')
    await dialog.getByLabel('Password', { exact: true }).fill('a teacher password')
    await dialog.getByRole('button', { name: 'Create user' }).click()
    const teacher = page.locator('tr[data-email="teacher@example.com"]')
    await teacher.getByText('Tess Teacher').waitFor()
    assert.equal((await user('teacher@example.com'))?.role, 0)
    // the API's refusal is shown in the dialog, which stays open
    await page.getByRole('button', { name: 'New user…' }).click()
    await dialog.getByLabel('Email address').fill('Teacher@example.com')
    await dialog.getByLabel('Password', { exact: true }).fill('another password')
    await dialog.getByRole('button', { name: 'Create user' }).click()
    await dialog
      .getByRole('alert')
      .filter({ hasText: 'a user with email teacher@example.com already exists' })
      .waitFor()
    await dialog.getByRole('button', { name: 'Cancel' }).click()

    await teacher.getByRole('button', { name: 'Make system admin: teacher@example.com' }).click()
    await page
      .getByRole('dialog', { name: 'Make teacher@example.com a system admin?' })
      .getByRole('button', { name: 'Make system admin' })
      .click()
    await teacher.getByRole('cell', { name: 'System admin', exact: true }).waitFor()
    assert.equal((await user('teacher@example.com'))?.role, 2)
    await teacher.getByRole('button', { name: 'Remove system admin: teacher@example.com' }).click()
    await page
      .getByRole('dialog', { name: "Remove teacher@example.com's system admin rights?" })
      .getByRole('button', { name: 'Remove system admin' })
      .click()
    await teacher.getByRole('cell', { name: 'User', exact: true }).waitFor()
    assert.equal((await user('teacher@example.com'))?.role, 0)

    await createOrgUser(server.core, 'leaver@example.com', PASSWORD, 'acme', false)
    await page.reload()
    const leaver = page.locator('tr[data-email="leaver@example.com"]')
    await leaver.getByRole('button', { name: 'Delete leaver@example.com' }).focus()
    await page.keyboard.press('Enter')
    const confirm = page.getByRole('dialog', { name: 'Delete leaver@example.com?' })
    await confirm.waitFor()
    await page.keyboard.press('Escape') // Escape cancels: nothing deleted
    await confirm.waitFor({ state: 'hidden' })
    assert.ok(await user('leaver@example.com'))
    await leaver.getByRole('button', { name: 'Delete leaver@example.com' }).focus()
    await page.keyboard.press('Enter')
    await confirm.getByRole('button', { name: 'Delete user' }).focus()
    await page.keyboard.press('Enter')
    await leaver.waitFor({ state: 'detached' })
    assert.equal(await user('leaver@example.com'), null)
    assert.equal(
      await page.locator('tr[data-email="root@example.com"]').getByRole('button').count(),
      0,
      'no buttons on oneself',
    )
    await checkPage(page, 'users')
    await page.context().close()
  })

  test('every controller: a connected one shows online, live; filtered by name and presence, sorted', async () => {
    const page = await (await newContext(browser)).newPage()
    await signIn(page, server.url, 'root@example.com', PASSWORD, '/admin/controllers')
    const table = page.getByRole('table', { name: 'Controllers' })
    const pi = table.locator('tr[data-path="/acme/greenhouse/pi-1"]')
    await pi.getByText('Offline').waitFor()
    await table.locator('tr[data-path="/beta/lab/pump"]').waitFor()
    await page.getByRole('status').filter({ hasText: 'Live' }).waitFor()
    const started = Date.now()
    const client = await connect(server.mqttUrl, piKey)
    await pi.getByText('Online').waitFor({ timeout: 3000 })
    console.log(`# admin controllers: online ${Date.now() - started} ms after the controller connected`)
    await pi.getByRole('cell', { name: 'just now' }).waitFor()

    await page.getByLabel('Filter by name, path or version').fill('pump')
    await table.locator('tbody tr').first().waitFor()
    assert.deepEqual(
      await table.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-path'))),
      ['/beta/lab/pump'],
    )
    assert.match(page.url(), /q=pump/, 'the filter is in the address')
    await page.getByLabel('Filter by name, path or version').fill('')
    await page.getByLabel('Presence').selectOption('online')
    await table.locator('tbody tr').first().waitFor()
    assert.deepEqual(
      await table.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-path'))),
      ['/acme/greenhouse/pi-1'],
    )
    await page.getByLabel('Presence').selectOption('all')
    await table.getByRole('button', { name: /Organization/ }).click()
    await table.getByRole('button', { name: /Organization/ }).click()
    assert.equal(
      await table.getByRole('columnheader', { name: /Organization/ }).getAttribute('aria-sort'),
      'descending',
    )
    assert.deepEqual(
      await table.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-path'))),
      ['/beta/lab/pump', '/acme/greenhouse/pi-1'],
    )
    await checkPage(page, 'controllers')
    client.end(true)
    await pi.getByText('Offline').waitFor({ timeout: 3000 })
    await page.context().close()
  })

  test('system stats show and change after a new user, without a reload', async () => {
    const page = await (await newContext(browser)).newPage()
    await signIn(page, server.url, 'root@example.com', PASSWORD, '/admin/system')
    const users = page.locator('[data-stat="user_count"] dd')
    const count = await server.core.db.user.count({ where: { deleted: false } })
    await users.filter({ hasText: String(count) }).waitFor()
    await createOrgUser(server.core, 'newcomer@example.com', PASSWORD, 'beta', false)
    await users.filter({ hasText: String(count + 1) }).waitFor({ timeout: 8000 })
    await checkPage(page, 'system')
    // leaving the page stops the polling
    await page.getByRole('link', { name: 'Tendril' }).click()
    await page.getByRole('heading', { name: 'Organizations' }).waitFor()
    const asked: string[] = []
    page.on('request', (r) => r.url().includes('/system/stats') && asked.push(r.url()))
    await page.waitForTimeout(4000) // longer than one polling period
    assert.deepEqual(asked, [])
    await page.context().close()
  })

  test('a person changes their name and password; their other session is signed out', async () => {
    const context = await newContext(browser)
    const page = await context.newPage()
    const other = await (await newContext(browser)).newPage()
    await signIn(other, server.url, 'ann@example.com', PASSWORD)
    await signIn(page, server.url, 'ann@example.com', PASSWORD)
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings' }).click()
    assert.equal(await page.getByRole('link', { name: 'Admin' }).count(), 0, 'no Admin link for a non-admin')

    await page.getByLabel('Full name').fill('Ann Gardener')
    await page.getByRole('button', { name: 'Save name' }).click()
    await page.getByRole('status').filter({ hasText: 'Your name is saved.' }).waitFor()
    await page.locator('.who').filter({ hasText: 'Ann Gardener' }).waitFor()
    assert.equal((await user('ann@example.com'))?.fullName, 'Ann Gardener')

    const password = page.getByRole('region', { name: 'Password' })
    await password.getByText('At least 10 characters, at most 72 bytes.').waitFor()
    await password.getByLabel('Current password').fill('not my password')
    await password.getByLabel('New password', { exact: true }).fill('a brand new password')
    await password.getByLabel('New password again').fill('a brand new password')
    await password.getByRole('button', { name: 'Change password' }).click()
    await password.getByRole('alert').filter({ hasText: 'the old password is wrong' }).waitFor()
    await password.getByLabel('Current password').fill(PASSWORD)
    await password.getByRole('button', { name: 'Change password' }).click()
    await password.getByRole('status').filter({ hasText: 'signed out everywhere else' }).waitFor()

    // this session goes on; the other one is sent to sign in at its next request
    await page.reload()
    await page.getByRole('heading', { name: 'Settings' }).waitFor()
    await other.goto(server.url + '/settings')
    await other.waitForURL(/\/sign-in/)
    assert.equal(await other.evaluate(() => fetch('/api/v1/session').then((r) => r.status)), 401)
    await checkPage(page, 'settings')
    await other.context().close()
    await context.close()
  })

  test('a person makes a key (shown once, copied) and revokes it after confirming', async () => {
    const context = await newContext(browser)
    await context.grantPermissions(['clipboard-read', 'clipboard-write'])
    const page = await context.newPage()
    // an admin sees others' keys in the API; the page shows only theirs
    await signIn(page, server.url, 'root@example.com', PASSWORD)
    await server.core.db.organizationUser.create({
      data: {
        organizationId: (await server.core.db.resource.findFirstOrThrow({ where: { name: 'beta', parentId: null } }))
          .id,
        userId: (await user('root@example.com'))!.id,
        isAdmin: true,
      },
    })
    await page.goto(server.url + '/settings')
    const keys = page.getByRole('region', { name: 'Your keys' })
    await keys.getByText('You have no keys.').waitFor()
    await keys.getByRole('button', { name: 'New key' }).click()
    const reveal = page.getByRole('dialog', { name: 'Your new key' })
    const secret = (await reveal.getByTestId('secret-key').textContent())!
    assert.match(secret, /^tdl_[A-Z0-9]{50}$/)
    await reveal.getByRole('button', { name: 'Copy the key' }).click()
    await reveal.getByText('Copied.').waitFor()
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret)
    assert.ok(!page.url().includes(secret))
    assert.equal(
      await page.evaluate(
        (s) => JSON.stringify({ ...localStorage }).includes(s) || JSON.stringify({ ...sessionStorage }).includes(s),
        secret,
      ),
      false,
    )
    const works = await fetch(`${server.url}/api/v1/users/current`, {
      headers: { authorization: 'Basic ' + Buffer.from(`x:${secret}`).toString('base64') },
    })
    assert.equal(works.status, 200)
    await reveal.getByRole('button', { name: 'Done' }).click()
    assert.equal(await page.getByText(secret).count(), 0, 'the secret is gone from the page')
    const part = secret.slice(4, 7) + '…' + secret.slice(-3) // key_part: the first and last 3 of the random part
    await keys.getByRole('button', { name: `Revoke key ${part}` }).click()
    await page.getByRole('dialog', { name: 'Revoke this key?' }).getByRole('button', { name: 'Revoke key' }).click()
    await keys.getByText(/Revoked/).waitFor()
    const refused = await fetch(`${server.url}/api/v1/users/current`, {
      headers: { authorization: 'Basic ' + Buffer.from(`x:${secret}`).toString('base64') },
    })
    assert.equal(refused.status, 401)
    await page.context().close()
  })

  test('a non-admin opening /admin sees "not allowed"; a crafted POST /api/v1/users from their session is 403', async () => {
    const page = await (await newContext(browser)).newPage()
    await signIn(page, server.url, 'teacher@example.com', 'a teacher password', '/admin/users')
    await page.getByRole('heading', { name: 'Not allowed' }).waitFor()
    assert.equal(await page.getByRole('table').count(), 0)
    const crafted = await page.evaluate(async () => {
      const session = (await (await fetch('/api/v1/session')).json()) as { csrf_token: string }
      const res = await fetch('/api/v1/users', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-csrf-token': session.csrf_token },
        body: JSON.stringify({ email_address: 'planted@example.com', password: 'a planted password', system_admin: 1 }),
      })
      return { status: res.status, body: await res.text() }
    })
    assert.equal(crafted.status, 403, crafted.body)
    assert.equal(await user('planted@example.com'), null)
    await checkPage(page, 'not-allowed')
    await page.context().close()
  })
})
