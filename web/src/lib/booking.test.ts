import { describe, expect, it } from 'vitest'
import { describeStatus, isActive, isCancelable, isFinal, progress, stepsOf } from './booking'
import { readCollection } from './hal'

describe('booking status', () => {
  it('moves PAID → ASSIGNED, step by step', () => {
    expect(stepsOf('PAID').map((s) => s.state)).toEqual(['done', 'done', 'current'])
    expect(stepsOf('ASSIGNED').map((s) => s.state)).toEqual(['done', 'done', 'done'])
    expect(stepsOf('CREATED').map((s) => s.state)).toEqual(['done', 'current', 'todo'])
    expect(stepsOf('REJECTED').at(-1)).toEqual({ label: 'Rejected, refunded', state: 'failed' })
    expect(stepsOf('FAILED').at(-1)?.state).toBe('failed')
  })

  it('knows the final statuses', () => {
    expect(['CREATED', 'PAID'].map(isFinal)).toEqual([false, false])
    expect(['ASSIGNED', 'REJECTED', 'CANCELED', 'FAILED'].map(isFinal)).toEqual([true, true, true, true])
    expect(['CREATED', 'PAID', 'ASSIGNED', 'REJECTED', 'CANCELED', 'FAILED'].map(isCancelable)).toEqual([true, true, true, false, false, false])
    expect(isActive('FAILED')).toBe(false)
  })

  it('records the statuses seen, once each', () => {
    let h: string[] = []
    for (const s of ['PAID', 'PAID', 'ASSIGNED', 'ASSIGNED']) h = progress(h, s)
    expect(h).toEqual(['PAID', 'ASSIGNED'])
  })

  it('describes each status for people', () => {
    expect(describeStatus('ASSIGNED')).toBe('Room assigned')
    expect(describeStatus('FAILED')).toMatch(/nothing was charged/)
    expect(describeStatus('NEW_ONE')).toBe('NEW_ONE')
  })
})

describe('HAL collections', () => {
  it('reads items and page', () => {
    const body = {
      _embedded: { conferences: [{ conferenceId: 1 }] },
      _links: {},
      page: { size: 20, totalElements: 1, totalPages: 1, number: 0 },
    }
    expect(readCollection(body, 'conferences')).toEqual({ items: [{ conferenceId: 1 }], page: body.page })
  })
  it('tolerates missing parts', () => {
    expect(readCollection({}, 'pays')).toEqual({ items: [], page: { size: 0, totalElements: 0, totalPages: 0, number: 0 } })
    expect(readCollection(null, 'pays').items).toEqual([])
  })
})
