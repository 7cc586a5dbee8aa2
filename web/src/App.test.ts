import { afterEach, describe, expect, it, vi } from 'vitest'
import { createApp, nextTick } from 'vue'
import { createMemoryHistory, createRouter } from 'vue-router'
import App from './App.vue'
import { forgetConfig } from './lib/auth'
import { session, setToken, signOut } from './lib/session'

function json(status: number, body: unknown) {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } })
}

function token(payload: object): string {
  const enc = (o: object) => btoa(JSON.stringify(o)).replace(/=+$/, '')
  return `${enc({ alg: 'EdDSA' })}.${enc(payload)}.c2ln`
}

async function mountApp(config: unknown) {
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string) => (url === '/config.json' ? json(200, config) : json(200, { _embedded: {}, page: { totalPages: 0 } }))),
  )
  // /config.json is read once per page load.
  forgetConfig()
  const router = createRouter({ history: createMemoryHistory(), routes: [{ path: '/:rest(.*)*', component: { template: '<p>page</p>' } }] })
  const root = document.createElement('div')
  document.body.appendChild(root)
  const app = createApp(App).use(router)
  await router.push('/')
  app.mount(root)
  for (let i = 0; i < 5; i++) await nextTick()
  await new Promise((r) => setTimeout(r, 0))
  await nextTick()
  return { root, unmount: () => app.unmount() }
}

describe('the header', () => {
  afterEach(() => {
    vi.unstubAllGlobals()
    signOut()
  })

  it('says when sign-in is not configured', async () => {
    const { root, unmount } = await mountApp({})
    expect(root.querySelector('[data-testid="signin-not-configured"]')?.textContent).toMatch(/Sign-in is not configured/)
    expect(root.textContent).not.toMatch(/My bookings|Manage/)
    unmount()
  })

  it('offers to sign in when an issuer is configured', async () => {
    const { root, unmount } = await mountApp({ oidc: { issuer: 'http://127.0.0.1:8089', clientId: 'hifive-web', scope: 'openid' } })
    expect([...root.querySelectorAll('button')].map((b) => b.textContent)).toContain('Sign in')
    unmount()
  })

  it('shows what the role allows', async () => {
    setToken(token({ sub: 'boss', role: ['manager'] }))
    const { root, unmount } = await mountApp({})
    expect(root.querySelector('[data-testid="signed-in-as"]')?.textContent).toBe('Signed in as boss (room manager)')
    const links = [...root.querySelectorAll('nav a')].map((a) => a.textContent)
    expect(links).toEqual(['Rooms', 'Manage'])
    unmount()
    signOut('Your session has ended — sign in again.')
    expect(session.identity).toBeNull()
  })
})
