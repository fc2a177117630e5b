import { describe, expect, it, vi } from 'vitest'
import { api } from '@/api'
import { tradeQuery, tradesApi, tradesCsvUrl } from '@/api/trades'
import {
  DEFAULT_PAGE_SIZE,
  filtersOf,
  isFiltered,
  localMidnight,
  queryFromView,
  viewFromQuery,
} from '@/pages/trades/view'

describe('the trades API binding', () => {
  it('sends only the filters that are set, the symbol as the API reads it', () => {
    expect(tradeQuery({})).toEqual({})
    expect(
      tradeQuery({
        strategy: 3,
        symbol: ' btc/usdt ',
        side: 'sell',
        since: '2026-12-01T00:00:00Z',
        until: null,
      }),
    ).toEqual({ strategy: 3, symbol: 'BTC/USDT', side: 'sell', since: '2026-12-01T00:00:00Z' })
    expect(tradeQuery({ strategy: null, symbol: '  ', side: null })).toEqual({})
  })

  it('links the CSV of every matching trade, with the filters encoded', () => {
    expect(tradesCsvUrl({})).toBe('/api/trades?format=csv')
    expect(tradesCsvUrl({ symbol: 'BTC/USDT', since: '2026-12-01T00:00:00+08:00' })).toBe(
      '/api/trades?format=csv&symbol=BTC%2FUSDT&since=2026-12-01T00%3A00%3A00%2B08%3A00',
    )
  })

  it('asks the PnL series without the side: PnL belongs to round trips', async () => {
    const get = vi.spyOn(api, 'get').mockResolvedValue({})
    await tradesApi.pnl({ side: 'buy', strategy: 2 })
    expect(get).toHaveBeenCalledWith('/api/trades/pnl', {
      query: { strategy: 2, bucket: 'day' },
      signal: undefined,
    })
    await tradesApi.list({ side: 'buy' }, 3, 20)
    expect(get).toHaveBeenLastCalledWith('/api/trades', {
      query: { side: 'buy', page: 3, page_size: 20 },
      signal: undefined,
    })
  })
})

describe('the trades view in the URL', () => {
  it('reads a shared link back into the same view', () => {
    const view = viewFromQuery({
      strategy: '3',
      symbol: 'btc/usdt',
      side: 'sell',
      from: '2026-12-01',
      to: '2026-12-07',
      page: '2',
      page_size: '100',
    })
    expect(view).toEqual({
      strategy: 3,
      symbol: 'BTC/USDT',
      side: 'sell',
      from: '2026-12-01',
      to: '2026-12-07',
      page: 2,
      pageSize: 100,
    })
    expect(viewFromQuery(queryFromView(view))).toEqual(view)
  })

  it('keeps the plain page a plain /trades', () => {
    const view = viewFromQuery({})
    expect(view.pageSize).toBe(DEFAULT_PAGE_SIZE)
    expect(queryFromView(view)).toEqual({})
    expect(isFiltered(view)).toBe(false)
  })

  it('leaves out what it cannot read rather than sending it', () => {
    const view = viewFromQuery({
      strategy: 'x',
      side: 'both',
      from: '2026-02-30',
      to: 'yesterday',
      page: '-1',
      page_size: '7',
    })
    expect(view).toEqual(viewFromQuery({}))
  })

  it('swaps a range given backwards', () => {
    const view = viewFromQuery({ from: '2026-12-07', to: '2026-12-01' })
    expect([view.from, view.to]).toEqual(['2026-12-01', '2026-12-07'])
  })

  it('sends whole days in the reader’s zone as instants, the last day included', () => {
    const view = viewFromQuery({ from: '2026-12-01', to: '2026-12-07' })
    const filters = filtersOf(view)
    expect(filters.since).toBe(new Date(2026, 11, 1).toISOString())
    expect(filters.until).toBe(new Date(2026, 11, 8).toISOString())
    expect(localMidnight('2026-12-31', 1).getDate()).toBe(1)
    expect(isFiltered(view)).toBe(true)
  })
})
