import { describe, expect, it } from 'vitest'
import { authorizeUrl, base64url, challengeOf, makeVerifier, randomString, tokenRequestBody } from './pkce'

describe('PKCE', () => {
  it('computes the S256 challenge of RFC 7636 appendix B', async () => {
    expect(await challengeOf('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk')).toBe('E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM')
  })

  it('makes verifiers of 43 URL-safe characters, different each time', () => {
    const a = makeVerifier()
    const b = makeVerifier()
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(a).not.toBe(b)
    expect(randomString(16)).toMatch(/^[A-Za-z0-9_-]{22}$/)
  })

  it('encodes base64url without padding', () => {
    expect(base64url(new Uint8Array([251, 255, 191]))).toBe('-_-_')
    expect(base64url(new Uint8Array([1]))).toBe('AQ')
  })

  it('builds the authorization URL and the token request', () => {
    const url = new URL(
      authorizeUrl({
        authorizationEndpoint: 'http://127.0.0.1:8089/authorize?x=1',
        clientId: 'hifive-web',
        redirectUri: 'http://127.0.0.1:8088/',
        scope: 'openid',
        state: 'st',
        challenge: 'ch',
      }),
    )
    expect(url.origin + url.pathname).toBe('http://127.0.0.1:8089/authorize')
    expect(Object.fromEntries(url.searchParams)).toEqual({
      x: '1',
      response_type: 'code',
      client_id: 'hifive-web',
      redirect_uri: 'http://127.0.0.1:8088/',
      scope: 'openid',
      state: 'st',
      code_challenge: 'ch',
      code_challenge_method: 'S256',
    })
    expect(tokenRequestBody('c', 'http://127.0.0.1:8088/', 'hifive-web', 'v').toString()).toBe(
      'grant_type=authorization_code&code=c&redirect_uri=http%3A%2F%2F127.0.0.1%3A8088%2F&client_id=hifive-web&code_verifier=v',
    )
  })
})
