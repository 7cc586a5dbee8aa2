import { expect, test } from '@playwright/test'
import { expectAccessible, expectFitsWidth, expectNotReloaded, freshRooms, mark, nav, service, shot, signIn, tokenOf, visitor } from './helpers'

// The scenario, as people do it in a browser: a room manager registers two rooms;
// a customer books one and follows it to ASSIGNED; someone else watches the board turn FULL
// and back to EMPTY live; with pay stopped the booking is retried (same Idempotency-Key)
// and succeeds once pay is back, with one booking, not two; another customer sees none of it.
test('register, book, follow, watch, cancel, retry while pay is down, privacy', async ({ browser, request }) => {
  const [r1, r2] = freshRooms()

  // A room manager signs in through the issuer's form and registers two rooms.
  const manager = await signIn(browser, 'boss', 'Room manager', undefined, { audit: true })
  await nav(manager.page, 'Manage').click()
  await expect(manager.page.getByRole('heading', { name: 'Register a room' })).toBeVisible()
  for (const n of [r1, r2]) {
    await manager.page.getByLabel('Room number').fill(String(n))
    await manager.page.getByRole('button', { name: 'Register room' }).click()
    await expect(manager.page.getByTestId('register-message')).toHaveText(`Room ${n} is registered.`)
  }
  await expect(manager.page.getByTestId('health-panel').getByTestId('health-conference')).toBeVisible()
  await shot(manager.page, 'manager-registered-rooms')
  await expectAccessible(manager.page, 'the Manage page')

  // Someone not signed in, on a phone-sized screen, watches the board.
  const watcher = await visitor(browser, { width: 375, height: 812 })
  const watchedRoom = (n: number) => watcher.page.getByTestId(`room-${n}`)
  await expect(watchedRoom(r1)).toHaveAttribute('data-status', 'EMPTY')
  await expect(watchedRoom(r2)).toHaveAttribute('data-status', 'EMPTY')
  await expect(watcher.page.getByTestId('live-indicator')).toHaveAttribute('data-state', 'live')
  await mark(watcher.page)
  await expectFitsWidth(watcher.page, 375)
  await shot(watcher.page, 'watcher-board-empty')
  await expectAccessible(watcher.page, 'the room board on a phone')

  // A customer books room 1 and sees it become ASSIGNED without reloading.
  const alice = await signIn(browser, `alice-${r1}`, 'Customer')
  await mark(alice.page)
  const book1 = alice.page.getByRole('button', { name: `Book room ${r1}` })
  await expect(book1).toBeEnabled()
  await book1.click()
  await expect(alice.page).toHaveURL(/#\/bookings\/\d+$/)
  const firstId = Number(/#\/bookings\/(\d+)$/.exec(alice.page.url())![1])
  await expect(alice.page.getByTestId('booking-status')).toHaveText('ASSIGNED')
  await expect(alice.page.getByTestId('booking-payment')).toContainText('PAID')
  await expectNotReloaded(alice.page)
  await shot(alice.page, 'customer-booking-assigned')
  await expectAccessible(alice.page, 'a booking page')

  // The watcher's board turned FULL live. The board also re-reads every 30 s by itself (for
  // rooms registered, which make no notification): with the usual 30 s timeout that re-read
  // alone would pass. Within 15 s the change must come from the stream
  // (/notifications/stream), or a broken stream fails here on most runs.
  await expect(watchedRoom(r1)).toHaveAttribute('data-status', 'FULL', { timeout: 15_000 })
  await expect(watchedRoom(r1).getByTestId('room-used')).toHaveText('Used 1 time')
  await expect(watcher.page.getByTestId('notifications')).toContainText(`Room ${r1} is assigned to conference ${firstId}.`)
  await expectNotReloaded(watcher.page)
  await shot(watcher.page, 'watcher-board-full')

  // The customer cancels with the keyboard (and confirms); both see the room EMPTY again.
  await alice.page.getByRole('button', { name: `Cancel booking ${firstId}` }).focus()
  await alice.page.keyboard.press('Enter')
  await expect(alice.page.getByRole('button', { name: 'Yes, cancel it' })).toBeFocused()
  await expectAccessible(alice.page, 'the cancel confirmation')
  await alice.page.keyboard.press('Enter')
  await expect(alice.page.getByTestId('booking-status')).toHaveText('CANCELED')
  await expect(alice.page.getByTestId('booking-payment')).toContainText('CANCELED')
  await shot(alice.page, 'customer-booking-canceled')
  // Live again: within 15 s, well under the board's 30 s re-read (see above).
  await expect(watchedRoom(r1)).toHaveAttribute('data-status', 'EMPTY', { timeout: 15_000 })
  await nav(alice.page, 'Rooms').click()
  await expect(alice.page.getByTestId(`room-${r1}`)).toHaveAttribute('data-status', 'EMPTY')
  await expectNotReloaded(watcher.page)
  await shot(watcher.page, 'watcher-board-empty-again')

  // Pay stops: booking room 2 shows the retry message, and succeeds once pay is back.
  // Every POST /conferences the page sends is recorded, with its Idempotency-Key.
  const sent: { room: number; key: string | undefined }[] = []
  alice.page.on('request', (req) => {
    if (req.method() !== 'POST' || new URL(req.url()).pathname !== '/conferences') return
    sent.push({ room: Number((req.postDataJSON() as { roomNumber?: number } | null)?.roomNumber), key: req.headers()['idempotency-key'] })
  })
  let secondId = 0
  service('pay', 'stop')
  try {
    await alice.page.getByRole('button', { name: `Book room ${r2}` }).click()
    await expect(alice.page.getByTestId('retry-status')).toContainText(/trying again in \d+ s/)
    await expect(alice.page.getByTestId('retry-status')).toContainText(/Payments are/)
    await shot(alice.page, 'customer-retrying-pay-down')
    await expectAccessible(alice.page, 'the retry message')
  } finally {
    service('pay', 'start')
  }
  await expect(alice.page).toHaveURL(/#\/bookings\/\d+$/, { timeout: 90_000 })
  secondId = Number(/#\/bookings\/(\d+)$/.exec(alice.page.url())![1])
  await expect(alice.page.getByTestId('booking-room')).toHaveText(String(r2))
  await expect(alice.page.getByTestId('booking-status')).toHaveText('ASSIGNED')
  await expectNotReloaded(alice.page)
  await shot(alice.page, 'customer-booking-assigned-after-retry')
  await expect(watchedRoom(r2)).toHaveAttribute('data-status', 'FULL')
  // The retry sent the very same request again: two attempts at least (one refused while pay
  // was stopped), all with one Idempotency-Key.
  const attempts = sent.filter((a) => a.room === r2)
  expect(attempts.length, 'attempts to book room 2').toBeGreaterThanOrEqual(2)
  expect(attempts.every((a) => typeof a.key === 'string' && a.key.length > 0)).toBe(true)
  expect(new Set(attempts.map((a) => a.key)).size, 'distinct Idempotency-Keys').toBe(1)

  // Exactly one booking of room 2: in the page's list ...
  await nav(alice.page, 'My bookings').click()
  await expect(alice.page.getByTestId(`booking-row-${secondId}`)).toHaveAttribute('data-status', 'ASSIGNED')
  await expect(alice.page.getByTestId(`booking-row-${firstId}`)).toHaveAttribute('data-status', 'CANCELED')
  await expect(alice.page.getByTestId('my-bookings').locator(`tbody tr[data-room="${r2}"]`)).toHaveCount(1)
  await shot(alice.page, 'customer-my-bookings')
  await expectAccessible(alice.page, 'My bookings')
  // The attempts refused while pay was down are kept as FAILED (never charged), shown on request.
  const showFailed = alice.page.getByTestId('show-failed')
  if (await showFailed.count()) {
    await showFailed.check()
    const failed = alice.page.getByTestId('my-bookings').locator(`tbody tr[data-room="${r2}"][data-status="FAILED"]`)
    await expect(alice.page.getByTestId('my-bookings').locator(`tbody tr[data-room="${r2}"]`)).toHaveCount(1 + (await failed.count()))
    await shot(alice.page, 'customer-my-bookings-with-failed-attempts')
  }

  // ... and through the API, with the page's own token (failed attempts were never charged).
  const aliceToken = await tokenOf(alice.page)
  const mine = await request.get('/conferences?size=1000', { headers: { Authorization: `Bearer ${aliceToken}` } })
  expect(mine.status()).toBe(200)
  const bookings = ((await mine.json())._embedded?.conferences ?? []) as { conferenceId: number; roomNumber: number; status: string }[]
  const ofRoom2 = bookings.filter((b) => b.roomNumber === r2 && b.status !== 'FAILED')
  expect(ofRoom2.map((b) => [b.conferenceId, b.status])).toEqual([[secondId, 'ASSIGNED']])
  const pays = await request.get('/pays?size=1000', { headers: { Authorization: `Bearer ${aliceToken}` } })
  const payments = ((await pays.json())._embedded?.pays ?? []) as { conferenceId: number; status: string }[]
  expect(payments.filter((p) => p.conferenceId === secondId).map((p) => p.status)).toEqual(['PAID'])

  // Another customer sees none of it.
  const bob = await signIn(browser, `bob-${r1}`, 'Customer', { width: 375, height: 812 })
  await nav(bob.page, 'My bookings').click()
  await expect(bob.page.getByTestId('my-bookings')).toContainText('No bookings yet.')
  await expect(bob.page.getByTestId(`booking-row-${secondId}`)).toHaveCount(0)
  await expectFitsWidth(bob.page, 375)
  await bob.page.goto(`/#/bookings/${secondId}`)
  await expect(bob.page.getByTestId('booking-problem')).toContainText('does not exist, or it is not yours')
  await shot(bob.page, 'other-customer-sees-nothing')
  await expectAccessible(bob.page, 'a booking that is not yours')

  // The manager sees every booking and payment, and the feed.
  await manager.page.reload()
  await expect(manager.page.getByTestId('all-bookings')).toBeVisible()
  await expect(manager.page.getByTestId('notifications')).toContainText(`Room ${r2} is assigned to conference ${secondId}.`)
  await shot(manager.page, 'manager-overview')
  await expectAccessible(manager.page, 'the Manage page with bookings, payments and the feed')

  for (const p of [manager, watcher, alice, bob]) await p.context.close()
})

test('a token the API refuses ends the session with a clear message', async ({ browser }) => {
  const person = await visitor(browser)
  // A well-formed token with a bad signature: the API answers 401.
  const payload = Buffer.from(JSON.stringify({ sub: 'mallory', role: 'customer', exp: Math.floor(Date.now() / 1000) + 3600 })).toString('base64url')
  await person.page.evaluate((t) => sessionStorage.setItem('hifive.token', t), `eyJhbGciOiJFZERTQSJ9.${payload}.AAAA`)
  await person.page.goto('/#/mine')
  await person.page.reload()
  await expect(person.page.getByTestId('session-ended')).toContainText('Your session has ended — sign in again')
  await shot(person.page, 'session-ended')
  await expectAccessible(person.page, 'the session-ended message')
  await person.context.close()
})
