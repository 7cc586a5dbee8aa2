// Who is signed in: the access token (kept in sessionStorage, so it ends with the tab) and
// what its payload says.

import { computed, reactive } from 'vue'
import { expired, identityOf, type Identity, type Role } from './jwt'

const TOKEN_KEY = 'hifive.token'

export const session = reactive({
  token: null as string | null,
  identity: null as Identity | null,
  /** Why the person is not signed in any more (shown with a "Sign in" button). */
  ended: '' as string,
})

/** Where the token names the role (`/config.json`'s `oidc.rolesClaim`), a dotted path. */
let rolesClaim = 'role'

/** Uses `claim` for the role from now on, re-reading the token held (the config may come later). */
export function setRolesClaim(claim: string): void {
  rolesClaim = claim || 'role'
  if (session.token) session.identity = identityOf(session.token, rolesClaim) ?? session.identity
}

export const signedIn = computed(() => session.identity !== null)
export const isCustomer = computed(() => session.identity?.roles.includes('customer') ?? false)
export const isManager = computed(() => session.identity?.roles.includes('manager') ?? false)
export const user = computed(() => session.identity?.user ?? '')

export function hasRole(role: Role): boolean {
  return session.identity?.roles.includes(role) ?? false
}

export function setToken(token: string): boolean {
  const identity = identityOf(token, rolesClaim)
  if (!identity) {
    session.ended = 'The sign-in answered with a token HiFive cannot read.'
    return false
  }
  session.token = token
  session.identity = identity
  session.ended = ''
  sessionStorage.setItem(TOKEN_KEY, token)
  return true
}

export function signOut(reason = ''): void {
  session.token = null
  session.identity = null
  session.ended = reason
  sessionStorage.removeItem(TOKEN_KEY)
}

/** The API refused the token (401) or it expired. */
export function sessionEnded(): void {
  if (session.token) signOut('Your session has ended — sign in again.')
}

/** Picks up the token of this tab, if it is still valid. */
export function restoreSession(): void {
  const token = sessionStorage.getItem(TOKEN_KEY)
  if (!token) return
  const identity = identityOf(token, rolesClaim)
  if (!identity) {
    sessionStorage.removeItem(TOKEN_KEY)
    return
  }
  if (expired(identity)) {
    signOut('Your session has ended — sign in again.')
    return
  }
  session.token = token
  session.identity = identity
}

/** The bearer token for a call, ending the session first if it has expired. */
export function bearer(): string | null {
  if (session.identity && expired(session.identity)) sessionEnded()
  return session.token
}
