import { flushPromises, mount } from '@vue/test-utils'
import { ElSelect } from 'element-plus'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createI18n } from 'vue-i18n'
import { EVENT_KIND_GROUPS, EVENT_KINDS, type StrategyEvent } from '@/api/events'
import { priceChartOption, type ChartEvent } from '@/charts/detail'
import { eventMessage, type Translate } from '@/events/messages'
import en from '@/i18n/locales/en.json'
import zhCN from '@/i18n/locales/zh-CN.json'
import { i18n } from '@/i18n'
import EventsPanel from '@/pages/detail/EventsPanel.vue'

function translator(locale: 'en' | 'zh-CN'): Translate {
  const i18n = createI18n({ legacy: false, locale, messages: { en, 'zh-CN': zhCN } })
  return (key, params) => i18n.global.t(key, params ?? {})
}
const en_ = translator('en')
const zh = translator('zh-CN')

function event(
  kind: string,
  data: Record<string, unknown>,
  extra: Partial<StrategyEvent> = {},
): StrategyEvent {
  return {
    id: 1,
    strategy: 7,
    kind,
    severity: 'info',
    at: '2026-01-02T03:04:05Z',
    first_at: '2026-01-02T03:04:05Z',
    count: 1,
    data,
    summary: `server: ${kind}`,
    ...extra,
  }
}

const TRADE = { symbol: 'BTC/USDT', price: '30123.45', amount: '0.00100', fee: '0.03', fee_currency: 'USDT' }
const DATA: Record<string, Record<string, unknown>> = {
  started: { node: 'node-a', ip: '10.0.0.1', job: 'j1' },
  stopped: { by: 'owner', cancel_mode: 'all' },
  handed_over: { node: 'node-a', reason: 'shutdown' },
  failed_over: { from_node: 'node-a', to_node: 'node-b', gap_seconds: 42 },
  buy_filled: TRADE,
  take_profit_filled: { ...TRADE, lot_pnl: '1.2345', quote: 'USDT' },
  stop_loss_sold: { ...TRADE, lot_pnl: '-3.5', quote: 'USDT' },
  time_stop_sold: { ...TRADE, lot_pnl: '-0.1', quote: 'USDT' },
  ladder_placed: { symbol: 'BTC/USDT', anchor: '30000', levels: 5 },
  ladder_trailed: { symbol: 'BTC/USDT', from_anchor: '30000', to_anchor: '30600' },
  paused: { symbol: 'BTC/USDT', reason: 'daily_loss_limit', detail: 'Daily loss 50 USDT reached' },
  resumed: { symbol: 'BTC/USDT', reason: 'cooldown' },
  level_skipped: { symbol: 'BTC/USDT', reasons: ['below min notional', 'price out of range'] },
  error: { error_class: 'NetworkError', message: 'timed out' },
  balance_gap: { asset: 'BTC', held: '0.5', have: '0.4' },
}

describe('event messages', () => {
  it('render every kind in English from its data, numbers as the API sent them', () => {
    const lines = Object.fromEntries(EVENT_KINDS.map((k) => [k, eventMessage(event(k, DATA[k]!), en_)]))
    expect(lines).toEqual({
      started: 'Started on node-a',
      stopped: 'Stopped by you, cancelling all orders',
      handed_over: 'Handed over by node-a: shutdown',
      failed_over: 'Failed over from node-a to node-b after 42 s',
      buy_filled: 'Bought 0.00100 BTC/USDT at 30123.45',
      take_profit_filled: 'Take-profit sold 0.00100 BTC/USDT at 30123.45, PnL 1.2345 USDT',
      stop_loss_sold: 'Stop-loss sold 0.00100 BTC/USDT at 30123.45, PnL -3.5 USDT',
      time_stop_sold: 'Time stop sold 0.00100 BTC/USDT at 30123.45, PnL -0.1 USDT',
      ladder_placed: 'Ladder of 5 levels placed below 30000',
      ladder_trailed: 'Ladder trailed up from 30000 to 30600',
      paused: 'Buys paused: daily loss limit reached',
      resumed: 'Buys resumed: loss-streak cooldown over',
      level_skipped: 'Levels skipped: below min notional; price out of range',
      error: 'NetworkError: timed out',
      balance_gap: 'Balance gap: the lots hold 0.5 BTC, the account has 0.4',
    })
  })

  it('render every kind in Chinese, none left as a key or a placeholder', () => {
    for (const kind of EVENT_KINDS) {
      const line = eventMessage(event(kind, DATA[kind]!), zh)
      expect(line, kind).not.toMatch(/events\.|\{|[A-Z][a-z]+ [a-z]+ /)
    }
    expect(eventMessage(event('failed_over', DATA.failed_over!), zh)).toBe(
      '从 node-a 故障转移到 node-b，中断 42 秒',
    )
    expect(eventMessage(event('paused', DATA.paused!), zh)).toBe('暂停买入：达到每日亏损上限')
  })

  it('count a repeat, fall back to the detail for an unknown reason and to the summary for an unknown kind', () => {
    expect(eventMessage(event('error', DATA.error!, { count: 3 }), en_)).toBe('NetworkError: timed out (×3)')
    expect(eventMessage(event('paused', { reason: 'new_rule', detail: 'Odd lot' }), en_)).toBe(
      'Buys paused: Odd lot',
    )
    expect(eventMessage(event('margin_call', {}), en_)).toBe('server: margin_call')
    expect(eventMessage(event('started', {}), en_)).toBe('Started on ?')
  })
})

describe('who stopped it, and a failover of unknown length', () => {
  const stopped = (by: unknown) => event('stopped', { by, cancel_mode: 'buys' })

  it('names who stopped it in English', () => {
    expect(['owner', 'admin', 'system', 'unknown'].map((by) => eventMessage(stopped(by), en_))).toEqual([
      'Stopped by you, cancelling the buys',
      'Stopped by an administrator, cancelling the buys',
      'Stopped by the system, cancelling the buys',
      'Stopped, cancelling the buys',
    ])
    // A stopper this app does not know yet, or none, is not shown as a raw word.
    expect(eventMessage(stopped('cron'), en_)).toBe('Stopped, cancelling the buys')
    expect(eventMessage(event('stopped', { cancel_mode: 'all' }), en_)).toBe('Stopped, cancelling all orders')
  })

  it('names who stopped it in Chinese', () => {
    expect(['owner', 'admin', 'system', 'unknown'].map((by) => eventMessage(stopped(by), zh))).toEqual([
      '由你停止，撤销买单',
      '由管理员停止，撤销买单',
      '由系统停止，撤销买单',
      '已停止，撤销买单',
    ])
  })

  it('says the gap is unknown when the runtime could not measure it, in both languages', () => {
    const unknown = event('failed_over', { from_node: 'node-a', to_node: 'node-b', gap_seconds: null })
    expect(eventMessage(unknown, en_)).toBe('Failed over from node-a to node-b after an unknown gap')
    expect(eventMessage(unknown, zh)).toBe('从 node-a 故障转移到 node-b，中断时长未知')
    const none = event('failed_over', { from_node: 'node-a', to_node: 'node-b' })
    expect(eventMessage(none, en_)).toBe('Failed over from node-a to node-b after an unknown gap')
    // Zero is a gap that was measured, not an unknown one.
    const zero = event('failed_over', { from_node: 'node-a', to_node: 'node-b', gap_seconds: 0 })
    expect(eventMessage(zero, en_)).toBe('Failed over from node-a to node-b after 0 s')
    expect(eventMessage(zero, zh)).toBe('从 node-a 故障转移到 node-b，中断 0 秒')
  })

  it('names the addresses of a failover between two workers of one machine', () => {
    const data = { from_node: 'vm', from_ip: '10.0.0.5', to_node: 'vm', to_ip: '10.0.0.6', gap_seconds: 4 }
    expect(eventMessage(event('failed_over', data), en_)).toBe(
      'Failed over from vm (10.0.0.5) to vm (10.0.0.6) after 4 s',
    )
    const apart = { from_node: 'a', from_ip: '1', to_node: 'b', to_ip: '2', gap_seconds: 4 }
    expect(eventMessage(event('failed_over', apart), en_)).toBe('Failed over from a to b after 4 s')
  })
})

describe("the timeline's kind filter", () => {
  afterEach(() => {
    vi.unstubAllGlobals()
    document.body.innerHTML = ''
  })

  it('asks for several kinds at once as a repeated parameter, and for all of them once cleared', async () => {
    const fetch = vi.fn(
      async () => new Response(JSON.stringify({ count: 0, next: null, previous: null, results: [] })),
    )
    vi.stubGlobal('fetch', fetch)
    const wrapper = mount(EventsPanel, {
      props: { strategyId: 7 },
      global: { plugins: [i18n] },
      attachTo: document.body,
    })
    await flushPromises()
    const select = wrapper.findComponent(ElSelect)

    select.vm.$emit('update:modelValue', ['buy_filled', 'error'])
    await flushPromises()
    select.vm.$emit('update:modelValue', [])
    await flushPromises()

    const urls = fetch.mock.calls.map((call) => (call as unknown as [string])[0])
    expect(urls).toEqual([
      '/api/strategies/7/events?page_size=20',
      '/api/strategies/7/events?kind=buy_filled&kind=error&page_size=20',
      '/api/strategies/7/events?page_size=20',
    ])
    expect(select.props('multiple')).toBe(true)
    wrapper.unmount()
  })

  it('groups every kind exactly once, each group named in both languages', () => {
    const grouped = EVENT_KIND_GROUPS.flatMap((group) => group.kinds)
    expect([...grouped].sort()).toEqual([...EVENT_KINDS].sort())
    for (const group of EVENT_KIND_GROUPS) {
      expect(en_(`events.group.${group.name}`)).not.toMatch(/events\./)
      expect(zh(`events.group.${group.name}`)).not.toMatch(/events\./)
    }
  })
})

describe('event pins on the price chart', () => {
  const minute = (n: number) => new Date(Date.UTC(2026, 0, 2, 3, n)).toISOString()
  const chart = {
    symbol: 'BTC/USDT',
    timeframe: '1m',
    origin: 'live',
    candles: Array.from({ length: 5 }, (_, i) => ({
      time: minute(i),
      market_time: minute(i),
      open: '100',
      high: String(110 + i),
      low: '90',
      close: '105',
      volume: '1',
    })),
  }
  const text = {
    buy: 'Buy',
    sell: 'Sell',
    price: 'Price',
    open: 'O',
    high: 'H',
    low: 'L',
    close: 'C',
    marketTime: 'M',
    fill: (s: string) => s,
    event: (e: ChartEvent) => eventMessage(e, en_),
  }

  it('puts one pin per candle at its high, coloured by the worst severity, and lists them in the tooltip', () => {
    const events = [
      event('ladder_placed', DATA.ladder_placed!, { id: 1, at: minute(1) }),
      event('error', DATA.error!, {
        id: 2,
        at: new Date(Date.UTC(2026, 0, 2, 3, 1, 30)).toISOString(),
        severity: 'error',
      }),
      event('started', DATA.started!, { id: 3, at: minute(3) }),
      event('stopped', DATA.stopped!, { id: 4, at: '2025-12-31T00:00:00Z' }),
    ]
    const built = priceChartOption(
      {
        chart,
        orders: [],
        fills: [],
        events,
        currentPrice: null,
        priceDecimals: 2,
        amountDecimals: 5,
        base: 'BTC',
        locale: 'en',
        timeZone: 'UTC',
      },
      text,
    )
    expect(built.eventCount).toBe(2)
    const series = (
      built.option.series as {
        markPoint?: { data: { coord: number[]; value: string; itemStyle: { color: string } }[] }
      }[]
    )[0]!
    expect(series.markPoint!.data.map((p) => [p.coord, p.value, p.itemStyle.color])).toEqual([
      [[1, 111], '2', '#f56c6c'],
      [[3, 113], '', '#409eff'],
    ])
    const formatter = (built.option.tooltip as { formatter: (p: unknown) => string }).formatter
    const tip = formatter([{ seriesType: 'candlestick', dataIndex: 1 }])
    expect(tip).toContain('Ladder of 5 levels placed below 30000')
    expect(tip).toContain('NetworkError: timed out')
  })

  it('draws no pins without the event text (the backtest chart)', () => {
    const built = priceChartOption(
      {
        chart,
        orders: [],
        fills: [],
        events: [event('started', {}, { at: minute(2) })],
        currentPrice: null,
        priceDecimals: 2,
        amountDecimals: 5,
        base: 'BTC',
        locale: 'en',
      },
      { ...text, event: undefined },
    )
    expect(built.eventCount).toBe(0)
  })
})
