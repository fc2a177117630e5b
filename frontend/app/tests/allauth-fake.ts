import { vi } from 'vitest'

/** A reply of the fake allauth server: its status, its JSON body, and headers (Retry-After). */
export interface Reply {
  status: number
  body?: unknown
  headers?: Record<string, string>
}

export interface Call {
  method: string
  path: string
  body: unknown
  headers: Record<string, string>
}

/**
 * `fetch` answering from a script: each "METHOD /path" (without /_allauth/browser/v1) takes its replies in order, and
 * the last one repeats. Records every call, so a test can check what the app sent.
 */
export function fakeAllauth(script: Record<string, Reply | Reply[]>) {
  const queues = new Map(Object.entries(script).map(([key, replies]) => [key, [replies].flat()]))
  const calls: Call[] = []
  const fetch = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const path = String(input).replace('/_allauth/browser/v1', '')
    const method = init.method ?? 'GET'
    calls.push({
      method,
      path,
      body: init.body ? JSON.parse(String(init.body)) : undefined,
      headers: (init.headers ?? {}) as Record<string, string>,
    })
    const queue = queues.get(`${method} ${path}`)
    if (!queue) throw new Error(`unexpected ${method} ${path}`)
    const reply = queue.length > 1 ? queue.shift()! : queue[0]!
    return new Response(reply.body === undefined ? null : JSON.stringify(reply.body), {
      status: reply.status,
      headers: { 'Content-Type': 'application/json', ...reply.headers },
    })
  })
  vi.stubGlobal('fetch', fetch)
  return { fetch, calls }
}

export const alice = {
  id: 1,
  username: 'alice',
  display: 'alice',
  has_usable_password: true,
  mfa_setup_required: false,
}

export const signedIn = (user = alice): Reply => ({
  status: 200,
  body: { status: 200, data: { user, methods: [] }, meta: { is_authenticated: true } },
})

export const anonymous: Reply = {
  status: 401,
  body: { status: 401, data: { flows: [{ id: 'login' }] }, meta: { is_authenticated: false } },
}

export const codeStep: Reply = {
  status: 401,
  body: {
    status: 401,
    data: {
      flows: [
        { id: 'login' },
        { id: 'mfa_authenticate', is_pending: true, types: ['recovery_codes', 'totp'] },
      ],
    },
    meta: { is_authenticated: false },
  },
}

export const failure = (status: number, code: string, message = '', param?: string): Reply => ({
  status,
  body: { status, errors: [{ code, message, ...(param ? { param } : {}) }] },
})

export const lockedOut: Reply = {
  ...failure(429, 'locked_out', 'Too many failed sign-ins for this username from your address …'),
  headers: { 'Retry-After': '900' },
}

export const config = (meta: Record<string, unknown> = {}, providers: unknown[] = []): Reply => ({
  status: 200,
  body: {
    status: 200,
    data: { account: { login_methods: ['username'] }, socialaccount: { providers } },
    meta: { github_allow_list_configured: false, mfa_required: false, ...meta },
  },
})

export const github = { id: 'github', name: 'GitHub', flows: ['provider_redirect'] }
