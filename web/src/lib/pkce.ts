// OAuth2 PKCE (RFC 7636) pieces: a random verifier, its S256 challenge, a random state.

export function base64url(bytes: Uint8Array): string {
  let binary = ''
  for (const b of bytes) binary += String.fromCharCode(b)
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

/** A random URL-safe string from `bytes` random bytes (32 → 43 characters). */
export function randomString(bytes = 32): string {
  const buf = new Uint8Array(bytes)
  crypto.getRandomValues(buf)
  return base64url(buf)
}

/** A code verifier: 43 characters of [A-Za-z0-9-_] (RFC 7636 allows 43–128). */
export function makeVerifier(): string {
  return randomString(32)
}

/** The S256 code challenge of `verifier`: BASE64URL(SHA-256(ASCII(verifier))). */
export async function challengeOf(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))
  return base64url(new Uint8Array(digest))
}

export interface AuthorizeRequest {
  authorizationEndpoint: string
  clientId: string
  redirectUri: string
  scope: string
  state: string
  challenge: string
}

/** The URL the browser goes to for the issuer's sign-in page. */
export function authorizeUrl(r: AuthorizeRequest): string {
  const url = new URL(r.authorizationEndpoint)
  const params: Record<string, string> = {
    response_type: 'code',
    client_id: r.clientId,
    redirect_uri: r.redirectUri,
    scope: r.scope,
    state: r.state,
    code_challenge: r.challenge,
    code_challenge_method: 'S256',
  }
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v)
  return url.toString()
}

/** The token request's form body (authorization_code grant with the verifier). */
export function tokenRequestBody(code: string, redirectUri: string, clientId: string, verifier: string): URLSearchParams {
  return new URLSearchParams({
    grant_type: 'authorization_code',
    code,
    redirect_uri: redirectUri,
    client_id: clientId,
    code_verifier: verifier,
  })
}
