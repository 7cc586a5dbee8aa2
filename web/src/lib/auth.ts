// Sign-in: OAuth2 authorization code + PKCE (S256) against the issuer named in /config.json,
// found by OIDC discovery. The page's own URL (its origin + "/") is the redirect URI; the
// route to come back to is kept in sessionStorage with the state and the verifier.

import { authorizeUrl, challengeOf, makeVerifier, randomString, tokenRequestBody } from './pkce'
import { setRolesClaim, setToken } from './session'

export interface OidcConfig {
  issuer: string
  clientId: string
  scope: string
  /** Where the token names the role: a dotted path (`role`, `realm_access.roles`). */
  rolesClaim: string
}

const PENDING_KEY = 'hifive.signin'

let configPromise: Promise<OidcConfig | null> | null = null

/** The sign-in settings from /config.json, or null when sign-in is not configured. */
export function oidcConfig(): Promise<OidcConfig | null> {
  configPromise ??= (async () => {
    try {
      const r = await fetch('/config.json', { cache: 'no-store' })
      if (!r.ok) return null
      const config = readOidc(await r.json())
      if (config) setRolesClaim(config.rolesClaim)
      return config
    } catch {
      return null
    }
  })()
  return configPromise
}

export function readOidc(body: unknown): OidcConfig | null {
  const oidc = (body as { oidc?: Record<string, unknown> } | null)?.oidc
  if (!oidc || typeof oidc.issuer !== 'string' || typeof oidc.clientId !== 'string') return null
  return {
    issuer: oidc.issuer.replace(/\/+$/, ''),
    clientId: oidc.clientId,
    scope: typeof oidc.scope === 'string' && oidc.scope ? oidc.scope : 'openid',
    rolesClaim: typeof oidc.rolesClaim === 'string' && oidc.rolesClaim ? oidc.rolesClaim : 'role',
  }
}

interface Discovery {
  authorization_endpoint: string
  token_endpoint: string
}

async function discover(issuer: string): Promise<Discovery> {
  const r = await fetch(`${issuer}/.well-known/openid-configuration`)
  if (!r.ok) throw new Error(`the sign-in service answered ${r.status}`)
  const d = (await r.json()) as Partial<Discovery>
  if (!d.authorization_endpoint || !d.token_endpoint) throw new Error('the sign-in service does not name its endpoints')
  return { authorization_endpoint: d.authorization_endpoint, token_endpoint: d.token_endpoint }
}

export function redirectUri(): string {
  return `${location.origin}/`
}

interface Pending {
  state: string
  verifier: string
  returnTo: string
  tokenEndpoint: string
  clientId: string
}

/** Goes to the issuer's sign-in page. */
export async function beginSignIn(returnTo: string = location.hash || '#/'): Promise<void> {
  const config = await oidcConfig()
  if (!config) throw new Error('sign-in is not configured')
  const discovery = await discover(config.issuer)
  const verifier = makeVerifier()
  const state = randomString(16)
  const pending: Pending = { state, verifier, returnTo, tokenEndpoint: discovery.token_endpoint, clientId: config.clientId }
  sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending))
  location.assign(
    authorizeUrl({
      authorizationEndpoint: discovery.authorization_endpoint,
      clientId: config.clientId,
      redirectUri: redirectUri(),
      scope: config.scope,
      state,
      challenge: await challengeOf(verifier),
    }),
  )
}

/**
 * When the page is the issuer's redirect (`?code=&state=`), trades the code for a token.
 * Returns the route to go on to, null when this is not a redirect; throws with a human
 * message when the sign-in failed. An answer without this tab's `state` is not the
 * issuer's answer to this page (it may be someone else's link): it is ignored — its text is
 * not shown, and a sign-in in progress is kept.
 */
export async function completeSignIn(): Promise<string | null> {
  const params = new URLSearchParams(location.search)
  const code = params.get('code')
  const error = params.get('error')
  if (!code && !error) return null
  const raw = sessionStorage.getItem(PENDING_KEY)
  let pending: Pending | null = null
  try {
    pending = raw ? (JSON.parse(raw) as Pending) : null
  } catch {
    pending = null
  }
  const state = params.get('state')
  if (!pending || !state || state !== pending.state) {
    history.replaceState(null, '', `/${location.hash}`)
    return null
  }
  sessionStorage.removeItem(PENDING_KEY)
  const returnTo = pending.returnTo || '#/'
  history.replaceState(null, '', `/${returnTo}`)
  if (error) throw new Error(`Sign-in did not succeed: ${params.get('error_description') ?? error}.`)
  let r: Response
  try {
    r = await fetch(pending.tokenEndpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      body: tokenRequestBody(code!, redirectUri(), pending.clientId, pending.verifier),
    })
  } catch {
    throw new Error('Cannot reach the sign-in service.')
  }
  const body = (await r.json().catch(() => ({}))) as { access_token?: string; error?: string; error_description?: string }
  if (!r.ok || !body.access_token) {
    throw new Error(`Sign-in did not succeed: ${body.error_description ?? body.error ?? `answer ${r.status}`}.`)
  }
  if (!setToken(body.access_token)) throw new Error('Sign-in did not succeed: the token cannot be read.')
  return returnTo
}

/** Reads /config.json again on next use (tests). */
export function forgetConfig(): void {
  configPromise = null
}
