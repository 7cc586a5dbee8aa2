import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createApp, nextTick } from 'vue'
import { createMemoryHistory, createRouter } from 'vue-router'
import BoardView from './BoardView.vue'
import { bookingAttempt, clearBooking } from '../lib/book'
import { session } from '../lib/session'

function json(status: number, body: unknown, headers: Record<string, string> = {}) {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } })
}

describe('booking from the board', () => {
  beforeEach(() => {
    vi.useFakeTimers()
    session.token = 'tok'
    session.identity = { user: 'alice', roles: ['customer'] }
  })
  afterEach(() => {
    vi.useRealTimers()
    vi.unstubAllGlobals()
    clearBooking()
  })

  it('stops retrying when the person leaves the page, and does not take them to the booking', async () => {
    let posts = 0
    vi.stubGlobal(
      'fetch',
      vi.fn(async (url: string, init?: RequestInit) => {
        if (init?.method === 'POST') {
          posts++
          return posts === 1
            ? json(503, { error: 'payment_busy' }, { 'Retry-After': '3' })
            : json(201, { conferenceId: 7, status: 'PAID', roomNumber: 1, payId: 2, customer: 'alice' })
        }
        expect(url).toMatch(/^\/roomStates/)
        return json(200, { _embedded: { roomStates: [{ roomNumber: 1, roomStatus: 'EMPTY', usedCount: 0 }] }, page: { size: 1000, totalElements: 1, totalPages: 1, number: 0 } })
      }),
    )
    const router = createRouter({
      history: createMemoryHistory(),
      routes: [
        { path: '/', component: BoardView },
        { path: '/:rest(.*)*', component: { template: '<p/>' } },
      ],
    })
    const root = document.createElement('div')
    document.body.appendChild(root)
    const app = createApp({ template: '<RouterView />' })
    app.use(router)
    await router.push('/')
    app.mount(root)
    await vi.advanceTimersByTimeAsync(0)
    await nextTick()
    root.querySelector<HTMLButtonElement>('button[aria-label="Book room 1"]')!.click()
    await vi.advanceTimersByTimeAsync(0)
    expect(bookingAttempt.phase).toBe('waiting')
    await router.push('/mine')
    await vi.advanceTimersByTimeAsync(10_000)
    expect(posts, 'no retry after leaving').toBe(1)
    expect(bookingAttempt.phase).toBe('stopped')
    expect(router.currentRoute.value.path).toBe('/mine')
    app.unmount()
  })
})
