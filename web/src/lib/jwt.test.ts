import { describe, expect, it } from 'vitest'
import { expired, identityOf, rolesOf } from './jwt'
import { readOidc } from './auth'
import { session, setRolesClaim, setToken, signOut } from './session'

function token(payload: object): string {
  const enc = (o: object) => btoa(JSON.stringify(o)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
  return `${enc({ alg: 'EdDSA', typ: 'JWT' })}.${enc(payload)}.c2lnbmF0dXJl`
}

describe('reading the token', () => {
  it('reads the user and a role given as a string', () => {
    expect(identityOf(token({ sub: 'alice', role: 'customer', exp: 2000000000 }))).toEqual({ user: 'alice', roles: ['customer'], exp: 2000000000 })
  })

  it('reads roles given as a list, ignoring unknown ones', () => {
    expect(identityOf(token({ sub: 'boss', role: ['manager', 'admin', 'customer'] }))?.roles).toEqual(['manager', 'customer'])
    expect(rolesOf({ realm_access: { roles: ['manager'] } }, 'realm_access.roles')).toEqual(['manager'])
    expect(rolesOf({ role: 'customer manager' })).toEqual(['customer', 'manager'])
    expect(rolesOf({})).toEqual([])
  })

  it('reads UTF-8 names', () => {
    expect(identityOf(token({ sub: 'zoë', role: 'customer' }).replace(/\..*\./, `.${btoa(String.fromCharCode(...new TextEncoder().encode('{"sub":"zoë","role":"customer"}'))).replace(/=+$/, '')}.`))?.user).toBe('zoë')
  })

  it('refuses what is not a JWT with a subject', () => {
    expect(identityOf('not-a-token')).toBeNull()
    expect(identityOf('a.b.c')).toBeNull()
    expect(identityOf(token({ role: 'customer' }))).toBeNull()
  })

  it('knows when it has expired', () => {
    const id = identityOf(token({ sub: 'a', role: 'customer', exp: 1000 }))!
    expect(expired(id, 999_000)).toBe(false)
    expect(expired(id, 1_000_000)).toBe(true)
    expect(expired({ user: 'a', roles: [] }, Date.now())).toBe(false)
  })
})

describe('the role claim named by /config.json', () => {
  it('reads `role`, `realm_access.roles` as a list, and nothing when the claim is missing', () => {
    const t = token({ sub: 'boss', role: 'customer', realm_access: { roles: ['manager', 'offline_access'] } })
    expect(identityOf(t, 'role')?.roles).toEqual(['customer'])
    expect(identityOf(t, 'realm_access.roles')?.roles).toEqual(['manager'])
    expect(identityOf(t, 'groups')?.roles).toEqual([])
    expect(identityOf(t, 'realm_access.missing.roles')?.roles).toEqual([])
    expect(identityOf(t)?.roles, 'the default is `role`').toEqual(['customer'])
  })

  it('is taken from the config (default `role`), and re-reads the token held', () => {
    expect(readOidc({ oidc: { issuer: 'https://id.example', clientId: 'web' } })?.rolesClaim).toBe('role')
    expect(readOidc({ oidc: { issuer: 'https://id.example', clientId: 'web', rolesClaim: 'realm_access.roles' } })?.rolesClaim).toBe('realm_access.roles')
    setToken(token({ sub: 'boss', realm_access: { roles: ['manager'] } }))
    expect(session.identity?.roles).toEqual([])
    setRolesClaim('realm_access.roles')
    expect(session.identity?.roles).toEqual(['manager'])
    setToken(token({ sub: 'kim', realm_access: { roles: 'customer' } }))
    expect(session.identity?.roles).toEqual(['customer'])
    setRolesClaim('role')
    signOut()
  })
})

describe('/config.json', () => {
  it('reads the issuer settings, or none', () => {
    expect(readOidc({ oidc: { issuer: 'http://127.0.0.1:8089/', clientId: 'hifive-web', scope: 'openid' } })).toEqual({
      issuer: 'http://127.0.0.1:8089',
      clientId: 'hifive-web',
      scope: 'openid',
      rolesClaim: 'role',
    })
    expect(readOidc({ oidc: { issuer: 'https://id.example', clientId: 'web' } })?.scope).toBe('openid')
    expect(readOidc({})).toBeNull()
    expect(readOidc({ oidc: null })).toBeNull()
    expect(readOidc(null)).toBeNull()
  })
})
