import { describe, expect, it } from 'vitest'
import type { PnlCurrencySeries, Trade } from '@/api/trades'
import { PNL_COLORS, dailyPnlOption, pnlDays } from '@/charts/pnl'
import {
  currencyDecimals,
  decimalsBySymbol,
  feeDecimals,
  percentOf,
  significantDecimals,
} from '@/pages/trades/numbers'

const series: PnlCurrencySeries = {
  currency: 'USDT',
  before: '1.5',
  total: '1.55',
  points: [
    { time: '2026-12-05T00:00:00+08:00', realized_pnl: '0.23', closed_positions: 1, cumulative_pnl: '1.73' },
    { time: '2026-12-07T00:00:00+08:00', realized_pnl: '-0.42', closed_positions: 2, cumulative_pnl: '1.31' },
    { time: '2026-12-08T00:00:00+08:00', realized_pnl: '0.24', closed_positions: 1, cumulative_pnl: '1.55' },
  ],
}
const text = { daily: 'Daily PnL', cumulative: 'Cumulative', closed: (n: number) => `${n} closed` }

interface BarSeries {
  data: { value: number; itemStyle: { color: string } }[]
}

describe('the daily PnL chart', () => {
  it('keeps the server’s days and fills the days without a close, carrying the running total', () => {
    expect(pnlDays(series)).toEqual([
      { day: '2026-12-05', pnl: '0.23', closed: 1, cumulative: '1.73' },
      { day: '2026-12-06', pnl: null, closed: 0, cumulative: '1.73' },
      { day: '2026-12-07', pnl: '-0.42', closed: 2, cumulative: '1.31' },
      { day: '2026-12-08', pnl: '0.24', closed: 1, cumulative: '1.55' },
    ])
    expect(pnlDays({ ...series, points: [] })).toEqual([])
  })

  it('colours a bar by its sign, in each theme', () => {
    for (const dark of [false, true]) {
      const colors = dark ? PNL_COLORS.dark : PNL_COLORS.light
      const option = dailyPnlOption(series, { locale: 'en', precision: 2, dark, text }) as {
        series: [BarSeries, { data: number[] }]
        xAxis: { data: string[] }
      }
      expect(option.xAxis.data).toEqual(['2026-12-05', '2026-12-06', '2026-12-07', '2026-12-08'])
      expect(option.series[0].data.map((d) => d.itemStyle.color)).toEqual([
        colors.gain,
        colors.gain,
        colors.loss,
        colors.gain,
      ])
      expect(option.series[0].data.map((d) => d.value)).toEqual([0.23, 0, -0.42, 0.24])
      expect(option.series[1].data).toEqual([1.73, 1.73, 1.31, 1.55])
    }
  })

  it('opens a long range on its last 90 days, the rest a slide away', () => {
    const points = Array.from({ length: 120 }, (_, i) => {
      const day = new Date(Date.UTC(2026, 0, 1 + i)).toISOString().slice(0, 10)
      return {
        time: `${day}T00:00:00+08:00`,
        realized_pnl: '1',
        closed_positions: 1,
        cumulative_pnl: String(i + 1),
      }
    })
    const long = dailyPnlOption({ ...series, points }, { locale: 'en', precision: 2, dark: false, text }) as {
      dataZoom: { startValue: number; endValue: number }[]
    }
    expect(long.dataZoom.map((z) => [z.startValue, z.endValue])).toEqual([
      [30, 119],
      [30, 119],
    ])
    const short = dailyPnlOption(series, { locale: 'en', precision: 2, dark: false, text }) as {
      dataZoom: unknown[]
    }
    expect(short.dataZoom).toEqual([])
  })

  it('writes the exact decimals in the tooltip, and escapes what came from elsewhere', () => {
    const odd = { ...series, currency: '<img src=x onerror=alert(1)>' }
    const option = dailyPnlOption(odd, { locale: 'en', precision: 2, dark: false, text }) as {
      tooltip: { formatter: (params: unknown) => string }
    }
    const html = option.tooltip.formatter([{ dataIndex: 2 }])
    expect(html).toContain('2026-12-07')
    expect(html).toContain('-0.42 &lt;img src=x onerror=alert(1)&gt;')
    expect(html).toContain('2 closed')
    expect(html).toContain('Cumulative: +1.31')
    expect(html).not.toContain('<img')
    expect(option.tooltip.formatter([{ dataIndex: 99 }])).toBe('')
  })
})

function trade(fields: Partial<Trade>): Trade {
  return {
    id: 1,
    strategy: 1,
    strategy_name: 'grid',
    symbol: 'BTC/USDT',
    side: 'buy',
    role: 'grid_buy',
    client_order_id: 'ab1-1',
    trade_id: 't1',
    price: '29500.000000000000000000',
    amount: '0.001000000000000000',
    quote_amount: '29.500000000000000000',
    fee: '0.029500000000000000',
    fee_currency: 'USDT',
    executed_at: '2026-12-07T10:00:00+08:00',
    ...fields,
  }
}

describe('the numbers of the trades page', () => {
  it('shows each market at the most digits its fills need, a stablecoin price with its cents', () => {
    const found = decimalsBySymbol([
      trade({}),
      trade({ price: '29500.125000000000000000', amount: '0.000150000000000000' }),
      trade({ symbol: 'ETH/BTC', price: '0.051230000000000000', amount: '0.100000000000000000' }),
    ])
    expect(found.get('BTC/USDT')).toEqual({ price: 3, amount: 5, quote: 3 })
    expect(found.get('ETH/BTC')).toEqual({ price: 5, amount: 1, quote: 6 })
    expect(decimalsBySymbol([trade({})]).get('BTC/USDT')).toEqual({ price: 2, amount: 3, quote: 2 })
    expect(currencyDecimals('USDT', found)).toBe(3)
    expect(currencyDecimals('EUR', found)).toBe(2)
  })

  it('lines the fees up per fee currency', () => {
    const fees = feeDecimals([
      trade({ fee: '0.03' }),
      trade({ fee: '0.02964' }),
      trade({ fee: '1E-6', fee_currency: 'BTC' }),
    ])
    expect(Object.fromEntries(fees)).toEqual({ USDT: 5, BTC: 6 })
    expect(significantDecimals('0.000000000000000000001')).toBe(10)
  })

  it('writes a win rate as a percentage without a float', () => {
    expect(percentOf('0.6667')).toBe('66.67')
    expect(percentOf('1')).toBe('100')
    expect(percentOf('0.5')).toBe('50')
    expect(percentOf(null)).toBeNull()
  })
})
