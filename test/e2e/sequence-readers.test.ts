// A sequence's settings for someone who may only read it: shown as text, no form and no "delete
// data"; the API still refuses a crafted change (403). Writers keep the form.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { AxeBuilder } from '@axe-core/playwright'
import type { Browser, Page } from 'playwright-core'
import { createController, createOrg, createOrgUser } from '../../core/admin.ts'
import { storeSequenceValues } from '../../core/resources/sequence-store/store.ts'
import { createSequence, findPath } from '../../core/resources/tree.ts'
import { SequenceDataType } from '../../core/resources/types.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { launchBrowser, newContext, scrollsSideways, signIn } from './browser.ts'

const PASSWORD = 'long enough pw'

/** a request from the signed-in page itself, with its session cookie and CSRF token */
const fromPage = (page: Page, method: string, url: string, body?: unknown) =>
  page.evaluate(
    async ({ method, url, body }) => {
      const { csrf_token } = (await (await fetch('/api/v1/session')).json()) as { csrf_token: string }
      const res = await fetch(url, {
        method,
        headers: { 'content-type': 'application/json', 'x-csrf-token': csrf_token },
        body: body === undefined ? undefined : JSON.stringify(body),
      })
      return { status: res.status, body: (await res.json()) as { message?: string } }
    },
    { method, url, body },
  )

describe('sequence settings for readers, in Chromium', () => {
  let server: TestServer
  let browser: Browser
  let ann: { id: number }
  let orgId: number

  before(async () => {
    server = await startTestServer('sqlite')
    orgId = (await createOrg(server.core, 'acme')).id
    ann = await createOrgUser(server.core, 'ann@example.com', PASSWORD, 'acme', true)
    await createOrgUser(server.core, 'bob@example.com', PASSWORD, 'acme', false)
    await createController(server.core, '/acme/lab/pi')
    const folder = (await findPath(server.core.db, '/acme/lab/pi'))!.at(-1)!
    const temp = await createSequence(server.core.db, folder, 'temp', {
      dataType: SequenceDataType.numeric,
      units: '°C',
      decimalPlaces: 1,
    })
    await storeSequenceValues(server.core, server.core.blobs, [
      { sequenceId: temp.id, value: '21.5', timestamp: new Date(Date.now() - 60_000) },
    ])
    browser = await launchBrowser()
  })
  after(async () => {
    await browser?.close()
    await server?.close()
  })

  const open = async (email: string, path: string, width = 1280) => {
    const page = await (await newContext(browser, width)).newPage()
    await signIn(page, server.url, email, PASSWORD, path)
    return page
  }

  test('a member who may only read sees the settings as text, no form, no delete; a crafted PUT is still refused', async () => {
    // Ann (an org admin) makes /acme/lab readable, not writable, by the org's members
    const admin = await open('ann@example.com', '/acme/lab/pi/temp')
    const set = await fromPage(admin, 'PUT', '/api/v1/resources/acme/lab', {
      permissions: JSON.stringify([
        [110, orgId, 10],
        [130, ann.id, 20],
        [120, orgId, 20],
      ]),
    })
    assert.equal(set.status, 200, set.body.message)
    await admin.reload()
    await admin.locator('summary', { hasText: 'Settings' }).click()
    await admin.getByRole('button', { name: 'Save settings' }).waitFor()
    await admin.context().close()

    const page = await open('bob@example.com', '/acme/lab/pi/temp', 375)
    await page.getByTestId('latest-value').filter({ hasText: '21.5 °C' }).waitFor()
    await page.locator('summary', { hasText: 'Settings' }).click()
    const settings = page.locator('details.settings')
    await settings.getByText('You can read this sequence but not change its settings or data.').waitFor()
    assert.equal(
      await settings.locator('dt', { hasText: 'Units' }).locator('xpath=following-sibling::dd[1]').textContent(),
      '°C',
    )
    assert.equal(
      await settings
        .locator('dt', { hasText: 'Decimal places' })
        .locator('xpath=following-sibling::dd[1]')
        .textContent(),
      '1',
    )
    assert.equal(await settings.locator('form, input').count(), 0, 'no form')
    assert.equal(await page.getByRole('button', { name: /Save settings|Delete data/ }).count(), 0, 'no save, no delete')
    assert.equal(await scrollsSideways(page), false)
    const axe = await new AxeBuilder({ page }).include('details.settings').analyze()
    assert.deepEqual(
      axe.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id),
      [],
    )
    await page.screenshot({ path: '/tmp/seq-readers-375.png', fullPage: true })

    // the UI only hides what the API forbids: the same changes, crafted by hand, are refused
    const put = await fromPage(page, 'PUT', '/api/v1/resources/acme/lab/pi/temp', {
      system_attributes: { data_type: 1, units: 'kPa' },
    })
    assert.equal(put.status, 403)
    assert.ok(put.body.message, 'a 403 says why')
    const del = await fromPage(page, 'DELETE', '/api/v1/resources/acme/lab/pi/temp?data_only=1')
    assert.equal(del.status, 403)
    const meta = (await server.core.db.resource.findFirstOrThrow({ where: { name: 'temp' } }))
      .systemAttributes as Record<string, unknown>
    assert.equal(meta.units, '°C', 'nothing changed')
    assert.equal(
      await server.core.db.resourceRevision.count({
        where: { resourceId: (await server.core.db.resource.findFirstOrThrow({ where: { name: 'temp' } })).id },
      }),
      1,
    )
    await page.context().close()
  })
})
