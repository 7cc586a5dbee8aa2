// A page of a HAL collection shown in a table, with previous/next.
import { reactive, shallowRef } from 'vue'
import { getPage } from './api'
import { explain } from './errors'
import type { Page } from './hal'

export function usePaged<T>(path: string, rel: string, size = 10) {
  const items = shallowRef<T[]>([])
  const state = reactive({
    items,
    page: { size, totalElements: 0, totalPages: 0, number: 0 } as Page,
    loading: false,
    problem: '',
  })
  async function load(n = state.page.number) {
    state.loading = true
    const r = await getPage<T>(path, rel, Math.max(0, n), size)
    state.loading = false
    if (!r.ok) {
      state.problem = explain(r.problem).message().replace(/ — trying again in \d+ s$/, '')
      return
    }
    state.problem = ''
    // Past the end (things were removed): the last page instead.
    if (r.value.items.length === 0 && n > 0 && r.value.page.totalPages > 0 && n >= r.value.page.totalPages) {
      return load(r.value.page.totalPages - 1)
    }
    items.value = r.value.items
    state.page = r.value.page
  }
  return { state, load }
}
