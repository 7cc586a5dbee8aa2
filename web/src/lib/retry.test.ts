import { describe, expect, it } from 'vitest'
import type { ApiProblem } from './errors'
import { Stopped, nextWait, withRetry, type Outcome } from './retry'

const busy: ApiProblem = { status: 503, code: 'payment_busy', retryAfter: 3 }
const unavailable: ApiProblem = { status: 503, code: 'payment_unavailable', retryAfter: 5 }
const notFound: ApiProblem = { status: 404, code: 'not_found' }

/**
 * A scripted server: answers in turn, recording which attempt each request was. The
 * Idempotency-Key is not withRetry's business (it repeats the caller's request as is): that
 * the page keeps one key across retries is tested where the key is made, in book.test.ts,
 * from the headers of the requests it sends.
 */
function server<T>(answers: Outcome<T>[]) {
  const attempts: number[] = []
  let i = 0
  return {
    attempts,
    send: async (n: number) => {
      attempts.push(n)
      return answers[Math.min(i++, answers.length - 1)]
    },
  }
}

function fakeClock() {
  let now = 0
  return { sleep: async (ms: number) => void (now += ms), elapsed: () => now }
}

describe('nextWait', () => {
  it('waits what Retry-After says, within bounds', () => {
    expect(nextWait(busy, 1, 0)).toBe(3)
    expect(nextWait({ ...busy, retryAfter: 0 }, 1, 0)).toBe(1)
    expect(nextWait({ ...busy, retryAfter: 600 }, 1, 0, { capSeconds: 30 })).toBe(30)
    expect(nextWait(busy, 1, 0, { maxAttempts: 1 })).toBeNull()
    expect(nextWait(busy, 2, 178, { maxWaitSeconds: 180 })).toBeNull()
    expect(nextWait(notFound, 1, 0)).toBeNull()
  })
})

describe('withRetry', () => {
  it('repeats the request until it is accepted, counting down', async () => {
    const s = server<string>([
      { ok: false, problem: unavailable },
      { ok: false, problem: busy },
      { ok: true, value: 'booked' },
    ])
    const clock = fakeClock()
    const shown: string[] = []
    const outcome = await withRetry(s.send, {
      sleep: clock.sleep,
      onWait: (p, left, attempt) => shown.push(`${attempt}:${p.code}:${left}`),
    })
    expect(outcome).toEqual({ ok: true, value: 'booked' })
    expect(s.attempts).toEqual([1, 2, 3])
    expect(shown).toEqual([
      '1:payment_unavailable:5', '1:payment_unavailable:4', '1:payment_unavailable:3', '1:payment_unavailable:2', '1:payment_unavailable:1',
      '2:payment_busy:3', '2:payment_busy:2', '2:payment_busy:1',
    ])
    expect(clock.elapsed()).toBe(8000)
  })

  it('does not retry a final refusal', async () => {
    const s = server<string>([{ ok: false, problem: notFound }])
    const outcome = await withRetry(s.send, { sleep: fakeClock().sleep })
    expect(outcome).toEqual({ ok: false, problem: notFound })
    expect(s.attempts).toHaveLength(1)
  })

  it('gives up after its attempts, with the last problem', async () => {
    const s = server<string>([{ ok: false, problem: busy }])
    const outcome = await withRetry(s.send, { sleep: fakeClock().sleep, maxAttempts: 4 })
    expect(outcome.ok).toBe(false)
    expect(s.attempts).toHaveLength(4)
  })

  it('retries a key in flight (409) and a network failure', async () => {
    const s = server<string>([
      { ok: false, problem: { status: 0, code: 'network' } },
      { ok: false, problem: { status: 409, code: 'idempotency_key_in_flight', retryAfter: 1 } },
      { ok: true, value: 'replayed' },
    ])
    const outcome = await withRetry(s.send, { sleep: fakeClock().sleep })
    expect(outcome).toEqual({ ok: true, value: 'replayed' })
    expect(s.attempts).toEqual([1, 2, 3])
  })

  it('stops when asked', async () => {
    const controller = new AbortController()
    const s = server<string>([{ ok: false, problem: busy }])
    const run = withRetry(s.send, {
      signal: controller.signal,
      sleep: async () => controller.abort(),
    })
    await expect(run).rejects.toBeInstanceOf(Stopped)
    expect(s.attempts).toHaveLength(1)
  })
})
