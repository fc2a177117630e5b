import { flushPromises, mount } from '@vue/test-utils'
import { createPinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { defineComponent, h, nextTick } from 'vue'
import { createMemoryHistory, createRouter } from 'vue-router'
import type { Dashboard, DashboardStrategy } from '@/api/types'
import { i18n } from '@/i18n'
import DashboardPage from '@/pages/DashboardPage.vue'
import { engineLate, mergeRows, type Row, type RowStore } from '@/pages/dashboard/rows'

const SERVER_TIME = '2022-05-05T00:10:00.000Z'

function strategy(
  id: number,
  fields: Partial<DashboardStrategy> = {},
  price = '30000.10',
): DashboardStrategy {
  return {
    id,
    name: `grid-${id}`,
    symbol: 'BTC/USDT',
    desired_state: 'running',
    running: true,
    status: {
      task_id: `job-${id}`,
      worker_ip: '10.0.0.7',
      worker_hostname: 'node-7',
      status: 'running',
      started_at: '2022-05-05T00:00:00.000Z',
      current_price: price,
      pending_buys: 5,
      pending_sells: 1,
      position_count: 1,
      last_error: null,
      skipped_levels: [],
      paused: [],
      notes: [],
      updated_at: '2022-05-05T00:09:59.000Z',
    },
    node: { ip: '10.0.0.7', hostname: 'node-7' },
    retry_after_error: null,
    quote_currency: 'USDT',
    account: { id: 1, name: 'paper', exchange: 'paper' },
    loop_interval: '1',
    open_positions: 1,
    today_pnl: '1.5',
    ...fields,
  }
}

function answer(strategies: DashboardStrategy[]): Dashboard {
  return {
    server_time: SERVER_TIME,
    time_zone: 'UTC',
    day_started_at: '2022-05-05T00:00:00.000Z',
    strategies,
    today_pnl: { USDT: '3' },
  }
}

describe('the dashboard rows', () => {
  it('keep each row object across polls and change only the fields that moved', () => {
    const store: RowStore = { rows: new Map<number, Row>(), ids: [] }
    expect(mergeRows(store, answer([strategy(1), strategy(2)]))).toBe(true)
    const first = store.rows.get(1)!

    expect(mergeRows(store, answer([strategy(1, {}, '30000.2'), strategy(2)]))).toBe(false)

    expect(store.rows.get(1)).toBe(first)
    expect(first.price).toBe('30000.2')
    // The width its price has shown sticks: 30000.2 shows as 30000.20, not one digit shorter.
    expect(first.priceDecimals).toBe(2)
    expect(mergeRows(store, answer([strategy(2)]))).toBe(true)
    expect([...store.rows.keys()]).toEqual([2])
  })

  it('tell the states a person needs apart', () => {
    const store: RowStore = { rows: new Map<number, Row>(), ids: [] }
    mergeRows(
      store,
      answer([
        strategy(1, { status: null, node: null, running: false }),
        strategy(2, { status: null, node: null, running: false, retry_after_error: 'invalid API key' }),
        strategy(3, {
          status: null,
          node: null,
          running: false,
          desired_state: 'stopped',
          open_positions: 2,
        }),
      ]),
    )
    const [starting, retrying, stopped] = [1, 2, 3].map((id) => store.rows.get(id)!)
    expect(starting!.state).toBe('starting')
    expect(retrying!.state).toBe('retrying')
    expect(retrying!.lastError).toBe('invalid API key')
    expect(stopped!.state).toBe('stopped')
    expect(stopped!.positions).toBe(2)
  })

  it('mark an engine late after three ticks without a report, at least 15 s', () => {
    const late = (updated: string, loop = '1') =>
      engineLate(
        strategy(1, { loop_interval: loop, status: { ...strategy(1).status!, updated_at: updated } }),
        SERVER_TIME,
      )
    expect(late('2022-05-05T00:09:50.000Z')).toBe(false) // 10 s, under 15 s
    expect(late('2022-05-05T00:09:40.000Z')).toBe(true) // 20 s
    expect(late('2022-05-05T00:09:40.000Z', '10')).toBe(false) // 20 s is two 10 s ticks
  })
})

describe('the dashboard page', () => {
  let replies: Dashboard[]
  const updates = new Map<string, number>()

  beforeEach(() => {
    vi.useFakeTimers()
    updates.clear()
    replies = []
    vi.stubGlobal(
      'fetch',
      vi.fn(async () => new Response(JSON.stringify(replies.shift() ?? replies[0]), { status: 200 })),
    )
  })
  afterEach(() => {
    vi.useRealTimers()
    vi.unstubAllGlobals()
  })

  async function mountPage() {
    const router = createRouter({
      history: createMemoryHistory(),
      routes: [{ path: '/:p(.*)*', component: defineComponent({ render: () => h('div') }) }],
    })
    const wrapper = mount(DashboardPage, {
      global: {
        plugins: [createPinia(), i18n, router],
        mixins: [
          {
            // Count re-renders per component and row, to see what a poll touches.
            updated(this: { $options: { name?: string; __name?: string }; $props: Record<string, unknown> }) {
              const name = this.$options.name ?? this.$options.__name ?? '?'
              updates.set(name, (updates.get(name) ?? 0) + 1)
            },
          },
        ],
      },
    })
    await flushPromises()
    return wrapper
  }

  it('polls one request every 2 s and re-renders only the cell whose value changed', async () => {
    const rows = Array.from({ length: 100 }, (_, i) => strategy(i + 1))
    replies = [answer(rows), answer(rows.map((s) => (s.id === 42 ? strategy(42, {}, '30123.45') : s)))]
    const wrapper = await mountPage()
    expect(wrapper.findAll('.dash-row:not(.dash-head)')).toHaveLength(100)
    expect(fetch).toHaveBeenCalledTimes(1)
    updates.clear()

    await vi.advanceTimersByTimeAsync(2000)
    await flushPromises()
    await nextTick()

    expect(fetch).toHaveBeenCalledTimes(2)
    expect(String((fetch as unknown as { mock: { calls: unknown[][] } }).mock.calls[1]![0])).toBe(
      '/api/strategies/dashboard',
    )
    expect(wrapper.text()).toContain('30,123.45')
    // One price cell of one row; no row and no other cell re-rendered.
    expect(updates.get('DashCell')).toBe(1)
    expect(updates.get('DashboardRow')).toBeUndefined()
  })

  it('shows an empty state with the way to create a strategy', async () => {
    replies = [answer([])]
    const wrapper = await mountPage()
    expect(wrapper.text()).toContain('You have no strategies yet.')
  })
})
