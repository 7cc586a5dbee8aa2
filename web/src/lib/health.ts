// The manager's health panel: `GET /system/health` read defensively — each service's
// `/health/ready` JSON (components `db`, `outbox`, `kafka`, and conference's
// `payCircuitBreaker` and `sagaAdmission`) may lack any part.

export type Tone = 'ok' | 'warn' | 'bad' | 'info'

export interface Fact {
  label: string
  value: string
  tone: Tone
}

export interface ServiceHealth {
  name: string
  ready: boolean
  status: string
  facts: Fact[]
  error?: string
}

type Obj = Record<string, unknown>

function obj(v: unknown): Obj | undefined {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined
}

function round1(n: number): string {
  return (Math.round(n * 10) / 10).toString()
}

function statusTone(status: string | undefined): Tone {
  switch (status) {
    case 'UP':
    case 'CLOSED':
    case 'ADMITTING':
      return 'ok'
    case 'BEHIND':
    case 'HALF_OPEN':
    case 'WAITING_FOR_DATABASE':
    case 'UNKNOWN':
      return 'warn'
    case undefined:
      return 'info'
    default:
      return 'bad'
  }
}

/** The facts worth showing from one service's readiness JSON. */
export function factsOf(health: unknown): Fact[] {
  const components = obj(obj(health)?.components) ?? {}
  const facts: Fact[] = []
  const db = obj(components.db)
  if (db) facts.push({ label: 'Database', value: str(db.status) ?? '?', tone: statusTone(str(db.status)) })
  const breaker = obj(components.payCircuitBreaker)
  if (breaker) {
    const status = str(breaker.status) ?? '?'
    const transitions = num(breaker.transitions)
    facts.push({
      label: 'Payment breaker',
      value: transitions === undefined ? status : `${status} (${transitions} transitions)`,
      tone: statusTone(status),
    })
  }
  const admission = obj(components.sagaAdmission)
  if (admission) {
    const status = str(admission.status) ?? '?'
    const reason = str(admission.reason)
    facts.push({ label: 'Saga admission', value: reason ? `${status}: ${reason}` : status, tone: statusTone(status) })
  }
  const outbox = obj(components.outbox)
  if (outbox) {
    const pending = num(outbox.pending)
    const age = num(outbox.oldestAgeSeconds)
    const value = pending === undefined ? (str(outbox.status) ?? '?') : `${pending} pending${age ? `, oldest ${round1(age)} s` : ''}`
    facts.push({ label: 'Outbox', value, tone: pending === undefined ? 'info' : pending > 100 || (age ?? 0) > 10 ? 'warn' : 'ok' })
  }
  const kafka = obj(components.kafka)
  if (kafka) {
    const status = str(kafka.status) ?? '?'
    const lag = num(kafka.lag)
    const lagSeconds = num(kafka.lagSeconds)
    let value = status
    if (lag !== undefined) value += `, lag ${lag}`
    if (lagSeconds !== undefined && lagSeconds > 0) value += ` (${round1(lagSeconds)} s)`
    if (kafka.stalled === true) value += ', stalled'
    facts.push({ label: 'Consumer', value, tone: kafka.stalled === true ? 'bad' : statusTone(status) })
  }
  const auth = obj(obj(health)?.auth) ?? obj(components.auth)
  if (auth && str(auth.mode) === 'off') facts.push({ label: 'Auth', value: 'OFF', tone: 'bad' })
  return facts
}

/** The services of a `/system/health` answer. */
export function readSystemHealth(body: unknown): ServiceHealth[] {
  const services = obj(body)?.services
  if (!Array.isArray(services)) return []
  return services.map((raw, i) => {
    const s = obj(raw) ?? {}
    const health = s.health
    const ready = s.ready === true
    const status = str(obj(health)?.status) ?? (ready ? 'UP' : 'DOWN')
    return {
      name: str(s.name) ?? `service ${i + 1}`,
      ready,
      status,
      facts: factsOf(health),
      error: str(s.error) ?? undefined,
    }
  })
}
