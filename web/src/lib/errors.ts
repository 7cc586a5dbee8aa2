// What an API answer that is not a success means to a person, and whether it is worth
// trying again. Pure: no fetch, no DOM (tested in errors.test.ts).

/** A refused or failed call: the API's `{"error","detail"}` plus what HTTP said. */
export interface ApiProblem {
  /** HTTP status; 0 when HiFive could not be reached at all. */
  status: number
  /** The API's `error` code (`payment_busy`, `not_found`, ...); `network` when unreachable. */
  code: string
  /** The API's `detail`, when it gave one. */
  detail?: string
  /** `Retry-After` in seconds, when given. */
  retryAfter?: number
}

export type ProblemKind =
  | 'retry' // try again after a while: the same request, the same Idempotency-Key
  | 'signin' // the session ended
  | 'forbidden'
  | 'notfound'
  | 'conflict'
  | 'invalid'
  | 'network'
  | 'server'

export interface Explained {
  kind: ProblemKind
  /** Worth repeating the very same request (with the same Idempotency-Key). */
  retryable: boolean
  /** Seconds to wait before repeating it. */
  waitSeconds: number
  /** What to tell the person; `secondsLeft` fills in a countdown. */
  message: (secondsLeft?: number) => string
}

/** Seconds to wait when a retryable answer names none. */
export const DEFAULT_WAIT_SECONDS = 2

/** `Retry-After` as seconds: a number of seconds or an HTTP date; undefined when absent or bad. */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value == null || value.trim() === '') return undefined
  const raw = value.trim()
  if (/^\d+$/.test(raw)) return Number(raw)
  const at = Date.parse(raw)
  if (Number.isNaN(at)) return undefined
  return Math.max(0, Math.ceil((at - now) / 1000))
}

/** The problem of a non-2xx answer: its JSON body when it has the API's shape. */
export function problemFrom(status: number, body: unknown, retryAfterHeader?: string | null): ApiProblem {
  const obj = body && typeof body === 'object' ? (body as Record<string, unknown>) : {}
  const code = typeof obj.error === 'string' && obj.error ? obj.error : `http_${status}`
  const detail = typeof obj.detail === 'string' ? obj.detail : undefined
  return { status, code, detail, retryAfter: parseRetryAfter(retryAfterHeader) }
}

export function networkProblem(detail?: string): ApiProblem {
  return { status: 0, code: 'network', detail }
}

function inSeconds(prefix: string, wait: number) {
  return (left?: number) => `${prefix} — trying again in ${Math.max(0, Math.ceil(left ?? wait))} s`
}

function fixed(text: string) {
  return () => text
}

function withDetail(text: string, detail?: string) {
  return detail ? `${text} (${detail})` : text
}

/** What `problem` means and what to do about it. */
export function explain(problem: ApiProblem): Explained {
  const wait = problem.retryAfter ?? DEFAULT_WAIT_SECONDS
  const retry = (prefix: string): Explained => ({
    kind: 'retry',
    retryable: true,
    waitSeconds: wait,
    message: inSeconds(prefix, wait),
  })
  const final = (kind: ProblemKind, text: string): Explained => ({
    kind,
    retryable: false,
    waitSeconds: 0,
    message: fixed(text),
  })

  if (problem.status === 0) {
    return { ...retry('Cannot reach HiFive'), kind: 'network', waitSeconds: problem.retryAfter ?? 3, message: inSeconds('Cannot reach HiFive', problem.retryAfter ?? 3) }
  }
  switch (problem.code) {
    case 'payment_busy':
      return retry('Payments are busy; nothing was booked or charged')
    case 'payment_unavailable':
      return retry('Payments are unavailable right now; nothing was charged')
    case 'saga_busy':
      return retry('HiFive is catching up with earlier bookings; nothing was booked')
    case 'database_busy':
      return retry('HiFive is busy')
    case 'upstream_unavailable':
      return retry('Part of HiFive is not answering')
    case 'rate_limited':
      return retry('Too many requests from here')
    case 'idempotency_key_in_flight':
      return retry('Your request is still being carried out')
    case 'idempotency_key_reused':
      return final('invalid', 'This request was already used for something else. Please start again.')
    case 'booking_ended':
      return final('conflict', 'The booking was cancelled while it was being paid; the payment is refunded.')
    case 'not_cancelable':
      return final('conflict', 'This booking holds no room or payment to cancel.')
    case 'room_exists':
      return final('conflict', 'That room is already registered.')
    case 'payment_refused':
      return final('conflict', 'The payment was refused.')
    case 'body_too_large':
      return final('invalid', 'The request is too large.')
  }
  switch (problem.status) {
    case 401:
      return final('signin', 'Your session has ended — sign in again.')
    case 403:
      return final('forbidden', withDetail('You are not allowed to do that', problem.detail) + '.')
    case 404:
      return final('notfound', 'Not found: it does not exist, or it is not yours.')
    case 405:
      return final('invalid', 'HiFive does not offer that here.')
    case 409:
      return final('conflict', withDetail('That conflicts with the current state', problem.detail) + '.')
    case 400:
    case 422:
      return final('invalid', withDetail('HiFive could not accept that', problem.detail) + '.')
    case 429:
      return retry('Too many requests from here')
    case 502:
    case 503:
    case 504:
      return retry('HiFive is not available just now')
  }
  if (problem.status >= 500) {
    return final('server', `Something went wrong in HiFive (${problem.status}). Please try again.`)
  }
  return final('server', withDetail(`Unexpected answer ${problem.status}`, problem.detail) + '.')
}
