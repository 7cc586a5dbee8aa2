// The one way the page calls HiFive's API (same origin): JSON in and out, the bearer token,
// problems as `ApiProblem` (never thrown), 401 ends the session.

import { networkProblem, problemFrom, type ApiProblem } from './errors'
import { readCollection, type Collection } from './hal'
import type { Outcome } from './retry'
import { bearer, sessionEnded } from './session'

export interface Answer<T> {
  status: number
  data: T
  headers: Headers
}

export interface CallOptions {
  body?: unknown
  idempotencyKey?: string
  /** Send the token (default: when signed in). */
  auth?: boolean
}

export function newIdempotencyKey(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID()
  const b = new Uint8Array(16)
  crypto.getRandomValues(b)
  b[6] = (b[6] & 0x0f) | 0x40
  b[8] = (b[8] & 0x3f) | 0x80
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

export async function call<T = unknown>(method: string, path: string, options: CallOptions = {}): Promise<Outcome<Answer<T>>> {
  const headers: Record<string, string> = { Accept: 'application/json' }
  const token = options.auth === false ? null : bearer()
  if (token) headers.Authorization = `Bearer ${token}`
  if (options.body !== undefined) headers['Content-Type'] = 'application/json'
  if (options.idempotencyKey) headers['Idempotency-Key'] = options.idempotencyKey
  let response: Response
  try {
    response = await fetch(path, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      cache: 'no-store',
    })
  } catch (e) {
    return { ok: false, problem: networkProblem(e instanceof Error ? e.message : String(e)) }
  }
  const text = await response.text().catch(() => '')
  let data: unknown = null
  if (text) {
    try {
      data = JSON.parse(text)
    } catch {
      data = text
    }
  }
  if (!response.ok) {
    const problem: ApiProblem = problemFrom(response.status, data, response.headers.get('Retry-After'))
    if (response.status === 401 && token) sessionEnded()
    return { ok: false, problem }
  }
  return { ok: true, value: { status: response.status, data: data as T, headers: response.headers } }
}

/** One page of a HAL collection. */
export async function getPage<T>(path: string, rel: string, page = 0, size = 20): Promise<Outcome<Collection<T>>> {
  const sep = path.includes('?') ? '&' : '?'
  const outcome = await call(`GET`, `${path}${sep}page=${page}&size=${size}`)
  if (!outcome.ok) return outcome
  return { ok: true, value: readCollection<T>(outcome.value.data, rel) }
}

/** Every item of a HAL collection, page after page (1000 at a time). */
export async function getAll<T>(path: string, rel: string): Promise<Outcome<T[]>> {
  const all: T[] = []
  for (let page = 0; page < 100; page++) {
    const outcome = await getPage<T>(path, rel, page, 1000)
    if (!outcome.ok) return outcome
    all.push(...outcome.value.items)
    if (page + 1 >= outcome.value.page.totalPages || outcome.value.items.length === 0) break
  }
  return { ok: true, value: all }
}
