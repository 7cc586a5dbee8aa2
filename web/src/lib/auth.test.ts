import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { completeSignIn } from './auth'
import { session, signOut } from './session'

function token(payload: object): string {
  const enc = (o: object) => btoa(JSON.stringify(o)).replace(/=+$/, '')
  return `${enc({ alg: 'EdDSA' })}.${enc(payload)}.c2ln`
}

const pending = { state: 'st4te', verifier: 'v'.repeat(43), returnTo: '#/mine', tokenEndpoint: 'http://127.0.0.1:8089/token', clientId: 'hifive-web' }

describe('coming back from the issuer', () => {
  beforeEach(() => {
    sessionStorage.setItem('hifive.signin', JSON.stringify(pending))
  })
  afterEach(() => {
    vi.unstubAllGlobals()
    signOut()
    history.replaceState(null, '', '/')
  })

  it('does nothing on an ordinary visit', async () => {
    history.replaceState(null, '', '/#/')
    expect(await completeSignIn()).toBeNull()
  })

  it('trades the code and the verifier for a token, and goes back where it was', async () => {
    const fetch = vi.fn(async () => new Response(JSON.stringify({ access_token: token({ sub: 'alice', role: 'customer' }), token_type: 'Bearer', expires_in: 3600 }), { status: 200 }))
    vi.stubGlobal('fetch', fetch)
    history.replaceState(null, '', '/?code=c0de&state=st4te')
    expect(await completeSignIn()).toBe('#/mine')
    const [url, init] = fetch.mock.calls[0] as unknown as [string, RequestInit]
    expect(url).toBe('http://127.0.0.1:8089/token')
    expect(Object.fromEntries(new URLSearchParams(String(init.body)))).toEqual({
      grant_type: 'authorization_code',
      code: 'c0de',
      redirect_uri: `${location.origin}/`,
      client_id: 'hifive-web',
      code_verifier: pending.verifier,
    })
    expect(session.identity?.user).toBe('alice')
    expect(location.search).toBe('')
    expect(sessionStorage.getItem('hifive.signin')).toBeNull()
  })

  it('ignores a code whose state is not the one it sent, keeping the sign-in in progress', async () => {
    const fetch = vi.fn()
    vi.stubGlobal('fetch', fetch)
    for (const query of ['?code=c0de&state=forged', '?code=c0de']) {
      history.replaceState(null, '', `/${query}#/mine`)
      expect(await completeSignIn()).toBeNull()
      expect(location.search).toBe('')
      expect(location.hash).toBe('#/mine')
    }
    expect(fetch).not.toHaveBeenCalled()
    expect(session.token).toBeNull()
    expect(JSON.parse(sessionStorage.getItem('hifive.signin')!)).toEqual(pending)
  })

  it('ignores an error without the right state: its text is not shown', async () => {
    for (const query of ['?error=access_denied&error_description=Call+0800+evil', '?error=access_denied&error_description=Call+0800+evil&state=forged']) {
      history.replaceState(null, '', `/${query}`)
      expect(await completeSignIn()).toBeNull()
      expect(location.search).toBe('')
    }
    expect(sessionStorage.getItem('hifive.signin')).not.toBeNull()
  })

  it('ignores an answer when no sign-in was started', async () => {
    sessionStorage.removeItem('hifive.signin')
    history.replaceState(null, '', '/?error=access_denied&state=st4te')
    expect(await completeSignIn()).toBeNull()
  })

  it('says why the issuer refused', async () => {
    history.replaceState(null, '', '/?error=access_denied&error_description=no+such+user&state=st4te')
    await expect(completeSignIn()).rejects.toThrow('Sign-in did not succeed: no such user.')
  })
})
