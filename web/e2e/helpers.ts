import { execFileSync } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import AxeBuilder from '@axe-core/playwright'
import { expect, type Browser, type BrowserContext, type Page } from '@playwright/test'

const artifacts = process.env.BROWSER_ARTIFACTS ?? 'test-results'
let shots = 0

/** Saves a screenshot of `page` as BROWSER_ARTIFACTS/NN-step.png. */
export async function shot(page: Page, step: string): Promise<void> {
  mkdirSync(artifacts, { recursive: true })
  shots += 1
  await page.screenshot({ path: `${artifacts}/${String(shots).padStart(2, '0')}-${step}.png`, fullPage: true })
}

export interface Person {
  context: BrowserContext
  page: Page
}

/** A new browser (own cookies and storage) on the room board. */
export async function visitor(browser: Browser, viewport = { width: 1100, height: 900 }): Promise<Person> {
  const context = await browser.newContext({ viewport })
  const page = await context.newPage()
  await page.goto('/')
  await expect(page.getByRole('heading', { name: 'Rooms', level: 1 })).toBeVisible()
  return { context, page }
}

/** Signs in through the development issuer's form, as a person would (`audit`: check the form with axe). */
export async function signIn(
  browser: Browser,
  user: string,
  role: 'Customer' | 'Room manager',
  viewport?: { width: number; height: number },
  { audit = false } = {},
): Promise<Person> {
  const person = await visitor(browser, viewport)
  const { page } = person
  await page.getByTestId('account').getByRole('button', { name: 'Sign in' }).click()
  await expect(page.getByLabel('User name')).toBeVisible()
  if (audit) await expectAccessible(page, "the issuer's sign-in form")
  await page.getByLabel('User name').fill(user)
  await page.getByLabel(role).check()
  await page.getByRole('button', { name: 'Sign in' }).click()
  await expect(page.getByTestId('signed-in-as')).toContainText(`Signed in as ${user}`)
  return person
}

/** The access token the page keeps for this tab. */
export async function tokenOf(page: Page): Promise<string> {
  const token = await page.evaluate(() => sessionStorage.getItem('hifive.token'))
  expect(token, 'the page keeps a token').toBeTruthy()
  return token!
}

/** Marks the page so that a later check can tell it was never reloaded. */
export async function mark(page: Page): Promise<void> {
  await page.evaluate(() => ((window as unknown as { hifiveMark: number }).hifiveMark = 42))
}

export async function expectNotReloaded(page: Page): Promise<void> {
  expect(await page.evaluate(() => (window as unknown as { hifiveMark?: number }).hifiveMark)).toBe(42)
}

/** `script/service NAME stop|start` on the stack under test. */
export function service(name: string, action: 'stop' | 'start'): void {
  const root = process.env.HIFIVE_ROOT
  if (!root) throw new Error('HIFIVE_ROOT is not set: cannot stop or start a service')
  execFileSync(`${root}/script/service`, [name, action], {
    env: { ...process.env, DATA_DIR: process.env.HIFIVE_DATA_DIR ?? `${root}/data` },
    stdio: 'inherit',
    timeout: 60_000,
  })
}

/** Room numbers no earlier run used (the same stack may serve several runs). */
export function freshRooms(): [number, number] {
  const base = (Math.floor(Date.now() / 1000) % 100_000_000) * 10
  return [base + 1, base + 2]
}

/** A link of the page's main navigation. */
export function nav(page: Page, name: 'Rooms' | 'My bookings' | 'Manage') {
  return page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name })
}

/** Nothing sticks out sideways: the page is usable at `width` without scrolling across. */
export async function expectFitsWidth(page: Page, width: number): Promise<void> {
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(width)
}

/**
 * No violation axe-core can find on the page as it is now: the WCAG 2.1 A/AA rules (names and
 * labels, contrast, ARIA use) and axe's best practices (one main landmark, content inside
 * landmarks, one h1, heading order). `what` names the state in the failure.
 */
export async function expectAccessible(page: Page, what: string): Promise<void> {
  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']).analyze()
  const found = results.violations.map(
    (v) => `${v.id} (${v.impact}): ${v.help}\n${v.nodes.map((n) => `    ${n.target.join(' ')}: ${n.failureSummary?.replace(/\n/g, ' ')}`).join('\n')}`,
  )
  expect(found, `accessibility of ${what}`).toEqual([])
}
