/**
 * The one way the app talks to Django: fetch with the session cookie, Django's CSRF token on every unsafe method,
 * and the answers every page must treat alike (401 → sign in and come back, 503 → the "server unavailable" banner,
 * DRF's 400 → a message per field). Decimal values stay the strings the API sends.
 */

export type FieldErrors = Record<string, string[]>

export class ApiError extends Error {
  readonly status: number
  /** DRF's `{"detail": …}`, or the first message when the API blamed fields. */
  readonly detail: string
  /** DRF's field messages, `{"grid_levels": ["Must be between 1 and 100 levels."]}`; empty when none. */
  readonly fields: FieldErrors
  readonly body: unknown

  constructor(status: number, detail: string, fields: FieldErrors, body: unknown) {
    super(detail)
    this.name = 'ApiError'
    this.status = status
    this.detail = detail
    this.fields = fields
    this.body = body
  }

  /** The messages for one field (nested serializer errors are flattened as `parent.child`). */
  field(name: string): string[] {
    return this.fields[name] ?? []
  }
}

export interface ApiHooks {
  /** The session is gone (or never was): go to sign-in and come back. */
  onUnauthenticated?: () => void
  /** The server, or the Redis it needs, does not answer (503, or no answer at all). */
  onUnavailable?: (message: string) => void
  /** A request got through again after onUnavailable. */
  onAvailable?: () => void
  /** 403 `mfa_required` (MFA_REQUIRED): the user must set up two-factor sign-in on the Security page first. */
  onTwoFactorRequired?: () => void
}

export type QueryScalar = string | number | boolean | null | undefined
/** A list goes as the parameter repeated (`kind=a&kind=b`), as Django's `QueryDict.getlist` reads it. */
export type QueryValue = QueryScalar | readonly QueryScalar[]

export interface RequestOptions {
  query?: Record<string, QueryValue>
  body?: unknown
  signal?: AbortSignal
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])
// DRF's words when a session-only view meets an anonymous caller (our API answers 401, but a view with only
// session authentication would say 403 with this).
const NOT_AUTHENTICATED = 'Authentication credentials were not provided.'

export function readCookie(name: string, cookies: string = globalThis.document?.cookie ?? ''): string | null {
  for (const part of cookies.split(';')) {
    const [key, ...rest] = part.trim().split('=')
    if (key === name) return decodeURIComponent(rest.join('='))
  }
  return null
}

/** DRF's error body → a map field → messages; `non_field_errors` and `detail` stay under their own names. */
export function fieldErrors(body: unknown, prefix = ''): FieldErrors {
  const out: FieldErrors = {}
  if (!body || typeof body !== 'object' || Array.isArray(body)) return out
  for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
    const name = prefix ? `${prefix}.${key}` : key
    if (typeof value === 'string') out[name] = [value]
    else if (Array.isArray(value) && value.every((v) => typeof v === 'string')) out[name] = value as string[]
    else if (value && typeof value === 'object' && !Array.isArray(value))
      Object.assign(out, fieldErrors(value, name))
  }
  return out
}

function detailOf(status: number, body: unknown, fields: FieldErrors): string {
  if (body && typeof body === 'object' && 'detail' in body && typeof body.detail === 'string')
    return body.detail
  const first = Object.entries(fields)[0]
  if (first) return first[0] === 'non_field_errors' ? (first[1][0] ?? '') : `${first[0]}: ${first[1][0]}`
  if (typeof body === 'string' && body.trim() && body.length < 500) return body.trim()
  return `HTTP ${status}`
}

export interface ApiClient {
  request<T>(method: string, path: string, options?: RequestOptions): Promise<T>
  get<T>(path: string, options?: RequestOptions): Promise<T>
  post<T>(path: string, body?: unknown, options?: RequestOptions): Promise<T>
  put<T>(path: string, body?: unknown, options?: RequestOptions): Promise<T>
  patch<T>(path: string, body?: unknown, options?: RequestOptions): Promise<T>
  delete<T = void>(path: string, options?: RequestOptions): Promise<T>
}

export function createApiClient(
  hooks: ApiHooks = {},
  fetchImpl: typeof fetch = (...args) => globalThis.fetch(...args),
): ApiClient {
  let unavailable = false

  async function request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const url = new URL(path, globalThis.location?.origin ?? 'http://localhost')
    for (const [key, value] of Object.entries(options.query ?? {})) {
      for (const one of Array.isArray(value) ? value : [value]) {
        if (one !== undefined && one !== null && one !== '') url.searchParams.append(key, String(one))
      }
    }
    const headers: Record<string, string> = { Accept: 'application/json' }
    const language = globalThis.document?.documentElement.lang
    if (language) headers['Accept-Language'] = language
    if (UNSAFE.has(method)) {
      const token = readCookie('csrftoken')
      if (token) headers['X-CSRFToken'] = token
    }
    let body: string | FormData | undefined
    // A file upload goes as multipart: the browser writes its Content-Type with the boundary.
    if (options.body instanceof FormData) body = options.body
    else if (options.body !== undefined) {
      headers['Content-Type'] = 'application/json'
      body = JSON.stringify(options.body)
    }

    let response: Response
    try {
      response = await fetchImpl(url.pathname + url.search, {
        method,
        headers,
        body,
        credentials: 'same-origin',
        signal: options.signal,
      })
    } catch (error) {
      if ((error as Error)?.name === 'AbortError') throw error
      unavailable = true
      hooks.onUnavailable?.('')
      throw new ApiError(0, 'The server does not answer.', {}, null)
    }

    const text = await response.text()
    let parsed: unknown = null
    if (text) {
      try {
        parsed = JSON.parse(text)
      } catch {
        parsed = text
      }
    }

    if (response.status === 503 || response.status === 502 || response.status === 504) {
      unavailable = true
      const fields = fieldErrors(parsed)
      const detail = detailOf(response.status, parsed, fields)
      hooks.onUnavailable?.(detail)
      throw new ApiError(response.status, detail, fields, parsed)
    }
    if (unavailable) {
      unavailable = false
      hooks.onAvailable?.()
    }
    if (response.ok) return parsed as T

    const fields = fieldErrors(parsed)
    const detail = detailOf(response.status, parsed, fields)
    if (response.status === 401 || (response.status === 403 && detail === NOT_AUTHENTICATED)) {
      hooks.onUnauthenticated?.()
    } else if (response.status === 403 && (parsed as { code?: unknown } | null)?.code === 'mfa_required') {
      hooks.onTwoFactorRequired?.()
    }
    throw new ApiError(response.status, detail, fields, parsed)
  }

  return {
    request,
    get: (path, options) => request('GET', path, options),
    post: (path, body, options) => request('POST', path, { ...options, body }),
    put: (path, body, options) => request('PUT', path, { ...options, body }),
    patch: (path, body, options) => request('PATCH', path, { ...options, body }),
    delete: (path, options) => request('DELETE', path, options),
  }
}
