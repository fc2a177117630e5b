import { flushPromises, mount } from '@vue/test-utils'
import { createPinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { defineComponent, h } from 'vue'
import { createMemoryHistory, createRouter } from 'vue-router'
import type { PnlSeries, Trade, TradeStats } from '@/api/trades'
import { i18n } from '@/i18n'
import TradesPage from '@/pages/TradesPage.vue'
import TradesFilters from '@/pages/trades/TradesFilters.vue'

function trade(id: number, fields: Partial<Trade> = {}): Trade {
  return {
    id,
    strategy: 1,
    strategy_name: 'BTC grid',
    symbol: 'BTC/USDT',
    side: 'sell',
    role: 'take_profit',
    client_order_id: `ab1-${id}`,
    trade_id: `t${id}`,
    price: '29800.000000000000000000',
    amount: '0.001000000000000000',
    quote_amount: '29.800000000000000000',
    fee: '0.029800000000000000',
    fee_currency: 'USDT',
    executed_at: '2026-12-07T10:00:00+08:00',
    ...fields,
  }
}

const STATS: TradeStats = {
  count: 2,
  buys: 0,
  sells: 2,
  volume: { USDT: '59.6' },
  fees: { USDT: '0.0596' },
  realized_pnl: { USDT: '0.48' },
  closed_positions: 2,
  wins: 2,
  losses: 0,
  win_rate: '1',
  per_currency: [
    {
      currency: 'USDT',
      count: 2,
      buys: 0,
      sells: 2,
      volume: '59.6',
      fees: '0.0596',
      realized_pnl: '0.48',
      closed_positions: 2,
      wins: 2,
      losses: 0,
      win_rate: '1',
    },
  ],
  time_zone: 'Asia/Shanghai',
  pnl_per_day: [],
}
const PNL: PnlSeries = { time_zone: 'Asia/Shanghai', bucket: 'day', series: [] }

type Reply = { status: number; body: unknown }
let replies: Record<string, Reply>
const requested = () =>
  (fetch as unknown as { mock: { calls: [string][] } }).mock.calls.map(([url]) => new URL(url, 'http://x'))

beforeEach(() => {
  replies = {
    '/api/trades': {
      status: 200,
      body: {
        count: 2,
        next: null,
        previous: null,
        results: [trade(1, { position_pnl: '0.241920000000000000' }), trade(2, { position_pnl: null })],
      },
    },
    '/api/trades/stats': { status: 200, body: STATS },
    '/api/trades/pnl': { status: 200, body: PNL },
    '/api/strategies': { status: 200, body: { count: 0, next: null, previous: null, results: [] } },
  }
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string) => {
      const reply = replies[new URL(url, 'http://x').pathname] ?? {
        status: 404,
        body: { detail: 'Not found.' },
      }
      return new Response(JSON.stringify(reply.body), { status: reply.status })
    }),
  )
})
afterEach(() => vi.unstubAllGlobals())

async function mountPage(path = '/trades') {
  const router = createRouter({
    history: createMemoryHistory(),
    routes: [{ path: '/:p(.*)*', component: defineComponent({ render: () => h('div') }) }],
  })
  await router.push(path)
  await router.isReady()
  const wrapper = mount(TradesPage, {
    global: { plugins: [createPinia(), i18n, router], stubs: { EChart: true } },
  })
  await flushPromises()
  return { wrapper, router }
}

describe('the trades page', () => {
  it('asks for what the URL says, and shows a row per trade, the count and the CSV of them all', async () => {
    const { wrapper } = await mountPage('/trades?side=sell&symbol=btc/usdt&page=2&page_size=20')

    const calls = requested()
    const list = calls.find((u) => u.pathname === '/api/trades')!
    expect(Object.fromEntries(list.searchParams)).toEqual({
      side: 'sell',
      symbol: 'BTC/USDT',
      page: '2',
      page_size: '20',
    })
    const pnl = calls.find((u) => u.pathname === '/api/trades/pnl')!
    expect(pnl.searchParams.get('side')).toBeNull()
    expect(wrapper.findAll('[data-test=trades-table] tr')).toHaveLength(2)
    expect(wrapper.get('[data-test=trade-count]').text()).toContain('2')
    expect(wrapper.get('[data-test=trades-csv]').attributes('href')).toBe(
      '/api/trades?format=csv&symbol=BTC%2FUSDT&side=sell',
    )
    expect(wrapper.text()).toContain('29,800.00')
    // A sale's row shows the PnL of the position it closed, at the quote's precision.
    const [first, second] = wrapper.findAll('[data-test=trades-table] tr')
    expect(first!.get('.gain').text()).toBe('+0.24')
    expect(second!.find('.gain').exists()).toBe(false)
    expect(wrapper.text()).toContain('+0.48')
    expect(wrapper.text()).toContain('100.0%')
    expect(wrapper.find('[data-test=daily-pnl-chart]').exists()).toBe(true)
  })

  it('puts a filter into the URL and starts again at page 1', async () => {
    const { wrapper, router } = await mountPage('/trades?page=3')
    wrapper.getComponent(TradesFilters).vm.$emit('change', { side: 'buy' })
    await flushPromises()
    expect(router.currentRoute.value.query).toEqual({ side: 'buy' })
    const last = requested()
      .filter((u) => u.pathname === '/api/trades')
      .at(-1)!
    expect(last.searchParams.get('side')).toBe('buy')
    expect(last.searchParams.get('page')).toBe('1')
  })

  it('says what went wrong, with a retry, rather than a blank page', async () => {
    replies['/api/trades'] = { status: 400, body: { since: ['Enter a valid date/time.'] } }
    const { wrapper } = await mountPage()
    expect(wrapper.text()).toContain('since: Enter a valid date/time.')
    replies['/api/trades'] = {
      status: 200,
      body: { count: 1, next: null, previous: null, results: [trade(1)] },
    }
    await wrapper.get('.poll-error button').trigger('click')
    await flushPromises()
    expect(wrapper.find('.poll-error').exists()).toBe(false)
    expect(wrapper.findAll('[data-test=trades-table] tr')).toHaveLength(1)
  })

  it('points a new user to the strategies, and a filter that matches nothing to clearing it', async () => {
    replies['/api/trades'] = { status: 200, body: { count: 0, next: null, previous: null, results: [] } }
    replies['/api/trades/stats'] = { status: 200, body: { ...STATS, count: 0, per_currency: [] } }
    const fresh = await mountPage()
    expect(fresh.wrapper.text()).toContain('No trades yet')
    expect(fresh.wrapper.find('[data-test=trades-csv]').exists()).toBe(false)

    const filtered = await mountPage('/trades?symbol=ETH/USDT')
    expect(filtered.wrapper.text()).toContain('No trades match these filters.')
    expect(filtered.wrapper.text()).toContain('Clear filters')
  })
})
