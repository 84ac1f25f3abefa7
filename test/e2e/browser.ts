// Debian's Chromium driven by playwright-core (no browser download), for end-to-end tests of the web UI.
import { existsSync } from 'node:fs'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'

export const CHROMIUM = process.env.TENDRIL_CHROMIUM ?? '/usr/bin/chromium'

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(`no Chromium at ${CHROMIUM}: install Debian's chromium (.ci/run does) or set TENDRIL_CHROMIUM`)
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
}

/** A fresh browser profile (cookies, storage) at a phone's or a desk's width. */
export function newContext(
  browser: Browser,
  width = 1280,
  options: { colorScheme?: 'light' | 'dark' } = {},
): Promise<BrowserContext> {
  return browser.newContext({
    viewport: { width, height: width < 600 ? 740 : 900 },
    colorScheme: options.colorScheme ?? 'light',
    locale: 'en-GB',
  })
}

/** Signs in through the sign-in page, as a person would. */
export async function signIn(page: Page, baseUrl: string, email: string, password: string, path = '/'): Promise<void> {
  await page.goto(baseUrl + path)
  await page.getByLabel('Email address').fill(email)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByRole('button', { name: 'Sign out' }).waitFor()
}

/** Whether the page scrolls sideways (nothing may at 320 px). */
export const scrollsSideways = (page: Page) =>
  page.evaluate(() => document.documentElement.scrollWidth > document.documentElement.clientWidth)
