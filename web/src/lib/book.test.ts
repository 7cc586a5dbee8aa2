import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { afterStopping, book, bookingAttempt, stopBooking } from './book'
import { session } from './session'

interface Sent {
  key: string | null
  auth: string | null
  body: string
}

function answer(status: number, body: unknown, headers: Record<string, string> = {}) {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } })
}

describe('booking a room through the page', () => {
  let sent: Sent[]
  beforeEach(() => {
    vi.useFakeTimers()
    sent = []
    session.token = 'tok'
    session.identity = { user: 'alice', roles: ['customer'] }
  })
  afterEach(() => {
    vi.useRealTimers()
    vi.unstubAllGlobals()
  })

  function serve(...answers: (() => Response)[]) {
    let i = 0
    vi.stubGlobal(
      'fetch',
      vi.fn(async (_url: string, init: RequestInit) => {
        const h = init.headers as Record<string, string>
        sent.push({ key: h['Idempotency-Key'] ?? null, auth: h.Authorization ?? null, body: String(init.body) })
        const next = answers[Math.min(i++, answers.length - 1)]
        return next()
      }),
    )
  }

  it('counts down Retry-After, then sends the same request with the same key', async () => {
    serve(
      () => answer(503, { error: 'payment_unavailable', detail: 'pay is down' }, { 'Retry-After': '3' }),
      () => answer(503, { error: 'payment_busy', detail: 'breaker open' }, { 'Retry-After': '2' }),
      () => answer(201, { conferenceId: 7, status: 'PAID', roomNumber: 4, payId: 9, customer: 'alice' }),
    )
    const done = book(4)
    await vi.advanceTimersByTimeAsync(0)
    expect(bookingAttempt.phase).toBe('waiting')
    expect(bookingAttempt.message).toMatch(/^Payments are unavailable.* — trying again in 3 s$/)
    const spoken = bookingAttempt.announcement
    expect(spoken).toBe(bookingAttempt.message)
    await vi.advanceTimersByTimeAsync(1000)
    expect(bookingAttempt.message).toMatch(/trying again in 2 s$/)
    expect(bookingAttempt.announcement, 'a countdown is not read out each second').toBe(spoken)
    await vi.advanceTimersByTimeAsync(2000)
    expect(bookingAttempt.message).toBe('Payments are busy; nothing was booked or charged — trying again in 2 s')
    await vi.advanceTimersByTimeAsync(2000)
    const booking = await done
    expect(booking?.conferenceId).toBe(7)
    expect(bookingAttempt.phase).toBe('booked')
    // The key is made by book() (the test supplies none) and kept across the retries.
    expect(sent).toHaveLength(3)
    expect(sent[0].key).toMatch(/^[0-9a-f-]{36}$/)
    expect(sent.map((s) => s.key)).toEqual([bookingAttempt.key, bookingAttempt.key, bookingAttempt.key])
    expect(sent.every((s) => s.auth === 'Bearer tok' && s.body === '{"roomNumber":4}')).toBe(true)
  })

  it('uses a new key for a new booking', async () => {
    serve(() => answer(201, { conferenceId: 1, status: 'PAID', roomNumber: 1 }))
    await book(1)
    await book(1)
    expect(sent[0].key).not.toBe(sent[1].key)
  })

  it('stops at a final refusal with its message', async () => {
    serve(() => answer(404, { error: 'not_found', detail: 'no route' }))
    expect(await book(2)).toBeNull()
    expect(bookingAttempt.phase).toBe('failed')
    expect(sent).toHaveLength(1)
  })

  it('ends the session on 401', async () => {
    serve(() => answer(401, { error: 'unauthorized', detail: 'expired' }))
    expect(await book(3)).toBeNull()
    expect(bookingAttempt.message).toBe('Your session has ended — sign in again.')
    expect(session.token).toBeNull()
    expect(session.ended).toBe('Your session has ended — sign in again.')
  })

  it('says when HiFive cannot be reached, and keeps trying', async () => {
    let calls = 0
    vi.stubGlobal(
      'fetch',
      vi.fn(async () => {
        calls++
        if (calls === 1) throw new TypeError('Failed to fetch')
        return answer(201, { conferenceId: 5, status: 'PAID', roomNumber: 5 })
      }),
    )
    const done = book(5)
    await vi.advanceTimersByTimeAsync(0)
    expect(bookingAttempt.message).toBe('Cannot reach HiFive — trying again in 3 s')
    await vi.advanceTimersByTimeAsync(3000)
    expect((await done)?.conferenceId).toBe(5)
  })

  describe('when the person stops trying', () => {
    async function stopAfter(answer: () => Response | never) {
      vi.stubGlobal('fetch', vi.fn(async () => answer()))
      const done = book(6)
      await vi.advanceTimersByTimeAsync(0)
      expect(bookingAttempt.phase).toBe('waiting')
      stopBooking()
      await vi.advanceTimersByTimeAsync(1000)
      expect(await done).toBeNull()
      expect(bookingAttempt.phase).toBe('stopped')
      return bookingAttempt.message
    }

    it('does not say nothing was booked after a request still in flight', async () => {
      const said = await stopAfter(() => answer(409, { error: 'idempotency_key_in_flight' }, { 'Retry-After': '1' }))
      expect(said).toBe('Stopped trying. If a booking went through, it is in My bookings.')
      expect(said).not.toMatch(/nothing/i)
    })

    it('does not say nothing was booked after a network failure', async () => {
      const said = await stopAfter(() => {
        throw new TypeError('Failed to fetch')
      })
      expect(said).toBe('Stopped trying. If a booking went through, it is in My bookings.')
    })

    it('says nothing was booked or charged only where the API said so', async () => {
      expect(await stopAfter(() => answer(503, { error: 'payment_busy' }, { 'Retry-After': '3' }))).toBe('Stopped trying. Nothing was booked or charged.')
      expect(await stopAfter(() => answer(503, { error: 'payment_unavailable' }, { 'Retry-After': '3' }))).toBe('Stopped trying. Nothing was charged.')
      expect(afterStopping({ status: 503, code: 'upstream_unavailable' })).toMatch(/^If a booking went through/)
      expect(afterStopping(null)).toMatch(/^If a booking went through/)
    })

    it('when it gives up after network failures, it sends the person to look', async () => {
      vi.stubGlobal('fetch', vi.fn(async () => Promise.reject(new TypeError('Failed to fetch'))))
      const done = book(7)
      await vi.advanceTimersByTimeAsync(200_000)
      expect(await done).toBeNull()
      expect(bookingAttempt.phase).toBe('failed')
      expect(bookingAttempt.message).toBe('Cannot reach HiFive — stopped trying. If a booking went through, it is in My bookings.')
    })
  })
})
