import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { Preview, PreviewLevel, Strategy } from '@/api/strategies'
import { escapeHtml, previewChartOption, type PreviewChartText } from '@/charts/preview'
import { parseSkipped, ratePercent, summarize } from '@/forms/ladder'
import { useStrategiesStore } from '@/stores/strategies'

function level(n: number, price: string, takeProfit: string | null, overrides: Partial<PreviewLevel> = {}) {
  return {
    level: n,
    price,
    amount: '0.00253',
    quote: '99.8987451',
    quote_needed: '99.99864385',
    take_profit_price: takeProfit,
    take_profit_amount: '0.00252',
    cycle_profit: '0.397333981308108108',
    stop_loss_below: null,
    problem: null,
    ...overrides,
  } satisfies PreviewLevel
}

// The preview the API gave for a 5 × 100 USDT grid on the BTC/USDT replay, trimmed to three levels and one skip.
const preview: Preview = {
  symbol: 'BTC/USDT',
  origin: 'data set BTCUSDT-1m-2022-05-05',
  price: '39684.1',
  fee_rate: '0.001',
  market: {
    tick_size: '0.01',
    step_size: '0.00001',
    min_amount: '0.00001',
    min_notional: '10',
    maker_fee: '0.001',
    taker_fee: '0.001',
    max_open_orders: 200,
  },
  levels: [
    level(1, '39485.67', '39722.59', { stop_loss_below: '37511.3865' }),
    level(2, '39287.25', '39522.98', { stop_loss_below: '37322.8875' }),
    level(4, '38890.41', null, { cycle_profit: null, problem: 'above the max price' }),
  ],
  total_quote: '299.5',
  total_quote_needed: '299.63770309',
  skipped: ['level 3 at 39088.83: below the min notional 10; an order size of 10.02 would place it'],
  paused: [],
  notes: [],
}

describe('the ladder summary', () => {
  it('reads the range, the take-profits, the first stop and the profit of a cycle, exactly', () => {
    const s = summarize(preview)

    expect(s).toMatchObject({
      base: 'BTC',
      quote: 'USDT',
      priceDecimals: 2,
      amountDecimals: 5,
      quoteDecimals: 2,
      placed: 3,
      lowestBuy: '38890.41',
      highestBuy: '39485.67',
      lowestTakeProfit: '39522.98',
      highestTakeProfit: '39722.59',
      firstStopLoss: '37511.3865',
    })
    // 2 × 0.397333981308108108, not a float's 0.7946679626162162.
    expect(s.profitPerCycle).toBe('0.794667962616216216')
  })

  it('places a skipped level where it would have been, with the engine reason', () => {
    expect(parseSkipped(preview.skipped[0]!)).toEqual({
      level: 3,
      price: '39088.83',
      reason: 'below the min notional 10; an order size of 10.02 would place it',
    })
    expect(parseSkipped('level 7 at 100.5 waits: the price band')).toMatchObject({
      level: 7,
      reason: 'waits: the price band',
    })
    expect(parseSkipped('max positions reached')).toEqual({
      level: null,
      price: null,
      reason: 'max positions reached',
    })
  })

  it('shows a fee rate as a percentage without a float', () => {
    expect(ratePercent('0.001')).toBe('0.1')
    expect(ratePercent('0.00075')).toBe('0.075')
    expect(ratePercent('1')).toBe('100')
    expect(ratePercent(null)).toBeNull()
  })
})

describe('the preview chart', () => {
  const text: PreviewChartText = {
    level: (n) => `L${n}`,
    buy: 'Buy',
    takeProfit: 'Take-profit',
    stopLoss: 'Stop-loss',
    skipped: 'Skipped',
    price: 'Price',
    cycleProfit: 'Cycle profit',
    amount: 'Amount',
  }
  type Series = { name: string; type: string; data: unknown[]; markLine?: { data: { yAxis: number }[] } }
  const option = previewChartOption(preview, summarize(preview), text, 'en') as {
    xAxis: { data: string[] }
    series: Series[]
    legend: { data: string[] }
    tooltip: { formatter: (p: unknown) => string }
  }
  const named = (name: string) => option.series.find((s) => s.name === name)!

  it('has a column per level, the skipped one in its place', () => {
    expect(option.xAxis.data).toEqual(['L1', 'L2', 'L3', 'L4'])
    expect(named('Skipped').data).toEqual(['-', '-', 39088.83, '-'])
    expect(named('Buy').data).toEqual([39485.67, 39287.25, '-', 38890.41])
  })

  it('draws each buy up to its take-profit, and none for a lot that could have none', () => {
    expect(named('Take-profit').data).toEqual([
      [39485.67, 39722.59, 39485.67, 39722.59],
      [39287.25, 39522.98, 39287.25, 39522.98],
      ['-', '-', '-', '-'],
      ['-', '-', '-', '-'],
    ])
    expect(named('Take-profit').markLine!.data).toEqual([{ yAxis: 39684.1 }])
  })

  it('names in its legend only what it draws', () => {
    const withoutStops = previewChartOption(
      { ...preview, levels: preview.levels.map((l) => ({ ...l, stop_loss_below: null })), skipped: [] },
      summarize(preview),
      text,
      'en',
    ) as { legend: { data: string[] } }

    expect(option.legend.data).toEqual(['Take-profit', 'Buy', 'Stop-loss', 'Skipped'])
    expect(withoutStops.legend.data).toEqual(['Take-profit', 'Buy'])
  })

  it('tells each level in its tooltip at the market precision, and a skip by its reason, escaped', () => {
    expect(option.tooltip.formatter([{ dataIndex: 0 }])).toBe(
      '<b>L1</b><br>Buy: 39,485.67 × 0.00253 BTC = 99.90 USDT<br>Take-profit: 39,722.59<br>' +
        'Cycle profit: +0.40 USDT<br>Stop-loss: &lt; 37,511.39',
    )
    expect(option.tooltip.formatter([{ dataIndex: 2 }])).toContain('below the min notional 10')
    expect(escapeHtml('<img src=x onerror=alert(1)>')).toBe('&lt;img src=x onerror=alert(1)&gt;')
  })
})

describe('the strategies store', () => {
  beforeEach(() => setActivePinia(createPinia()))
  afterEach(() => vi.unstubAllGlobals())

  const strategy = (id: number, desired: 'running' | 'stopped') =>
    ({ id, name: `grid ${id}`, desired_state: desired }) as Strategy

  it('tells a strategy\'s state from the running list, and "starting" while the list has not caught up', async () => {
    vi.stubGlobal('fetch', async () =>
      Response.json([
        {
          id: 1,
          desired_state: 'running',
          running: true,
          status: { status: 'running' },
          retry_after_error: null,
        },
        {
          id: 2,
          desired_state: 'running',
          running: false,
          status: null,
          retry_after_error: 'invalid API key',
        },
      ]),
    )
    const store = useStrategiesStore()
    await store.loadRuntime()

    expect(store.stateOf(strategy(1, 'running'))).toBe('running')
    expect(store.stateOf(strategy(2, 'running'))).toBe('retrying')
    expect(store.stateOf(strategy(3, 'running'))).toBe('starting')
    expect(store.stateOf(strategy(4, 'stopped'))).toBe('stopped')
  })

  it('sends stop with cancel_all only when asked, and keeps the answer', async () => {
    const fetch = vi.fn(async (url: string) =>
      Response.json({ ...strategy(1, 'stopped'), name: url.includes('cancel_all=true') ? 'all' : 'buys' }),
    )
    vi.stubGlobal('fetch', fetch)
    const store = useStrategiesStore()
    store.items = [strategy(1, 'running')]

    await store.stop(1, false)
    expect(fetch.mock.calls[0]![0]).toBe('/api/strategies/1/stop?cancel_all=false')
    await store.stop(1, true)

    expect(fetch.mock.calls[1]![0]).toBe('/api/strategies/1/stop?cancel_all=true')
    expect(store.items).toEqual([{ ...strategy(1, 'stopped'), name: 'all' }])
  })
})
