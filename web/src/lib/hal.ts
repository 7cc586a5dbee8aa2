// Spring Data REST (HAL) collections: `_embedded.<rel>`, `page`.

export interface Page {
  size: number
  totalElements: number
  totalPages: number
  number: number
}

export interface Collection<T> {
  items: T[]
  page: Page
}

/** The items and page of a HAL collection body, tolerating missing parts. */
export function readCollection<T>(body: unknown, rel: string): Collection<T> {
  const obj = body && typeof body === 'object' ? (body as Record<string, unknown>) : {}
  const embedded = obj._embedded && typeof obj._embedded === 'object' ? (obj._embedded as Record<string, unknown>) : {}
  const items = Array.isArray(embedded[rel]) ? (embedded[rel] as T[]) : []
  const raw = obj.page && typeof obj.page === 'object' ? (obj.page as Record<string, unknown>) : {}
  const num = (v: unknown, d: number) => (typeof v === 'number' && Number.isFinite(v) ? v : d)
  const page: Page = {
    size: num(raw.size, items.length),
    totalElements: num(raw.totalElements, items.length),
    totalPages: num(raw.totalPages, items.length ? 1 : 0),
    number: num(raw.number, 0),
  }
  return { items, page }
}
