import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createApp, nextTick } from 'vue'
import { createMemoryHistory, createRouter } from 'vue-router'
import BookingView from './BookingView.vue'
import { session } from '../lib/session'

function json(status: number, body: unknown) {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } })
}

async function mount(id: string) {
  const router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: '/bookings/:id', component: BookingView, props: true },
      { path: '/:rest(.*)*', component: { template: '<p/>' } },
    ],
  })
  const root = document.createElement('div')
  document.body.appendChild(root)
  const app = createApp({ template: '<RouterView />' })
  app.use(router)
  await router.push(`/bookings/${id}`)
  app.mount(root)
  return { root, router, unmount: () => app.unmount() }
}

async function settle(ms: number) {
  await vi.advanceTimersByTimeAsync(ms)
  await nextTick()
}

describe('following a booking', () => {
  beforeEach(() => {
    vi.useFakeTimers()
    session.token = 'tok'
    session.identity = { user: 'alice', roles: ['customer'] }
  })
  afterEach(() => {
    vi.useRealTimers()
    vi.unstubAllGlobals()
  })

  it('shows PAID, then ASSIGNED without a reload, and stops reading', async () => {
    const statuses = ['PAID', 'PAID', 'ASSIGNED']
    let reads = 0
    vi.stubGlobal(
      'fetch',
      vi.fn(async (url: string) => {
        if (url.startsWith('/pays/')) return json(200, { payId: 3, status: 'PAID', conferenceId: 9, roomNumber: 2, customer: 'alice' })
        const status = statuses[Math.min(reads++, statuses.length - 1)]
        return json(200, { conferenceId: 9, status, payId: 3, roomNumber: 2, customer: 'alice' })
      }),
    )
    const { root, unmount } = await mount('9')
    await settle(0)
    const status = () => root.querySelector('[data-testid="booking-status"]')?.textContent
    expect(status()).toBe('PAID')
    expect(root.querySelector('[aria-current="step"]')?.textContent).toMatch(/Room assigned/)
    await settle(1000)
    expect(status()).toBe('PAID')
    await settle(1000)
    expect(status()).toBe('ASSIGNED')
    expect(root.querySelector('[data-testid="booking-history"]')?.textContent).toBe('Seen: PAID → ASSIGNED')
    expect(root.querySelector('[data-testid="booking-payment"]')?.textContent).toMatch(/Payment 3: PAID/)
    expect(root.querySelector('button')?.getAttribute('aria-label')).toBe('Cancel booking 9')
    await settle(5000)
    expect(reads).toBe(3)
    unmount()
  })

  it('says a booking that is not yours is not found, and stops', async () => {
    const fetch = vi.fn(async () => json(404, { error: 'not_found', detail: 'conference 9 does not exist' }))
    vi.stubGlobal('fetch', fetch)
    const { root, unmount } = await mount('9')
    await settle(3000)
    expect(root.querySelector('[data-testid="booking-problem"]')?.textContent).toMatch(/does not exist, or it is not yours/)
    expect(fetch).toHaveBeenCalledTimes(1)
    unmount()
  })

  it('does not show a late answer for the booking it showed before the id changed', async () => {
    vi.stubGlobal(
      'fetch',
      vi.fn(async (url: string) => {
        if (url === '/conferences/9') {
          await new Promise((resolve) => setTimeout(resolve, 3000))
          return json(200, { conferenceId: 9, status: 'PAID', payId: 3, roomNumber: 2, customer: 'alice' })
        }
        if (url.startsWith('/pays/')) return json(200, { payId: 3, status: 'PAID', conferenceId: 9, roomNumber: 2, customer: 'alice' })
        return json(200, { conferenceId: 10, status: 'ASSIGNED', payId: null, roomNumber: 5, customer: 'alice' })
      }),
    )
    const { root, router, unmount } = await mount('9')
    await settle(0)
    await router.push('/bookings/10')
    await settle(0)
    const room = () => root.querySelector('[data-testid="booking-room"]')?.textContent
    expect(room()).toBe('5')
    await settle(3000)
    expect(root.querySelector('h1')?.textContent).toBe('Booking 10')
    expect(room(), 'the answer about booking 9 came late: not shown').toBe('5')
    expect(root.querySelector('[data-testid="booking-status"]')?.textContent).toBe('ASSIGNED')
    expect(root.querySelector('[data-testid="booking-payment"]')).toBeNull()
    await settle(5000)
    expect(room()).toBe('5')
    unmount()
  })

  it('after a cancel, the focus goes to what happened (the confirmation it was on is gone)', async () => {
    let canceled = false
    vi.stubGlobal(
      'fetch',
      vi.fn(async (url: string, init?: RequestInit) => {
        if (init?.method === 'DELETE') {
          canceled = true
          return json(200, { conferenceId: 9, status: 'CANCELED', payId: 3, roomNumber: 2 })
        }
        if (url.startsWith('/pays/')) return json(200, { payId: 3, status: canceled ? 'CANCELED' : 'PAID', conferenceId: 9, roomNumber: 2, customer: 'alice' })
        return json(200, { conferenceId: 9, status: canceled ? 'CANCELED' : 'ASSIGNED', payId: 3, roomNumber: 2, customer: 'alice' })
      }),
    )
    const { root, unmount } = await mount('9')
    await settle(0)
    root.querySelector<HTMLButtonElement>('button[aria-label="Cancel booking 9"]')!.click()
    await settle(0)
    const yes = [...root.querySelectorAll('button')].find((b) => b.textContent === 'Yes, cancel it')!
    expect(document.activeElement).toBe(yes)
    yes.click()
    await settle(0)
    await settle(0)
    expect(root.querySelector('[data-testid="booking-status"]')?.textContent).toBe('CANCELED')
    expect(yes.isConnected).toBe(false)
    expect(document.activeElement?.getAttribute('data-testid')).toBe('booking-note')
    unmount()
  })
})
