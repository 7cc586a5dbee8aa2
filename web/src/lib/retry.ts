// The retry policy: repeat one request (the same body, the same Idempotency-Key) while the
// answer invites a retry, waiting what Retry-After says and counting down each second.
// Pure: time and the request are passed in (tested in retry.test.ts).

import { explain, type ApiProblem } from './errors'

/** A call's outcome: its value, or the API's problem. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; problem: ApiProblem }

export interface RetryOptions {
  /** Give up after this many attempts (the first included). */
  maxAttempts?: number
  /** Give up once this many seconds were spent waiting in all. */
  maxWaitSeconds?: number
  /** Longest single wait, whatever Retry-After says. */
  capSeconds?: number
  /** Called before each wait and then each second: the problem and the seconds left. */
  onWait?: (problem: ApiProblem, secondsLeft: number, attempt: number) => void
  /** Waits `ms` (a test passes a fake clock). */
  sleep?: (ms: number) => Promise<void>
  /** Stops retrying (the person pressed "Stop trying"). */
  signal?: AbortSignal
}

export const DEFAULTS = { maxAttempts: 30, maxWaitSeconds: 180, capSeconds: 30 }

/** How long to wait before attempt `attempt + 1` after `problem`, or null not to retry. */
export function nextWait(problem: ApiProblem, attempt: number, waitedSoFar: number, options: RetryOptions = {}): number | null {
  const { maxAttempts, maxWaitSeconds, capSeconds } = { ...DEFAULTS, ...options }
  const explained = explain(problem)
  if (!explained.retryable) return null
  if (attempt >= maxAttempts) return null
  const wait = Math.min(Math.max(1, Math.ceil(explained.waitSeconds)), capSeconds)
  if (waitedSoFar + wait > maxWaitSeconds) return null
  return wait
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Thrown out of `withRetry` when its signal stops it. */
export class Stopped extends Error {
  constructor() {
    super('stopped')
  }
}

/**
 * Runs `attempt` until it succeeds, answers a problem not worth retrying, or the budget is
 * spent; returns the last outcome. `attempt` must send the same request each time (the
 * caller fixes the Idempotency-Key once, before the first attempt).
 */
export async function withRetry<T>(attempt: (n: number) => Promise<Outcome<T>>, options: RetryOptions = {}): Promise<Outcome<T>> {
  const sleep = options.sleep ?? realSleep
  let waited = 0
  for (let n = 1; ; n++) {
    if (options.signal?.aborted) throw new Stopped()
    const outcome = await attempt(n)
    if (outcome.ok) return outcome
    const wait = nextWait(outcome.problem, n, waited, options)
    if (wait === null) return outcome
    for (let left = wait; left > 0; left--) {
      if (options.signal?.aborted) throw new Stopped()
      options.onWait?.(outcome.problem, left, n)
      await sleep(1000)
    }
    waited += wait
  }
}
