// Where keyboard and screen-reader users are after a route change: on the new page's main
// heading (an h1 or h2 with tabindex="-1" inside <main>), not left on a link that is gone.

import { nextTick } from 'vue'
import type { Router } from 'vue-router'

export const HEADING = 'main h1[tabindex="-1"], main h2[tabindex="-1"]'

/** Focuses the new page's main heading after each route change (not on the first load). */
export function focusHeadingOnNavigation(router: Router, doc: Document = document): void {
  router.afterEach((_to, from, failure) => {
    if (failure || from.matched.length === 0) return
    void nextTick(() => doc.querySelector<HTMLElement>(HEADING)?.focus())
  })
}
