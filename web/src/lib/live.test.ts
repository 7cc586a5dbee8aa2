import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'

/** A stand-in for the browser's EventSource that the test drives. */
class FakeEventSource {
  static CLOSED = 2
  static made: FakeEventSource[] = []
  readyState = 0
  listeners: Record<string, ((e: unknown) => void)[]> = {}
  constructor(public url: string) {
    FakeEventSource.made.push(this)
  }
  addEventListener(type: string, listener: (e: unknown) => void) {
    ;(this.listeners[type] ??= []).push(listener)
  }
  fire(type: string, data?: unknown) {
    for (const l of this.listeners[type] ?? []) l(data === undefined ? {} : { data: JSON.stringify(data) })
  }
}

describe('the live stream', () => {
  beforeEach(() => {
    vi.resetModules()
    vi.useFakeTimers()
    FakeEventSource.made = []
    vi.stubGlobal('EventSource', FakeEventSource)
    vi.stubGlobal(
      'fetch',
      vi.fn(async () => new Response(JSON.stringify({ _embedded: { notifications: [] }, page: { totalPages: 0 } }), { status: 200 })),
    )
  })
  afterEach(() => {
    vi.useRealTimers()
    vi.unstubAllGlobals()
  })

  it('listens to /notifications/stream, keeps the newest first, and tells its listeners', async () => {
    const { live, onChange, startLive } = await import('./live')
    const seen: (number | null)[] = []
    onChange((n) => seen.push(n ? n.notificationId : null))
    startLive()
    const source = FakeEventSource.made[0]
    expect(source.url).toBe('/notifications/stream')
    expect(live.state).toBe('connecting')
    source.fire('open')
    expect(live.state).toBe('live')
    source.fire('notification', { notificationId: 1, roomNumber: 7, conferenceId: 3, message: 'Room 7 is assigned to conference 3.' })
    source.fire('notification', { notificationId: 2, roomNumber: 7, conferenceId: 3, message: 'Room 7 is released by conference 3.' })
    source.fire('notification', { notificationId: 2, roomNumber: 7, conferenceId: 3, message: 'Room 7 is released by conference 3.' })
    expect(live.notifications.map((n) => n.notificationId)).toEqual([2, 1])
    expect(seen).toEqual([1, 2, 2])
    expect(live.latest, 'the one line screen readers hear').toBe('Room 7 is released by conference 3.')
  })

  it('shows "reconnecting" while the browser reconnects, and re-reads once back', async () => {
    const { live, onChange, startLive } = await import('./live')
    const seen: (number | null)[] = []
    onChange((n) => seen.push(n ? n.notificationId : null))
    startLive()
    const source = FakeEventSource.made[0]
    source.fire('open')
    source.fire('error')
    expect(live.state).toBe('reconnecting')
    source.fire('open')
    expect(live.state).toBe('live')
    expect(seen).toEqual([null])
  })

  it('opens a new stream when the browser gave up on the old one', async () => {
    const { live, startLive } = await import('./live')
    startLive()
    const source = FakeEventSource.made[0]
    source.readyState = FakeEventSource.CLOSED
    source.fire('error')
    expect(live.state).toBe('reconnecting')
    await vi.advanceTimersByTimeAsync(3000)
    expect(FakeEventSource.made).toHaveLength(2)
  })

  it('announces only what comes over the stream, not the notifications read at start', async () => {
    vi.stubGlobal(
      'fetch',
      vi.fn(async () => new Response(JSON.stringify({ _embedded: { notifications: [{ notificationId: 5, roomNumber: 1, conferenceId: 2, message: 'old news' }] }, page: { totalPages: 1 } }), { status: 200 })),
    )
    const { live, startLive } = await import('./live')
    startLive()
    await vi.advanceTimersByTimeAsync(0)
    expect(live.notifications.map((n) => n.message)).toEqual(['old news'])
    expect(live.latest).toBe('')
    FakeEventSource.made[0].fire('notification', { notificationId: 6, roomNumber: 1, conferenceId: 2, message: 'Room 1 is released by conference 2.' })
    expect(live.latest).toBe('Room 1 is released by conference 2.')
  })
})
