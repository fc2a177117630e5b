import { describe, expect, it } from 'vitest'
import type { SweepRow } from '@/api/backtests'
import type { Strategy } from '@/api/strategies'
import {
  applyParameters,
  applyStrategy,
  backtestForm,
  backtestPayload,
  etaText,
  progressPercent,
  validateBacktest,
} from '@/forms/backtest'
import { boundMessage, checkBound } from '@/forms/bounds'
import {
  bestRow,
  buildHeatmap,
  expandRange,
  parseList,
  rowQuery,
  sortRows,
  sweepPlan,
  valueSpec,
  type SweptField,
  type ValueSpec,
} from '@/forms/sweep'

const strategy: Strategy = {
  id: 7,
  name: 'BTC grid',
  account: 1,
  symbol: 'BTC/USDT',
  grid_levels: 8,
  buy_offset_pct: '0.7500',
  sell_offset_pct: '1.2000',
  order_size_quote: '25.00000000',
  reprice_threshold_pct: '1.0000',
  loop_interval: '1.00',
  max_positions: 6,
  stop_loss_pct: '12.0000',
  time_stop_hours: null,
  daily_loss_limit: null,
  max_consecutive_losses: 3,
  cooldown_minutes: 30,
  desired_state: 'stopped',
  created_at: '',
  updated_at: '',
}

describe('the backtest form', () => {
  it('prefills every parameter from a strategy, as the strategy form writes them', () => {
    const form = backtestForm()
    form.dataset = 'sample:BTCUSDT-1m-2022-05-05'
    applyStrategy(form, strategy)
    expect(form).toMatchObject({
      strategy: 7,
      symbol: 'BTC/USDT',
      grid_levels: '8',
      buy_offset_pct: '0.75',
      sell_offset_pct: '1.2',
      order_size_quote: '25',
      stop_loss_pct: '12',
      time_stop_hours: '',
      max_consecutive_losses: '3',
      cooldown_minutes: '30',
      dataset: 'sample:BTCUSDT-1m-2022-05-05',
    })
  })

  it('sends the numbers as typed, an empty optional rule as null, and the options', () => {
    const form = backtestForm(strategy)
    form.dataset = 12
    form.stop_loss_pct = ''
    form.slippage_pct = '0.1'
    form.fee_in_base = true
    const body = backtestPayload(form)
    expect(body).toMatchObject({
      dataset: 12,
      strategy: 7,
      symbol: 'BTC/USDT',
      grid_levels: '8',
      buy_offset_pct: '0.75',
      stop_loss_pct: null,
      time_stop_hours: null,
      initial_quote: '10000',
      slippage_pct: '0.1',
      fee_in_base: true,
    })
    expect(body).not.toHaveProperty('loop_interval')
    expect(body).not.toHaveProperty('name')
  })

  it('names each field out of range with the strategy model message', () => {
    const form = backtestForm()
    form.dataset = 'sample:x'
    form.symbol = 'BTC/USDT'
    expect(validateBacktest(form)).toEqual({})
    form.grid_levels = '101'
    form.buy_offset_pct = '0'
    form.stop_loss_pct = '100'
    form.cooldown_minutes = '1.5'
    form.initial_quote = ''
    expect(validateBacktest(form)).toEqual({
      grid_levels: 'Must be between 1 and 100 levels.',
      buy_offset_pct: 'Must be between 0.01 and 50 %.',
      stop_loss_pct: 'Must be between 0.01 and 99.99 % (or empty to switch it off).',
      cooldown_minutes: 'A valid integer is required.',
      initial_quote: 'Must be a number ≥ 0.',
    })
  })

  it('refuses a ladder whose deepest buy is at or below zero, and asks for a data set', () => {
    const form = backtestForm()
    form.symbol = 'BTC/USDT'
    form.grid_levels = '20'
    form.buy_offset_pct = '5'
    expect(validateBacktest(form)).toEqual({
      buy_offset_pct: expect.stringContaining('below 5 %'),
      dataset: 'Choose a data set.',
    })
    form.buy_offset_pct = '4.99'
    form.dataset = 1
    expect(validateBacktest(form)).toEqual({})
  })

  it('leaves the swept fields to the sweep', () => {
    const form = backtestForm()
    form.dataset = 1
    form.symbol = 'ETH/USDT'
    form.grid_levels = ''
    expect(validateBacktest(form, ['grid_levels'])).toEqual({})
  })

  it('takes a past run parameters back, with its options', () => {
    const form = backtestForm()
    applyParameters(form, {
      symbol: 'ETH/USDT',
      grid_levels: 12,
      buy_offset_pct: '0.5000',
      stop_loss_pct: null,
      initial_quote: '500.00',
      fee_in_base: true,
    })
    expect(form).toMatchObject({
      symbol: 'ETH/USDT',
      grid_levels: '12',
      buy_offset_pct: '0.5',
      stop_loss_pct: '',
      initial_quote: '500',
      fee_in_base: true,
    })
  })

  it('checks bounds exactly, on the decimal strings', () => {
    expect(checkBound('buy_offset_pct', '0.01')).toBeNull()
    expect(checkBound('buy_offset_pct', '0.009')).toBe(boundMessage('buy_offset_pct'))
    expect(checkBound('buy_offset_pct', '50.0000001')).toBe(boundMessage('buy_offset_pct'))
    expect(checkBound('buy_offset_pct', 'abc')).toBe('A valid number is required.')
    expect(checkBound('time_stop_hours', '')).toBeNull()
    expect(checkBound('grid_levels', '')).toMatch(
      /^This field is required\. Must be between 1 and 100 levels\.$/,
    )
  })
})

describe('progress', () => {
  it('is a whole percentage, 0 before the total is known, never above 100', () => {
    expect(progressPercent(null)).toBe(0)
    expect(progressPercent({ done: 0, total: 0, eta_seconds: null })).toBe(0)
    expect(progressPercent({ done: 1, total: 3, eta_seconds: 2 })).toBe(33)
    expect(progressPercent({ done: 1440, total: 1440, eta_seconds: 0 })).toBe(100)
    expect(progressPercent({ done: 5, total: 4, eta_seconds: 0 })).toBe(100)
  })

  it('says the time left in the reader language, nothing while unknown', () => {
    expect(etaText({ done: 1, total: 9, eta_seconds: null }, 'en')).toBe('')
    expect(etaText({ done: 1, total: 9, eta_seconds: 42.2 }, 'en')).toBe('43s')
    expect(etaText({ done: 1, total: 9, eta_seconds: 0.2 }, 'en')).toBe('1s')
    expect(etaText({ done: 1, total: 9, eta_seconds: 3725 }, 'en')).toBe('1h 2m')
    expect(etaText({ done: 1, total: 9, eta_seconds: 125 }, 'zh-CN')).toBe('2分钟')
  })
})

const specs = (over: Partial<Record<SweptField, ValueSpec>>): Record<SweptField, ValueSpec> => ({
  grid_levels: valueSpec('5, 10'),
  buy_offset_pct: valueSpec('0.5, 1'),
  sell_offset_pct: valueSpec('0.5 1'),
  stop_loss_pct: valueSpec(''),
  ...over,
})

describe('sweep value lists', () => {
  it('read commas, spaces and Chinese commas, drop repeats, and keep the typed digits', () => {
    expect(parseList('buy_offset_pct', '0.5, 1，1.0  1.50;2')).toEqual({
      values: ['0.5', '1', '1.5', '2'],
      error: '',
    })
    expect(parseList('stop_loss_pct', 'off, 5, none, 10')).toEqual({ values: [null, '5', '10'], error: '' })
  })

  it('name the value out of range, or a value that cannot be off', () => {
    expect(parseList('grid_levels', '5, 200').error).toBe('200: Must be between 1 and 100 levels.')
    expect(parseList('grid_levels', '5, 7.5').error).toBe('7.5: A valid integer is required.')
    expect(parseList('sell_offset_pct', 'off').error).toContain('only the stop-loss')
  })

  it('step a range exactly, both ends included', () => {
    expect(expandRange('buy_offset_pct', '0.1', '0.5', '0.1').values).toEqual([
      '0.1',
      '0.2',
      '0.3',
      '0.4',
      '0.5',
    ])
    expect(expandRange('grid_levels', '5', '20', '5').values).toEqual(['5', '10', '15', '20'])
    expect(expandRange('grid_levels', '5', '6', '0.5').error).toContain('whole numbers')
    expect(expandRange('buy_offset_pct', '1', '0.5', '0.1').error).toContain('from must not be above to')
    expect(expandRange('buy_offset_pct', '0.1', '1', '0').error).toContain('step')
  })

  it('count the combinations as the API will run them', () => {
    const plan = sweepPlan(specs({}))
    expect(plan.combinations).toBe(8)
    expect(plan.errors).toEqual({})
    expect(plan.grid).toEqual({
      grid_levels: [5, 10],
      buy_offset_pct: ['0.5', '1'],
      sell_offset_pct: ['0.5', '1'],
    })
    const withStop = sweepPlan(
      specs({
        stop_loss_pct: valueSpec('off, 5, 10'),
        grid_levels: { mode: 'range', list: '', from: '2', to: '20', step: '2' },
      }),
    )
    expect(withStop.combinations).toBe(10 * 2 * 2 * 3)
    expect(withStop.grid?.stop_loss_pct).toEqual([null, '5', '10'])
  })

  it('count the combinations the engine refuses, and refuse a list over 50 values', () => {
    const plan = sweepPlan(specs({ grid_levels: valueSpec('50, 100'), buy_offset_pct: valueSpec('1, 2') }))
    // 50 × 2, 100 × 1 and 100 × 2 reach 100 %: three of four pairs, each with both sell offsets.
    expect(plan.refused).toBe(6)
    const long = sweepPlan(
      specs({ buy_offset_pct: { mode: 'range', list: '', from: '0.1', to: '10', step: '0.1' } }),
    )
    expect(long.errors.buy_offset_pct).toBe('100 values: at most 50 per parameter.')
    expect(long.grid).toBeNull()
    expect(sweepPlan(specs({ sell_offset_pct: valueSpec(' ') })).errors.sell_offset_pct).toBe(
      'At least one value.',
    )
  })
})

function row(
  rank: number,
  levels: number,
  buy: string,
  sell: string,
  pnl: string,
  dd: string,
  stop: string | null = null,
): SweepRow {
  return {
    rank,
    grid_levels: levels,
    buy_offset_pct: buy,
    sell_offset_pct: sell,
    stop_loss_pct: stop,
    total_pnl: pnl,
    realized_pnl: pnl,
    unrealized_pnl: '0',
    max_drawdown: dd,
    max_drawdown_pct: '1',
    pnl_per_drawdown: dd === '0' ? null : String(Number(pnl) / Number(dd)),
    fills: rank * 10,
    grid_cycles: rank,
    fees_quote: '1',
  }
}

const rows = [
  row(1, 10, '0.5', '1', '120.5', '40'),
  row(2, 5, '0.5', '1', '80', '20'),
  row(3, 10, '1', '1', '60', '0'),
  row(4, 5, '1', '1', '-15.25', '30'),
  row(5, 10, '0.5', '0.5', '50', '10'),
  row(6, 5, '1', '0.5', '9.99', '5'),
]

describe('sweep results', () => {
  it('sort by any column as decimals, missing values last either way, ties by rank', () => {
    expect(sortRows(rows, 'total_pnl', 'descending').map((r) => r.rank)).toEqual([1, 2, 3, 5, 6, 4])
    expect(sortRows(rows, 'total_pnl', 'ascending').map((r) => r.rank)).toEqual([4, 6, 5, 3, 2, 1])
    expect(sortRows(rows, 'max_drawdown', 'ascending').map((r) => r.rank)).toEqual([3, 6, 5, 2, 4, 1])
    expect(sortRows(rows, 'pnl_per_drawdown', 'descending').map((r) => r.rank)).toEqual([5, 2, 1, 6, 4, 3])
    expect(sortRows(rows, 'pnl_per_drawdown', 'ascending').map((r) => r.rank)).toEqual([4, 6, 1, 2, 5, 3])
    expect(sortRows(rows, 'buy_offset_pct', 'ascending').map((r) => r.rank)).toEqual([1, 2, 5, 3, 4, 6])
  })

  it('pick the best row by a metric: lowest for a drawdown', () => {
    expect(bestRow(rows, 'total_pnl')?.rank).toBe(1)
    expect(bestRow(rows, 'max_drawdown')?.rank).toBe(3)
    expect(bestRow([], 'total_pnl')).toBeNull()
  })

  it('lay a heatmap through the best row, the other parameters fixed at its values', () => {
    const map = buildHeatmap(rows, 'buy_offset_pct', 'grid_levels', 'total_pnl', 'best')
    expect(map.x).toEqual(['0.5', '1'])
    expect(map.y).toEqual(['5', '10'])
    expect(map.fixed).toEqual({ sell_offset_pct: '1', stop_loss_pct: 'off' })
    expect(map.cells.map(([x, y, v, r]) => [x, y, v, r.rank]).sort()).toEqual(
      [
        [0, 0, 80, 2],
        [0, 1, 120.5, 1],
        [1, 0, -15.25, 4],
        [1, 1, 60, 3],
      ].sort(),
    )
    expect([map.min, map.max]).toEqual([-15.25, 120.5])
  })

  it('or take each cell at its best over the other parameters (lowest drawdown)', () => {
    const map = buildHeatmap(rows, 'buy_offset_pct', 'grid_levels', 'max_drawdown', 'max')
    expect(map.fixed).toEqual({})
    const at = (x: number, y: number) => map.cells.find((c) => c[0] === x && c[1] === y)
    expect(at(0, 1)?.[2]).toBe(10) // levels 10, offset 0.5: sell 0.5 (10) beats sell 1 (40)
    expect(at(1, 0)?.[2]).toBe(5)
    expect(
      buildHeatmap(rows, 'buy_offset_pct', 'grid_levels', 'total_pnl', 'max').cells.find(
        (c) => c[0] === 1 && c[1] === 0,
      )?.[2],
    ).toBe(9.99)
  })

  it('give a row to the strategy form: the base market and risk, the row grid', () => {
    const query = rowQuery(row(1, 10, '0.5000', '1.2', '5', '1', null), {
      symbol: 'BTC/USDT',
      grid_levels: 5,
      order_size_quote: '20.00',
      stop_loss_pct: '8',
      dataset: 'sample:x',
      fee_in_base: false,
    })
    expect(query).toEqual({
      symbol: 'BTC/USDT',
      grid_levels: '10',
      buy_offset_pct: '0.5',
      sell_offset_pct: '1.2',
      order_size_quote: '20',
      stop_loss_pct: '',
    })
    // Not swept: the base stop-loss stays.
    expect(
      rowQuery(row(1, 10, '0.5', '1.2', '5', '1', null), { stop_loss_pct: '8.00' }, false).stop_loss_pct,
    ).toBe('8')
  })
})

describe('the heatmap option', () => {
  it('colours by the metric (not the row index), turns the scale round for a drawdown, and says "off" in words', async () => {
    const { heatmapOption } = await import('@/charts/backtest')
    const map = buildHeatmap(
      [row(1, 10, '0.5', '1', '12', '4', null), row(2, 10, '0.5', '1', '8', '2', '5')],
      'stop_loss_pct',
      'grid_levels',
      'max_drawdown',
      'best',
    )
    const text = { x: 'Stop-loss %', y: 'Levels', metric: 'Max drawdown', off: '关闭', row: () => '' }
    const option = heatmapOption(map, text, {
      locale: 'en',
      decimals: 2,
      lowerIsBetter: true,
      dark: false,
    }) as {
      visualMap: { dimension: number; min: number; max: number; inRange: { color: string[] } }
      xAxis: { data: string[]; axisLabel: { formatter: (v: string) => string } }
      series: { data: number[][] }[]
    }
    expect(map.x).toEqual(['off', '5'])
    expect(option.xAxis.axisLabel.formatter('off')).toBe('关闭')
    expect(option.xAxis.axisLabel.formatter('5')).toBe('5')
    expect(option.visualMap.dimension).toBe(2)
    expect([option.visualMap.min, option.visualMap.max]).toEqual([2, 4])
    // Lower is better: the smallest drawdown gets the green end.
    expect(option.visualMap.inRange.color[0]).toBe('#2e9e4f')
    expect(option.series[0]!.data.map((d) => d[2]).sort()).toEqual([2, 4])
  })
})
