import { describe, expect, it } from 'vitest'
import type { CandleChart, StrategyOrder, Trade } from '@/api/detail'
import { placeFills, pnlChartOption, priceChartOption, type PriceChartText } from '@/charts/detail'
import { decimalsOf, precisionFor } from '@/pages/detail/market'
import { reportLate } from '@/pages/dashboard/rows'

const TEXT: PriceChartText = {
  buy: 'Buy',
  sell: 'Sell',
  price: 'Price',
  open: 'O',
  high: 'H',
  low: 'L',
  close: 'C',
  marketTime: 'Market time',
  fill: (side) => (side === 'buy' ? 'Bought' : 'Sold'),
}

const minute = (n: number) => new Date(Date.UTC(2026, 0, 2, 3, n)).toISOString()

function chart(n = 5): CandleChart {
  return {
    symbol: 'BTC/USDT',
    timeframe: '1m',
    origin: 'data set BTCUSDT-1m-2022-05-05',
    candles: Array.from({ length: n }, (_, i) => ({
      time: minute(i),
      market_time: new Date(Date.UTC(2022, 4, 5, 10, i)).toISOString(),
      open: '39480',
      high: '39500',
      low: '39470',
      close: '39490',
      volume: '1',
    })),
  }
}

function order(side: 'buy' | 'sell', price: string | null, id = 1): StrategyOrder {
  return {
    id,
    client_order_id: `ab1-${id}`,
    exchange_order_id: null,
    symbol: 'BTC/USDT',
    side,
    type: price === null ? 'market' : 'limit',
    role: side === 'buy' ? 'grid_buy' : 'take_profit',
    status: 'open',
    price,
    amount: '0.001',
    filled: '0',
    average_price: null,
    fee: '0',
    fee_currency: null,
    lot: null,
    error: null,
    created_at: minute(0),
    updated_at: minute(0),
    closed_at: null,
  }
}

function fill(side: 'buy' | 'sell', at: string, price = '39480', id = 1): Trade {
  return {
    id,
    strategy: 1,
    strategy_name: 'grid',
    symbol: 'BTC/USDT',
    side,
    role: side === 'buy' ? 'grid_buy' : 'take_profit',
    client_order_id: `ab1-${id}`,
    trade_id: `t${id}`,
    price,
    amount: '0.001',
    quote_amount: '39.48',
    fee: '0.00000100',
    fee_currency: 'BTC',
    executed_at: at,
  }
}

function build(orders: StrategyOrder[], fills: Trade[], currentPrice: string | null = '39490.5') {
  return priceChartOption(
    {
      chart: chart(),
      orders,
      fills,
      currentPrice,
      priceDecimals: 2,
      amountDecimals: 5,
      base: 'BTC',
      locale: 'en',
      timeZone: 'UTC',
    },
    TEXT,
  )
}

type Series = { type: string; name: string; data: unknown[]; markLine?: { data: Record<string, unknown>[] } }
const seriesOf = (option: Record<string, unknown>) => option.series as Series[]

describe('the price chart', () => {
  it('puts each fill on the candle whose span holds it, and leaves out fills older than the first candle', () => {
    const times = chart().candles.map((c) => Date.parse(c.time))
    const at = [minute(-1), minute(0), new Date(Date.parse(minute(2)) + 30_000).toISOString(), minute(9)]
    expect(
      placeFills(
        times,
        at.map((executed_at) => ({ executed_at })),
      ),
    ).toEqual([-1, 0, 2, 4])
    expect(placeFills([], [{ executed_at: minute(0) }])).toEqual([-1])
  })

  it('draws a line per resting order, buys and sells in their own colours, labelled with the price', () => {
    const { option } = build(
      [order('buy', '39400', 1), order('buy', '39400', 2), order('sell', '39600', 3)],
      [],
    )
    const lines = seriesOf(option)[0]!.markLine!.data
    const grid = lines.filter((l) => l.name !== 'price')
    expect(grid.map((l) => [l.name, l.yAxis])).toEqual([
      ['buy', 39400],
      ['sell', 39600],
    ])
    expect((grid[0]!.label as { formatter: string }).formatter).toBe('Buy 39,400.00 ×2')
    expect((grid[1]!.label as { formatter: string }).formatter).toBe('Sell 39,600.00')
    const colours = grid.map((l) => (l.lineStyle as { color: string }).color)
    expect(new Set(colours).size).toBe(2)
  })

  it('draws the current price as a dashed line, and none when there is no price', () => {
    const withPrice = seriesOf(build([], []).option)[0]!.markLine!.data
    const price = withPrice.find((l) => l.name === 'price')!
    expect(price.yAxis).toBe(39490.5)
    expect((price.lineStyle as { type: string }).type).toBe('dashed')
    expect((price.label as { formatter: string }).formatter).toBe('39,490.50')
    expect(seriesOf(build([], [], null).option)[0]!.markLine!.data).toEqual([])
  })

  it('skips market orders, which have no price to draw', () => {
    const lines = seriesOf(build([order('sell', null)], [], null).option)[0]!.markLine!.data
    expect(lines).toEqual([])
  })

  it('marks buys and sells apart and counts the markers it drew', () => {
    const built = build(
      [],
      [
        fill('buy', minute(1), '39475', 1),
        fill('sell', minute(3), '39495', 2),
        fill('buy', minute(-3), '39000', 3),
      ],
    )
    expect(built.fillCount).toBe(2)
    const [, buys, sells] = seriesOf(built.option)
    expect(buys!.data).toEqual([[1, 39475]])
    expect(sells!.data).toEqual([[3, 39495]])
  })

  it('stretches the price axis over the grid lines, so no order is drawn off the chart', () => {
    const { option } = build([order('buy', '38000'), order('sell', '41000', 2)], [])
    const y = option.yAxis as { min: number; max: number }
    expect(y.min).toBeLessThan(38000)
    expect(y.max).toBeGreaterThan(41000)
  })

  it('escapes what the tooltip shows, and names the market time of a replayed candle', () => {
    const evil = { ...chart(), symbol: '<img src=x onerror=alert(1)>' }
    const { option } = priceChartOption(
      {
        chart: evil,
        orders: [],
        fills: [fill('buy', minute(1))],
        currentPrice: null,
        priceDecimals: 2,
        amountDecimals: 5,
        base: '<b>BTC</b>',
        locale: 'en',
        timeZone: 'UTC',
      },
      { ...TEXT, fill: () => '<script>x</script>' },
    )
    const formatter = (option.tooltip as { formatter: (p: unknown) => string }).formatter
    const html = formatter([{ seriesType: 'candlestick', dataIndex: 1 }])
    expect(html).not.toContain('<script>')
    expect(html).not.toContain('<b>BTC</b>')
    expect(html).toContain('&lt;script&gt;x&lt;/script&gt; 0.00100 &lt;b&gt;BTC&lt;/b&gt; @ 39,480.00')
    expect(html).toContain('Market time: 05/05/2022, 10:01')
  })

  it('opens on the latest candles', () => {
    const { option } = priceChartOption(
      {
        chart: chart(200),
        orders: [],
        fills: [],
        currentPrice: null,
        priceDecimals: 2,
        amountDecimals: 5,
        base: 'BTC',
        locale: 'en',
        window: 50,
      },
      TEXT,
    )
    expect((option.dataZoom as { startValue: number; endValue: number }[])[0]).toMatchObject({
      startValue: 150,
      endValue: 199,
    })
  })
})

describe('the PnL curve', () => {
  it('starts from what was realized before, steps at each hour and runs on to now', () => {
    const option = pnlChartOption(
      {
        currency: 'US<DT',
        before: '0',
        total: '0.5',
        points: [
          { time: minute(0), realized_pnl: '0.24', closed_positions: 1, cumulative_pnl: '0.24' },
          { time: minute(60), realized_pnl: '0.26', closed_positions: 2, cumulative_pnl: '0.5' },
        ],
      },
      { cumulative: 'Cumulative', realized: 'Realized', closed: (n) => `${n} closed` },
      { locale: 'en', decimals: 2, timeZone: 'UTC', now: Date.parse(minute(300)) },
    )
    const [line] = option.series as { step: string; data: [number, number][] }[]
    expect(line!.step).toBe('end')
    expect(line!.data).toEqual([
      [Date.parse(minute(-60)), 0],
      [Date.parse(minute(0)), 0.24],
      [Date.parse(minute(60)), 0.5],
      [Date.parse(minute(300)), 0.5],
    ])
    const html = (option.tooltip as { formatter: (p: unknown) => string }).formatter([{ dataIndex: 2 }])
    expect(html).toContain('Cumulative: +0.50 US&lt;DT')
    expect(html).toContain('2 closed')
  })

  it('ends at its last hour when that is now', () => {
    const option = pnlChartOption(
      {
        currency: 'USDT',
        before: '1',
        total: '1.5',
        points: [{ time: minute(0), realized_pnl: '0.5', closed_positions: 1, cumulative_pnl: '1.5' }],
      },
      { cumulative: 'Cumulative', realized: 'Realized', closed: (n) => `${n} closed` },
      { locale: 'en', decimals: 2, now: Date.parse(minute(0)) },
    )
    const [line] = option.series as { data: [number, number][] }[]
    expect(line!.data).toEqual([
      [Date.parse(minute(-60)), 1],
      [Date.parse(minute(0)), 1.5],
    ])
  })
})

describe('the detail page numbers', () => {
  it('shows prices at the market tick and amounts at its step, money in cents for a stablecoin', () => {
    expect(precisionFor({ tick_size: '0.01000000', step_size: '0.00001000' }, 'USDT', 8, 8)).toEqual({
      price: 2,
      amount: 5,
      quote: 2,
    })
    expect(precisionFor(null, 'BTC', 3, 4)).toEqual({ price: 3, amount: 4, quote: 6 })
    expect(decimalsOf('30000.10')).toBe(2)
    expect(decimalsOf(null)).toBe(0)
  })

  it('calls an engine late after three ticks, at least 15 s', () => {
    const at = Date.parse('2026-01-02T03:00:00Z')
    expect(reportLate('2026-01-02T02:59:46Z', '1', at)).toBe(false)
    expect(reportLate('2026-01-02T02:59:44Z', '1', at)).toBe(true)
    expect(reportLate('2026-01-02T02:59:35Z', '10', at)).toBe(false)
    expect(reportLate(null, '1', at)).toBe(false)
  })
})
