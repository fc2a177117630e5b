import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { useAccountsStore } from '@/stores/accounts'

function answer(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } })
}

const page = (results: object[]) => ({ count: results.length, next: null, previous: null, results })

describe('the accounts store', () => {
  beforeEach(() => setActivePinia(createPinia()))
  afterEach(() => vi.unstubAllGlobals())

  it('lists every account in one request, and keeps a saved one in name order', async () => {
    const fetch = vi.fn(async (_url: string, init?: RequestInit) => {
      if (init?.method === 'POST') return answer(201, { id: 9, name: 'Alpha' })
      return answer(200, page([{ id: 1, name: 'Main' }]))
    })
    vi.stubGlobal('fetch', fetch)
    const store = useAccountsStore()

    await store.load()
    await store.save(null, { name: 'Alpha', exchange: 'paper' })

    expect(fetch.mock.calls[0]![0]).toBe('/api/accounts?page_size=500')
    expect(store.items.map((a) => a.name)).toEqual(['Alpha', 'Main'])
    expect(store.byId.get(9)?.name).toBe('Alpha')
  })

  it('keeps the list when an edit or a delete is refused, and says why', async () => {
    const fetch = vi.fn(async (_url: string, init?: RequestInit) => {
      if (init?.method === 'DELETE') return answer(409, { detail: "Account 'Main' has 1 strategy." })
      if (init?.method === 'PATCH') return answer(400, { name: ['This field may not be blank.'] })
      return answer(200, page([{ id: 1, name: 'Main' }]))
    })
    vi.stubGlobal('fetch', fetch)
    const store = useAccountsStore()
    await store.load()

    await expect(store.remove(1)).rejects.toMatchObject({ status: 409 })
    await expect(store.save(1, { name: '', exchange: 'paper' })).rejects.toMatchObject({ status: 400 })

    expect(store.items.map((a) => a.name)).toEqual(['Main'])
  })

  it('shows a list that cannot be loaded as an error, not as "no accounts"', async () => {
    vi.stubGlobal('fetch', async () => answer(500, { detail: 'Server error.' }))
    const store = useAccountsStore()

    await store.load()

    expect(store.error).toBe('Server error.')
    expect(store.loaded).toBe(false)
  })

  it('asks for the exchanges once however many forms want them, and again after a failure', async () => {
    let fail = true
    const sets = [{ name: 'BTCUSDT-1m-2022-05-05', symbol: 'BTC/USDT' }]
    const fetch = vi.fn(async (url: string) =>
      fail
        ? answer(500, { detail: 'No.' })
        : answer(200, url.endsWith('/datasets') ? sets : [{ id: 'binance' }]),
    )
    vi.stubGlobal('fetch', fetch)
    const store = useAccountsStore()

    await Promise.all([store.loadExchanges(), store.loadExchanges()])
    expect(store.exchangesError).toBe('No.')
    fail = false
    await Promise.all([store.loadExchanges(), store.loadExchanges()])
    await store.loadExchanges()

    // Each attempt asks for the exchanges and the paper data sets together.
    expect(fetch.mock.calls.map((call) => call[0])).toEqual([
      '/api/exchanges',
      '/api/exchanges/paper/datasets',
      '/api/exchanges',
      '/api/exchanges/paper/datasets',
    ])
    expect(store.exchange('binance')).toEqual({ id: 'binance' })
    expect(store.datasets).toEqual(sets)
    expect(store.exchangesError).toBeNull()
  })
})
