import { describe, expect, it, vi } from 'vitest'
import { ApiError, createApiClient, fieldErrors, readCookie } from '@/api/client'

function answer(status: number, body?: unknown): Response {
  const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body)
  return new Response(text || null, { status, headers: { 'Content-Type': 'application/json' } })
}

function setCookies(...cookies: string[]): void {
  for (const cookie of document.cookie.split(';')) {
    const name = cookie.split('=')[0]?.trim()
    if (name) document.cookie = `${name}=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/`
  }
  for (const cookie of cookies) document.cookie = `${cookie}; path=/`
}

describe('the API client', () => {
  it('sends the csrftoken cookie as X-CSRFToken on unsafe methods only, with the session cookie', async () => {
    setCookies('sessionid=abc', 'csrftoken=tok%2Ben123')
    const fetch = vi.fn(async () => answer(200, { ok: true }))
    const api = createApiClient({}, fetch)

    await api.post('/api/strategies/1/start')
    await api.get('/api/strategies')
    await api.delete('/api/tokens/3')

    const [postUrl, post] = fetch.mock.calls[0] as unknown as [string, RequestInit]
    expect(postUrl).toBe('/api/strategies/1/start')
    expect(post.method).toBe('POST')
    expect(post.credentials).toBe('same-origin')
    expect((post.headers as Record<string, string>)['X-CSRFToken']).toBe('tok+en123')
    const get = (fetch.mock.calls[1] as unknown as [string, RequestInit])[1]
    expect((get.headers as Record<string, string>)['X-CSRFToken']).toBeUndefined()
    const del = (fetch.mock.calls[2] as unknown as [string, RequestInit])[1]
    expect((del.headers as Record<string, string>)['X-CSRFToken']).toBe('tok+en123')
  })

  it("asks in the page's language, so the server's own messages come in it", async () => {
    const fetch = vi.fn(async () => answer(200, {}))
    const api = createApiClient({}, fetch)

    document.documentElement.lang = 'zh-CN'
    await api.get('/api/accounts')
    document.documentElement.lang = 'en'
    await api.get('/api/accounts')

    const sent = fetch.mock.calls.map((call) => {
      const init = (call as unknown as [string, RequestInit])[1]
      return (init.headers as Record<string, string>)['Accept-Language']
    })
    expect(sent).toEqual(['zh-CN', 'en'])
  })

  it('sends a JSON body and query parameters, leaving out empty ones', async () => {
    const fetch = vi.fn(async () => answer(201, { id: 7 }))
    const api = createApiClient({}, fetch)

    const created = await api.post<{ id: number }>(
      '/api/strategies',
      { grid_levels: 5 },
      { query: { a: 1, b: '' } },
    )

    expect(created).toEqual({ id: 7 })
    const [url, init] = fetch.mock.calls[0] as unknown as [string, RequestInit]
    expect(url).toBe('/api/strategies?a=1')
    expect(init.body).toBe('{"grid_levels":5}')
    expect((init.headers as Record<string, string>)['Content-Type']).toBe('application/json')
  })

  it('sends a list as the parameter repeated, in order, leaving out empty items and empty lists', async () => {
    const fetch = vi.fn(async () => answer(200, {}))
    const api = createApiClient({}, fetch)

    await api.get('/api/events', { query: { kind: ['buy_filled', '', 'error', null], page_size: 10 } })
    await api.delete('/api/x', { query: { id: [3, 1, 3], none: [] } })
    await api.post('/api/y', undefined, { query: { q: ['a&b', 'c d'] } })

    const urls = fetch.mock.calls.map((call) => (call as unknown as [string])[0])
    expect(urls).toEqual([
      '/api/events?kind=buy_filled&kind=error&page_size=10',
      '/api/x?id=3&id=1&id=3',
      '/api/y?q=a%26b&q=c+d',
    ])
  })

  it('keeps decimals the strings the API sent', async () => {
    const api = createApiClient({}, async () => answer(200, '{"price": "29650.120000000000000001"}'))
    expect(await api.get('/api/x')).toEqual({ price: '29650.120000000000000001' })
  })

  it('sends the user to sign in on 401', async () => {
    const onUnauthenticated = vi.fn()
    const api = createApiClient({ onUnauthenticated }, async () =>
      answer(401, { detail: 'Authentication credentials were not provided.' }),
    )

    await expect(api.get('/api/strategies')).rejects.toMatchObject({ status: 401 })
    expect(onUnauthenticated).toHaveBeenCalledOnce()
  })

  it('treats a 403 for a missing sign-in like a 401, but not a 403 for anything else', async () => {
    const onUnauthenticated = vi.fn()
    let body = { detail: 'Authentication credentials were not provided.' }
    const api = createApiClient({ onUnauthenticated }, async () => answer(403, body))

    await expect(api.get('/api/a')).rejects.toBeInstanceOf(ApiError)
    body = { detail: 'CSRF Failed: CSRF token missing.' }
    await expect(api.post('/api/a')).rejects.toMatchObject({ status: 403, detail: body.detail })
    expect(onUnauthenticated).toHaveBeenCalledTimes(1)
  })

  it('sends a user who must set up two-factor sign-in to the Security page on 403 mfa_required', async () => {
    const onTwoFactorRequired = vi.fn()
    const onUnauthenticated = vi.fn()
    const replies = [
      answer(403, { detail: 'Two-factor sign-in is required on this server.', code: 'mfa_required' }),
      answer(403, { detail: 'You do not have permission to perform this action.' }),
    ]
    const api = createApiClient({ onTwoFactorRequired, onUnauthenticated }, async () => replies.shift()!)

    await expect(api.get('/api/strategies')).rejects.toMatchObject({ status: 403 })
    await expect(api.get('/api/strategies')).rejects.toMatchObject({ status: 403 })
    expect(onTwoFactorRequired).toHaveBeenCalledOnce()
    expect(onUnauthenticated).not.toHaveBeenCalled()
  })

  it('raises the banner on 503 and lowers it once a request gets through', async () => {
    const onUnavailable = vi.fn()
    const onAvailable = vi.fn()
    const replies = [answer(503, { detail: 'Redis is unreachable.' }), answer(200, []), answer(200, [])]
    const api = createApiClient({ onUnavailable, onAvailable }, async () => replies.shift()!)

    await expect(api.get('/api/strategies/running')).rejects.toMatchObject({ status: 503 })
    expect(onUnavailable).toHaveBeenCalledWith('Redis is unreachable.')
    expect(onAvailable).not.toHaveBeenCalled()
    await api.get('/api/strategies/running')
    await api.get('/api/strategies/running')
    expect(onAvailable).toHaveBeenCalledOnce()
  })

  it('raises the banner when the server does not answer at all', async () => {
    const onUnavailable = vi.fn()
    const api = createApiClient({ onUnavailable }, async () => {
      throw new TypeError('Failed to fetch')
    })

    await expect(api.get('/api/workers')).rejects.toMatchObject({ status: 0 })
    expect(onUnavailable).toHaveBeenCalledOnce()
  })

  it('gives a 400 its messages per field, so a form can show each beside its field', async () => {
    const api = createApiClient({}, async () =>
      answer(400, {
        grid_levels: ['Must be between 1 and 100 levels.'],
        buy_offset_pct: ['Must be between 0.01 and 50.', 'Too wide for 5 levels.'],
        non_field_errors: ['Nothing was saved.'],
      }),
    )

    const error = (await api.post('/api/strategies', {}).catch((e: unknown) => e)) as ApiError

    expect(error).toBeInstanceOf(ApiError)
    expect(error.status).toBe(400)
    expect(error.field('grid_levels')).toEqual(['Must be between 1 and 100 levels.'])
    expect(error.field('buy_offset_pct')).toHaveLength(2)
    expect(error.field('symbol')).toEqual([])
    expect(error.detail).toBe('grid_levels: Must be between 1 and 100 levels.')
  })
})

describe('field errors', () => {
  it('flattens nested serializer errors and keeps strings as one message', () => {
    expect(fieldErrors({ paper_balances: { USDT: ['Must be positive.'] }, detail: 'No.' })).toEqual({
      'paper_balances.USDT': ['Must be positive.'],
      detail: ['No.'],
    })
    expect(fieldErrors(['a list'])).toEqual({})
    expect(fieldErrors(null)).toEqual({})
  })
})

describe('cookies', () => {
  it('reads one cookie by its exact name', () => {
    expect(readCookie('csrftoken', 'xcsrftoken=1; csrftoken=abc; b=2')).toBe('abc')
    expect(readCookie('csrftoken', 'b=2')).toBeNull()
  })
})
