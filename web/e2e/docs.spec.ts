import { expect, test } from '@playwright/test'
import { nav, signIn, visitor } from './helpers'

// The README's screenshots (docs/web-*.png), made only when asked, on a fresh stack:
//   HIFIVE_DOCS_SCREENSHOTS=../docs npx playwright test docs
const dir = process.env.HIFIVE_DOCS_SCREENSHOTS

test('screenshots for the documentation', async ({ browser }) => {
  test.skip(!dir, 'set HIFIVE_DOCS_SCREENSHOTS to the folder for the screenshots')
  const rooms = [101, 102, 103, 104]
  const manager = await signIn(browser, 'boss', 'Room manager', { width: 1000, height: 1000 })
  await nav(manager.page, 'Manage').click()
  for (const n of rooms) {
    await manager.page.getByLabel('Room number').fill(String(n))
    await manager.page.getByRole('button', { name: 'Register room' }).click()
    await expect(manager.page.getByTestId('register-message')).toHaveText(/is registered|already registered/)
  }

  const alice = await signIn(browser, 'alice', 'Customer', { width: 900, height: 470 })
  const book = alice.page.getByRole('button', { name: 'Book room 102' })
  await expect(book).toBeEnabled()
  await book.click()
  await expect(alice.page.getByTestId('booking-status')).toHaveText('ASSIGNED')
  await expect(alice.page.getByTestId('booking-payment')).toContainText('PAID')
  await alice.page.screenshot({ path: `${dir}/web-booking.png` })

  const board = await visitor(browser, { width: 900, height: 620 })
  await expect(board.page.getByTestId('room-102')).toHaveAttribute('data-status', 'FULL')
  await expect(board.page.getByTestId('live-indicator')).toHaveAttribute('data-state', 'live')
  await board.page.screenshot({ path: `${dir}/web-board.png` })

  await manager.page.reload()
  await expect(manager.page.getByTestId('health-conference')).toBeVisible()
  await expect(manager.page.getByTestId('all-bookings')).toContainText('ASSIGNED')
  await manager.page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur())
  await manager.page.screenshot({ path: `${dir}/web-manage.png` })
  for (const p of [manager, alice, board]) await p.context.close()
})
