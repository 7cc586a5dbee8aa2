// Reading (not verifying: the services do that) a JWT access token's payload: who, which
// role, until when.

export type Role = 'customer' | 'manager'

export interface Identity {
  user: string
  roles: Role[]
  /** Expiry, seconds since the epoch; undefined when the token has none. */
  exp?: number
}

function decodeSegment(segment: string): unknown {
  const b64 = segment.replace(/-/g, '+').replace(/_/g, '/')
  const padded = b64 + '='.repeat((4 - (b64.length % 4)) % 4)
  const binary = atob(padded)
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0))
  return JSON.parse(new TextDecoder().decode(bytes))
}

/** The payload of a JWT, or null if `token` is not one. */
export function payloadOf(token: string): Record<string, unknown> | null {
  const parts = token.split('.')
  if (parts.length !== 3) return null
  try {
    const payload = decodeSegment(parts[1])
    return payload && typeof payload === 'object' && !Array.isArray(payload) ? (payload as Record<string, unknown>) : null
  } catch {
    return null
  }
}

/** The value at a dotted path (`realm_access.roles`) of `obj`. */
function at(obj: Record<string, unknown>, path: string): unknown {
  let value: unknown = obj
  for (const key of path.split('.')) {
    if (!value || typeof value !== 'object') return undefined
    value = (value as Record<string, unknown>)[key]
  }
  return value
}

/** The roles named by the claim: a string (one role, or several separated by spaces) or a list. */
export function rolesOf(payload: Record<string, unknown>, claim = 'role'): Role[] {
  const raw = at(payload, claim)
  const names = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(/[\s,]+/) : []
  const roles: Role[] = []
  for (const name of names) {
    if (name === 'customer' || name === 'manager') {
      if (!roles.includes(name)) roles.push(name)
    }
  }
  return roles
}

/** Who the token says its bearer is, or null if it is not a JWT with a `sub`. */
export function identityOf(token: string, claim = 'role'): Identity | null {
  const payload = payloadOf(token)
  if (!payload || typeof payload.sub !== 'string' || payload.sub === '') return null
  const exp = typeof payload.exp === 'number' ? payload.exp : undefined
  return { user: payload.sub, roles: rolesOf(payload, claim), exp }
}

/** Whether the token has expired at `nowMs` (with `skewSeconds` of slack). */
export function expired(identity: Identity, nowMs: number = Date.now(), skewSeconds = 0): boolean {
  return identity.exp !== undefined && identity.exp + skewSeconds <= nowMs / 1000
}
