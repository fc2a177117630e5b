/**
 * Sign-in through django-allauth's JSON API for browsers (/_allauth/browser/v1/…): the same session cookie and CSRF
 * token as the REST API, but allauth's own answers. A 401 there is not "your session ended": it is how allauth says
 * "not signed in yet" (with the flows that are open, e.g. a pending two-factor step) or "confirm it's you first"
 * (reauthentication). So this client returns those answers instead of sending the user to sign in.
 */

import { readCookie } from './client'

export const AUTH_BASE = '/_allauth/browser/v1'

export interface AuthUser {
  id: number
  username: string
  display: string
  has_usable_password: boolean
  /** MFA_REQUIRED is on and the user has no authenticator app yet: only the Security page is open. */
  mfa_setup_required: boolean
}

export interface Flow {
  id: string
  is_pending?: boolean
  /** For `mfa_authenticate` / `mfa_reauthenticate`: which kinds of code the user has. */
  types?: string[]
}

export interface AuthErrorItem {
  message: string
  code: string
  param?: string
}

export interface AuthBody<T = unknown> {
  status: number
  data?: T
  meta?: Record<string, unknown>
  errors?: AuthErrorItem[]
}

export interface SessionData {
  user?: AuthUser
  methods?: { method: string; at: number; provider?: string }[]
  flows?: Flow[]
}

export interface Provider {
  id: string
  name: string
  flows: string[]
}

export interface AuthConfig {
  providers: Provider[]
  githubAllowListConfigured: boolean
  mfaRequired: boolean
}

export interface Authenticator {
  type: 'totp' | 'recovery_codes'
  created_at: number
  last_used_at: number | null
  total_code_count?: number
  unused_code_count?: number
  unused_codes?: string[]
}

export interface TotpSetup {
  secret: string
  totpUrl: string
  /** The QR code of `totpUrl`, an SVG document drawn by the server. */
  svg: string
}

/** An answer allauth gave as an error (400, 403, 409, 429), with its messages. */
export class AuthError extends Error {
  readonly status: number
  readonly errors: AuthErrorItem[]
  /** Seconds to wait (the lockout's Retry-After), when given. */
  readonly retryAfter: number | null

  constructor(status: number, errors: AuthErrorItem[], retryAfter: number | null = null) {
    super(errors[0]?.message ?? `HTTP ${status}`)
    this.name = 'AuthError'
    this.status = status
    this.errors = errors
    this.retryAfter = retryAfter
  }

  get code(): string | undefined {
    return this.errors[0]?.code
  }

  /** The messages about one input (`password`, `code`, `new_password` …). */
  param(name: string): string[] {
    return this.errors.filter((e) => e.param === name).map((e) => e.message)
  }

  /** The messages about no input in particular. */
  get general(): string[] {
    return this.errors.filter((e) => !e.param).map((e) => e.message)
  }
}

/** A change that allauth wants confirmed first: `flows` says how (password, code); empty when it cannot be. */
export class ReauthenticationRequired extends Error {
  readonly flows: Flow[]

  constructor(flows: Flow[]) {
    super('reauthentication required')
    this.name = 'ReauthenticationRequired'
    this.flows = flows
  }
}

/** The server does not answer, or answers 5xx. */
export class AuthUnavailable extends Error {
  constructor(message = '') {
    super(message)
    this.name = 'AuthUnavailable'
  }
}

export interface AuthClient {
  call<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: AuthBody<T> }>
}

export function createAuthClient(
  fetchImpl: typeof fetch = (...args) => globalThis.fetch(...args),
): AuthClient {
  return {
    async call<T>(method: string, path: string, body?: unknown) {
      const headers: Record<string, string> = { Accept: 'application/json' }
      const language = globalThis.document?.documentElement.lang
      if (language) headers['Accept-Language'] = language
      if (method !== 'GET') {
        // Read afresh every time: Django gives a new token when someone signs in.
        const token = readCookie('csrftoken')
        if (token) headers['X-CSRFToken'] = token
      }
      if (body !== undefined) headers['Content-Type'] = 'application/json'
      let response: Response
      try {
        response = await fetchImpl(AUTH_BASE + path, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
          credentials: 'same-origin',
        })
      } catch {
        throw new AuthUnavailable()
      }
      const text = await response.text()
      let parsed: AuthBody<T> = { status: response.status }
      try {
        if (text) parsed = JSON.parse(text) as AuthBody<T>
      } catch {
        // Not allauth's JSON: a proxy's error page, Django's CSRF page. The status says enough.
      }
      if (response.status >= 500) throw new AuthUnavailable(parsed.errors?.[0]?.message ?? '')
      if (response.status === 401 || response.ok || response.status === 404) {
        return { status: response.status, body: parsed }
      }
      const errors = parsed.errors?.length
        ? parsed.errors
        : [{ code: response.status === 403 ? 'forbidden' : 'error', message: '' }]
      const retryAfter = Number(response.headers.get('Retry-After'))
      throw new AuthError(
        response.status,
        errors,
        Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : null,
      )
    },
  }
}

/** Sends the browser to GitHub (a form POST, as allauth wants): it comes back to `callbackUrl` either way. */
export function redirectToProvider(provider: string, callbackUrl: string, doc: Document = document): void {
  const form = doc.createElement('form')
  form.method = 'POST'
  form.action = `${AUTH_BASE}/auth/provider/redirect`
  const fields: Record<string, string> = {
    provider,
    process: 'login',
    callback_url: callbackUrl,
    csrfmiddlewaretoken: readCookie('csrftoken') ?? '',
  }
  for (const [name, value] of Object.entries(fields)) {
    const input = doc.createElement('input')
    input.type = 'hidden'
    input.name = name
    input.value = value
    form.appendChild(input)
  }
  doc.body.appendChild(form)
  form.submit()
}
