import { describe, expect, it } from 'vitest'
import { readSystemHealth } from './health'

describe('the health panel', () => {
  it('shows the breaker, the admission, the outbox and the consumer', () => {
    const services = readSystemHealth({
      services: [
        {
          name: 'conference',
          url: 'http://127.0.0.1:8081',
          ready: true,
          error: null,
          health: {
            status: 'UP',
            components: {
              db: { status: 'UP' },
              outbox: { status: 'UP', pending: 3, oldestAgeSeconds: 0.4 },
              kafka: { status: 'BEHIND', lag: 12, lagSeconds: 0.52, stalled: false },
              payCircuitBreaker: { status: 'OPEN', transitions: 2, maxConcurrent: 64 },
              sagaAdmission: { status: 'REFUSING', reason: 'the saga is behind' },
            },
          },
        },
        { name: 'pay', url: 'http://127.0.0.1:8082', ready: false, health: null, error: 'connection refused' },
      ],
    })
    expect(services).toHaveLength(2)
    const [conference, pay] = services
    expect(conference.ready).toBe(true)
    expect(conference.facts).toEqual([
      { label: 'Database', value: 'UP', tone: 'ok' },
      { label: 'Payment breaker', value: 'OPEN (2 transitions)', tone: 'bad' },
      { label: 'Saga admission', value: 'REFUSING: the saga is behind', tone: 'bad' },
      { label: 'Outbox', value: '3 pending, oldest 0.4 s', tone: 'ok' },
      { label: 'Consumer', value: 'BEHIND, lag 12 (0.5 s)', tone: 'warn' },
    ])
    expect(pay).toEqual({ name: 'pay', ready: false, status: 'DOWN', facts: [], error: 'connection refused' })
  })

  it('survives odd answers', () => {
    expect(readSystemHealth(null)).toEqual([])
    expect(readSystemHealth({ services: 'no' })).toEqual([])
    const [s] = readSystemHealth({ services: [{ ready: true, health: { components: { kafka: { stalled: true } } } }] })
    expect(s.name).toBe('service 1')
    expect(s.facts).toEqual([{ label: 'Consumer', value: '?, stalled', tone: 'bad' }])
  })
})
