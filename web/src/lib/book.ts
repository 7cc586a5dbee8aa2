// Booking a room from the page: one Idempotency-Key per attempt (made when the person presses
// "Book"), repeated as is while the API invites a retry, with a countdown to show.

import { reactive } from 'vue'
import { call, newIdempotencyKey } from './api'
import type { Booking } from './booking'
import { explain, type ApiProblem } from './errors'
import { Stopped, withRetry, type Outcome } from './retry'

export type BookingPhase = 'idle' | 'sending' | 'waiting' | 'booked' | 'failed' | 'stopped'

export const bookingAttempt = reactive({
  phase: 'idle' as BookingPhase,
  roomNumber: 0,
  key: '',
  attempts: 0,
  message: '',
  /** What screen readers hear: the message, but not each second of a countdown. */
  announcement: '',
  problem: null as ApiProblem | null,
  booking: null as Booking | null,
})

let controller: AbortController | null = null

const MAYBE_BOOKED = 'If a booking went through, it is in My bookings.'

/**
 * What is known once retrying stops, from the last refusal: only where the API said that
 * nothing was booked (or charged) is it said. A request still in flight (409
 * `idempotency_key_in_flight`), an unreachable HiFive or a gateway's 502/503/504 may have
 * booked: the person is sent to look.
 */
export function afterStopping(problem: ApiProblem | null): string {
  switch (problem?.code) {
    case 'payment_busy':
      return 'Nothing was booked or charged.'
    case 'payment_unavailable':
      return 'Nothing was charged.'
    case 'saga_busy':
      return 'Nothing was booked.'
  }
  return MAYBE_BOOKED
}

/** Books `roomNumber`; resolves with the booking (201) or null (the message says why). */
export async function book(roomNumber: number): Promise<Booking | null> {
  controller?.abort()
  const mine = new AbortController()
  controller = mine
  const key = newIdempotencyKey()
  let announced = ''
  let last: ApiProblem | null = null
  Object.assign(bookingAttempt, { phase: 'sending', roomNumber, key, attempts: 0, message: `Booking room ${roomNumber}…`, announcement: '', problem: null, booking: null })
  try {
    const outcome: Outcome<Booking> = await withRetry(
      async (n) => {
        bookingAttempt.attempts = n
        if (n > 1) {
          bookingAttempt.phase = 'sending'
          bookingAttempt.message = `Booking room ${roomNumber}… (attempt ${n})`
        }
        const r = await call<Booking>('POST', '/conferences', { body: { roomNumber }, idempotencyKey: key })
        if (!r.ok) last = r.problem
        return r.ok ? { ok: true, value: r.value.data } : r
      },
      {
        signal: mine.signal,
        onWait: (problem, left) => {
          const explained = explain(problem)
          bookingAttempt.phase = 'waiting'
          bookingAttempt.problem = problem
          bookingAttempt.message = explained.message(left)
          if (problem.code !== announced) {
            announced = problem.code
            bookingAttempt.announcement = bookingAttempt.message
          }
        },
      },
    )
    if (outcome.ok) {
      Object.assign(bookingAttempt, { phase: 'booked', booking: outcome.value, problem: null, message: `Room ${roomNumber} booked: booking ${outcome.value.conferenceId}, ${outcome.value.status}.` })
      return outcome.value
    }
    const explained = explain(outcome.problem)
    // Gave up: the API's own words (which say what was not booked or charged, when it knows).
    const said = explained.message(0).replace(/ — trying again in \d+ s$/, '')
    const unknown = afterStopping(outcome.problem) === MAYBE_BOOKED
    const failed = !explained.retryable ? said : unknown ? `${said} — stopped trying. ${MAYBE_BOOKED}` : `${said} — stopped trying.`
    Object.assign(bookingAttempt, { phase: 'failed', problem: outcome.problem, message: failed })
    return null
  } catch (e) {
    if (e instanceof Stopped) {
      // A newer booking stopped this one: the newer one tells its own story.
      if (controller !== mine) return null
      Object.assign(bookingAttempt, { phase: 'stopped', message: `Stopped trying. ${afterStopping(last)}` })
      return null
    }
    throw e
  }
}

export function stopBooking(): void {
  controller?.abort()
}

export function clearBooking(): void {
  if (bookingAttempt.phase === 'waiting' || bookingAttempt.phase === 'sending') return
  Object.assign(bookingAttempt, { phase: 'idle', message: '', problem: null, booking: null })
}
