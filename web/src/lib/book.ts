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

/** Books `roomNumber`; resolves with the booking (201) or null (the message says why). */
export async function book(roomNumber: number): Promise<Booking | null> {
  controller?.abort()
  controller = new AbortController()
  const key = newIdempotencyKey()
  let announced = ''
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
        return r.ok ? { ok: true, value: r.value.data } : r
      },
      {
        signal: controller.signal,
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
    Object.assign(bookingAttempt, { phase: 'failed', problem: outcome.problem, message: explain(outcome.problem).message(0).replace(/ — trying again in \d+ s$/, ' — please try again later.') })
    return null
  } catch (e) {
    if (e instanceof Stopped) {
      Object.assign(bookingAttempt, { phase: 'stopped', message: 'Stopped trying. Nothing was booked by the attempts that failed.' })
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
