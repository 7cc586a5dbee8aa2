// A booking's statuses and how they progress: CREATED → PAID → ASSIGNED, or REJECTED,
// CANCELED, FAILED.

export type BookingStatus = 'CREATED' | 'PAID' | 'ASSIGNED' | 'REJECTED' | 'CANCELED' | 'FAILED'

export interface Booking {
  conferenceId: number
  status: string
  payId?: number | null
  roomNumber: number
  customer?: string | null
}

export interface Payment {
  payId: number
  status: string
  conferenceId: number
  roomNumber: number
  customer?: string | null
}

const FINAL = new Set(['ASSIGNED', 'REJECTED', 'CANCELED', 'FAILED'])

/** No more changes come without the customer doing something (ASSIGNED may still be cancelled). */
export function isFinal(status: string): boolean {
  return FINAL.has(status)
}

/** Whether cancelling makes sense: it holds (or is getting) a room or a payment. */
export function isCancelable(status: string): boolean {
  return status === 'CREATED' || status === 'PAID' || status === 'ASSIGNED'
}

/** Whether the booking is (or is becoming) a real one: not failed, rejected or cancelled. */
export function isActive(status: string): boolean {
  return status === 'CREATED' || status === 'PAID' || status === 'ASSIGNED'
}

export function describeStatus(status: string): string {
  switch (status) {
    case 'CREATED':
      return 'Paying…'
    case 'PAID':
      return 'Paid — waiting for the room'
    case 'ASSIGNED':
      return 'Room assigned'
    case 'REJECTED':
      return 'Rejected — the room was not available; the payment is refunded'
    case 'CANCELED':
      return 'Cancelled — the payment is refunded'
    case 'FAILED':
      return 'Failed — the payment could not be made; nothing was charged'
    default:
      return status
  }
}

export type StepState = 'done' | 'current' | 'todo' | 'failed'

export interface Step {
  label: string
  state: StepState
}

/** The steps to show for a booking in `status`. */
export function stepsOf(status: string): Step[] {
  const requested: Step = { label: 'Requested', state: 'done' }
  switch (status) {
    case 'CREATED':
      return [requested, { label: 'Paid', state: 'current' }, { label: 'Room assigned', state: 'todo' }]
    case 'PAID':
      return [requested, { label: 'Paid', state: 'done' }, { label: 'Room assigned', state: 'current' }]
    case 'ASSIGNED':
      return [requested, { label: 'Paid', state: 'done' }, { label: 'Room assigned', state: 'done' }]
    case 'REJECTED':
      return [requested, { label: 'Paid', state: 'done' }, { label: 'Rejected, refunded', state: 'failed' }]
    case 'CANCELED':
      return [requested, { label: 'Paid', state: 'done' }, { label: 'Cancelled, refunded', state: 'failed' }]
    case 'FAILED':
      return [requested, { label: 'Payment failed', state: 'failed' }]
    default:
      return [requested, { label: status, state: 'current' }]
  }
}

/** The statuses seen so far, with `next` added when it moved on (for the timeline). */
export function progress(history: string[], next: string): string[] {
  return history[history.length - 1] === next ? history : [...history, next]
}
