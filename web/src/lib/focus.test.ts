import { describe, expect, it } from 'vitest'
import { createApp, nextTick } from 'vue'
import { createMemoryHistory, createRouter } from 'vue-router'
import { focusHeadingOnNavigation } from './focus'

describe('focus after a route change', () => {
  it('goes to the new page’s main heading, not on the first load', async () => {
    const router = createRouter({
      history: createMemoryHistory(),
      routes: [
        { path: '/', component: { template: '<section><a href="#/b">to B</a><h1 tabindex="-1">Rooms</h1></section>' } },
        // A page loaded on demand, as the booking page is.
        { path: '/b/:id', component: () => Promise.resolve({ props: ['id'], template: '<section><h1 tabindex="-1">Booking {{ id }}</h1><h2>Payment</h2></section>' }), props: true },
      ],
    })
    focusHeadingOnNavigation(router)
    const root = document.createElement('div')
    document.body.appendChild(root)
    const app = createApp({ template: '<main><RouterView /></main>' })
    app.use(router)
    await router.push('/')
    app.mount(root)
    await nextTick()
    expect(document.activeElement, 'the first load starts at the top').toBe(document.body)
    root.querySelector('a')!.focus()
    await router.push('/b/9')
    await nextTick()
    expect(document.activeElement?.textContent).toBe('Booking 9')
    await router.push('/b/10')
    await nextTick()
    expect(document.activeElement?.textContent).toBe('Booking 10')
    await router.push('/')
    await nextTick()
    expect(document.activeElement?.textContent).toBe('Rooms')
    app.unmount()
    root.remove()
  })
})
