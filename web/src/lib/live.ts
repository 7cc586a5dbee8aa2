// The live side: one EventSource on /notifications/stream for the whole page (it reconnects
// by itself), the latest notifications, and listeners that re-read what they show.

import { reactive } from 'vue'
import { getPage } from './api'

export interface Notification {
  notificationId: number
  kind?: string
  roomNumber: number
  conferenceId: number
  message: string
  createdAt?: string
}

export type LiveState = 'connecting' | 'live' | 'reconnecting' | 'unsupported'

export const live = reactive({
  state: 'connecting' as LiveState,
  notifications: [] as Notification[],
  /** The last notification that came over the stream (not those read at start): what screen
   * readers hear, once each. */
  latest: '',
})

const KEEP = 20
type Listener = (n: Notification | null) => void
const listeners = new Set<Listener>()
let source: EventSource | null = null
let retryTimer: ReturnType<typeof setTimeout> | undefined

/** Calls `listener` on each notification (and with null on each (re)connection, when some may
 * have been missed). Returns the unsubscribe function. */
export function onChange(listener: Listener): () => void {
  listeners.add(listener)
  return () => listeners.delete(listener)
}

function emit(n: Notification | null) {
  for (const l of listeners) l(n)
}

function add(n: Notification): boolean {
  if (live.notifications.some((x) => x.notificationId === n.notificationId)) return false
  live.notifications = [n, ...live.notifications].sort((a, b) => b.notificationId - a.notificationId).slice(0, KEEP)
  return true
}

export async function loadNotifications(): Promise<void> {
  const outcome = await getPage<Notification>('/notifications', 'notifications', 0, KEEP)
  if (!outcome.ok) return
  for (const n of outcome.value.items) add(n)
}

export function startLive(): void {
  if (source) return
  if (typeof EventSource === 'undefined') {
    live.state = 'unsupported'
    return
  }
  void loadNotifications()
  source = new EventSource('/notifications/stream')
  source.addEventListener('open', () => {
    const wasDown = live.state === 'reconnecting'
    live.state = 'live'
    if (wasDown) {
      void loadNotifications()
      emit(null)
    }
  })
  source.addEventListener('notification', (event) => {
    try {
      const n = JSON.parse((event as MessageEvent<string>).data) as Notification
      if (add(n)) live.latest = n.message
      emit(n)
    } catch {
      emit(null)
    }
  })
  source.addEventListener('error', () => {
    live.state = 'reconnecting'
    if (source?.readyState === EventSource.CLOSED) {
      // The browser gave up (e.g. an HTTP error): open a new one a little later.
      source = null
      clearTimeout(retryTimer)
      retryTimer = setTimeout(startLive, 3000)
    }
  })
}
