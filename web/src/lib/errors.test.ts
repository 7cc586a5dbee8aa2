import { describe, expect, it } from 'vitest'
import { explain, networkProblem, parseRetryAfter, problemFrom } from './errors'

describe('problemFrom', () => {
  it('reads the API error shape and Retry-After', () => {
    const p = problemFrom(503, { error: 'payment_busy', detail: 'breaker open' }, '2')
    expect(p).toEqual({ status: 503, code: 'payment_busy', detail: 'breaker open', retryAfter: 2 })
  })
  it('names a code for a body without the shape', () => {
    expect(problemFrom(502, 'Bad Gateway', null).code).toBe('http_502')
    expect(problemFrom(500, null).retryAfter).toBeUndefined()
  })
})

describe('parseRetryAfter', () => {
  it('takes seconds or an HTTP date', () => {
    expect(parseRetryAfter('5')).toBe(5)
    expect(parseRetryAfter(' 0 ')).toBe(0)
    const now = Date.parse('2026-01-01T00:00:00Z')
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:07 GMT', now)).toBe(7)
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', now)).toBe(0)
  })
  it('ignores absent or unreadable values', () => {
    expect(parseRetryAfter(null)).toBeUndefined()
    expect(parseRetryAfter('')).toBeUndefined()
    expect(parseRetryAfter('soon')).toBeUndefined()
  })
})

describe('explain', () => {
  const busy = (code: string, retryAfter?: number) => explain({ status: 503, code, retryAfter })

  it('invites a retry with a countdown for the busy answers', () => {
    for (const code of ['payment_busy', 'payment_unavailable', 'saga_busy', 'database_busy', 'upstream_unavailable']) {
      const e = busy(code, 4)
      expect(e.retryable, code).toBe(true)
      expect(e.kind).toBe('retry')
      expect(e.waitSeconds).toBe(4)
      expect(e.message(3)).toMatch(/trying again in 3 s$/)
    }
    expect(busy('payment_busy', 2).message(2)).toBe('Payments are busy; nothing was booked or charged — trying again in 2 s')
    expect(busy('payment_unavailable', 5).message()).toMatch(/^Payments are unavailable.*trying again in 5 s$/)
    expect(busy('saga_busy').waitSeconds).toBe(2)
  })

  it('retries a key in flight and the rate limit', () => {
    const inFlight = explain({ status: 409, code: 'idempotency_key_in_flight', retryAfter: 1 })
    expect(inFlight.retryable).toBe(true)
    expect(inFlight.message(1)).toBe('Your request is still being carried out — trying again in 1 s')
    expect(explain({ status: 429, code: 'rate_limited', retryAfter: 1 }).retryable).toBe(true)
  })

  it('says "Cannot reach HiFive" when the network is down, and retries', () => {
    const e = explain(networkProblem('Failed to fetch'))
    expect(e.kind).toBe('network')
    expect(e.retryable).toBe(true)
    expect(e.message(3)).toBe('Cannot reach HiFive — trying again in 3 s')
  })

  it('asks to sign in again on 401', () => {
    const e = explain({ status: 401, code: 'unauthorized', detail: 'expired' })
    expect(e.kind).toBe('signin')
    expect(e.retryable).toBe(false)
    expect(e.message()).toBe('Your session has ended — sign in again.')
  })

  it('explains the refusals that are final', () => {
    expect(explain({ status: 403, code: 'forbidden', detail: 'this needs the manager role' }).message()).toBe(
      'You are not allowed to do that (this needs the manager role).',
    )
    expect(explain({ status: 404, code: 'not_found' }).message()).toMatch(/does not exist, or it is not yours/)
    expect(explain({ status: 409, code: 'room_exists' }).message()).toBe('That room is already registered.')
    expect(explain({ status: 409, code: 'not_cancelable' }).kind).toBe('conflict')
    expect(explain({ status: 409, code: 'booking_ended' }).message()).toMatch(/refunded/)
    expect(explain({ status: 409, code: 'something_new', detail: 'x' }).message()).toBe('That conflicts with the current state (x).')
    expect(explain({ status: 422, code: 'invalid_field', detail: '`roomNumber`: must be positive' }).message()).toBe(
      'HiFive could not accept that (`roomNumber`: must be positive).',
    )
    expect(explain({ status: 422, code: 'idempotency_key_reused' }).retryable).toBe(false)
    expect(explain({ status: 413, code: 'body_too_large' }).kind).toBe('invalid')
    expect(explain({ status: 500, code: 'internal' }).message()).toMatch(/Something went wrong in HiFive \(500\)/)
    for (const status of [400, 401, 403, 404, 409, 413, 422, 500]) {
      expect(explain({ status, code: `http_${status}` }).retryable, String(status)).toBe(false)
    }
  })

  it('retries an unknown 503 too', () => {
    expect(explain({ status: 503, code: 'http_503' }).retryable).toBe(true)
  })
})
