import { flushPromises, mount } from '@vue/test-utils'
import { createPinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { defineComponent, h, ref } from 'vue'
import { createMemoryHistory, createRouter } from 'vue-router'
import type { Dataset, DatasetId } from '@/api/backtests'
import { i18n } from '@/i18n'
import DatasetPicker from '@/pages/backtests/DatasetPicker.vue'
import RunProgress from '@/pages/backtests/RunProgress.vue'
import SweepsPage from '@/pages/SweepsPage.vue'

const SAMPLE: Dataset = {
  id: 'sample:BTCUSDT-1m-2022-05-05',
  name: 'BTCUSDT-1m-2022-05-05',
  source: 'sample',
  symbol: 'BTC/USDT',
  interval_seconds: 60,
  start: '2022-05-05T00:00:00Z',
  end: '2022-05-05T23:59:00Z',
  candles: 1440,
  gaps: 0,
  size_bytes: 52000,
  created_at: null,
  status: 'ready',
}

type Reply = { status: number; body: unknown }
let replies: Record<string, Reply>
let posted: { url: string; body: BodyInit | null | undefined }[]

beforeEach(() => {
  i18n.global.locale.value = 'en'
  posted = []
  replies = {
    'GET /api/backtests/datasets': { status: 200, body: [SAMPLE] },
    'GET /api/backtests': { status: 200, body: { count: 0, next: null, previous: null, results: [] } },
    'GET /api/sweeps': { status: 200, body: { count: 0, next: null, previous: null, results: [] } },
    'GET /api/strategies': { status: 200, body: { count: 0, next: null, previous: null, results: [] } },
  }
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string, init: RequestInit) => {
      const method = init?.method ?? 'GET'
      const path = new URL(url, 'http://x').pathname
      if (method !== 'GET') posted.push({ url: path, body: init.body })
      const reply = replies[`${method} ${path}`] ?? { status: 404, body: { detail: 'Not found.' } }
      return new Response(JSON.stringify(reply.body), { status: reply.status })
    }),
  )
})
afterEach(() => vi.unstubAllGlobals())

async function router() {
  const r = createRouter({
    history: createMemoryHistory(),
    routes: [{ path: '/:p(.*)*', component: defineComponent({ render: () => h('div') }) }],
  })
  await r.push('/sweeps')
  await r.isReady()
  return r
}

describe('the data set picker', () => {
  it('uploads the chosen files as multipart and shows each file and line the server refused', async () => {
    replies['POST /api/backtests/datasets'] = {
      status: 400,
      body: {
        files: [
          'BTCUSDT-1m-2024-01.csv line 3: the open time 1704067200000 repeats line 2.',
          'BTCUSDT-1m-2024-02.csv line 1: 6 columns, not 12 (a Binance kline row).',
        ],
      },
    }
    const chosen = ref<DatasetId | null>(null)
    const wrapper = mount(DatasetPicker, {
      props: { modelValue: chosen.value, 'onUpdate:modelValue': (v: DatasetId | null) => (chosen.value = v) },
      global: { plugins: [createPinia(), i18n] },
    })
    await flushPromises()

    const input = wrapper.get('input[type=file]')
    const files = [new File(['a'], 'BTCUSDT-1m-2024-01.csv'), new File(['b'], 'BTCUSDT-1m-2024-02.csv')]
    Object.defineProperty(input.element, 'files', { value: files })
    await input.trigger('change')
    await flushPromises()

    const [upload] = posted
    expect(upload?.url).toBe('/api/backtests/datasets')
    expect(upload?.body).toBeInstanceOf(FormData)
    expect((upload?.body as FormData).getAll('files').map((f) => (f as File).name)).toEqual([
      'BTCUSDT-1m-2024-01.csv',
      'BTCUSDT-1m-2024-02.csv',
    ])
    const shown = wrapper.get('[data-test=upload-errors]').text()
    expect(shown).toContain('The upload was refused')
    expect(shown).toContain('BTCUSDT-1m-2024-01.csv line 3: the open time 1704067200000 repeats line 2.')
    expect(shown).toContain('BTCUSDT-1m-2024-02.csv line 1')
    expect(chosen.value).toBeNull()
  })
})

describe('the progress of a run', () => {
  it('shows done of total, the time left, and asks to cancel', async () => {
    const wrapper = mount(RunProgress, {
      props: { status: 'running', progress: { done: 611, total: 1440, eta_seconds: 83 }, unit: 'candles' },
      global: { plugins: [i18n] },
    })
    expect(wrapper.text()).toContain('611 / 1,440 candles')
    expect(wrapper.get('[data-test=run-eta]').text()).toBe('about 1m left')
    expect(wrapper.text()).toContain('42%')
    await wrapper.get('[data-test=run-cancel]').trigger('click')
    expect(wrapper.emitted('cancel')).toHaveLength(1)
  })

  it('waits for a worker while queued, and says when the time left is not known yet', async () => {
    const queued = mount(RunProgress, {
      props: { status: 'queued', progress: { done: 0, total: 0, eta_seconds: null }, unit: 'candles' },
      global: { plugins: [i18n] },
    })
    expect(queued.get('[data-test=run-eta]').text()).toBe('Waiting for a worker…')
    await queued.setProps({ status: 'running' })
    expect(queued.get('[data-test=run-eta]').text()).toBe('estimating time left…')
  })
})

describe('the sweep form', () => {
  it('counts the combinations as the lists are typed, and refuses too many before asking the API', async () => {
    const wrapper = mount(SweepsPage, {
      global: { plugins: [createPinia(), i18n, await router()], stubs: { EChart: true } },
    })
    await flushPromises()
    const count = () => wrapper.get('[data-test=sweep-combinations]').text()
    expect(count()).toMatch(/^8 combinations \(limit 5,000\)/)

    await wrapper.get('input[data-test=values-stop_loss_pct]').setValue('off, 5, 10')
    expect(count()).toMatch(/^24 combinations/)
    await wrapper
      .get('input[data-test=values-grid_levels]')
      .setValue('1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15')
    await wrapper
      .get('input[data-test=values-buy_offset_pct]')
      .setValue('0.1 0.2 0.3 0.4 0.5 0.6 0.7 0.8 0.9 1 1.1 1.2')
    await wrapper
      .get('input[data-test=values-sell_offset_pct]')
      .setValue('0.1 0.2 0.3 0.4 0.5 0.6 0.7 0.8 0.9 1')
    expect(count()).toMatch(/^5,400 combinations/)
    expect(count()).toContain('Too many: narrow the lists.')

    await wrapper.get('[data-test=sweep-run]').trigger('click')
    await flushPromises()
    expect(posted).toEqual([])
  })

  it('names a value out of bounds on its list', async () => {
    const wrapper = mount(SweepsPage, {
      global: {
        plugins: [createPinia(), i18n, await router()],
        stubs: { EChart: true },
      },
    })
    await flushPromises()
    await wrapper.get('input[data-test=values-buy_offset_pct]').setValue('0.5, 60')
    await flushPromises()
    // The message Element Plus shows under the list (it animates in, which happy-dom does not play).
    const item = wrapper
      .findAllComponents({ name: 'ElFormItem' })
      .find((c) => c.attributes('data-test') === 'sweep-buy_offset_pct')!
    expect(item.classes()).toContain('is-error')
    expect(item.props('error')).toBe('60: Must be between 0.01 and 50 %.')
  })
})

const DONE = {
  id: 4,
  status: 'done',
  progress: { done: 1440, total: 1440, eta_seconds: null },
  parameters: {
    symbol: 'BTC/USDT',
    grid_levels: 7,
    buy_offset_pct: '0.25000000',
    sell_offset_pct: '0.4',
    order_size_quote: '30',
    reprice_threshold_pct: '1',
    max_positions: 10,
    stop_loss_pct: '12',
    time_stop_hours: null,
    daily_loss_limit: null,
    max_consecutive_losses: null,
    cooldown_minutes: 0,
  },
  options: { initial_quote: '500', initial_base: '0', slippage_pct: '0.1', fee_in_base: true },
  dataset: {
    id: SAMPLE.id,
    name: SAMPLE.name,
    symbol: 'BTC/USDT',
    start: SAMPLE.start,
    end: SAMPLE.end,
    candles: 1440,
  },
  created_at: '2026-12-07T10:00:00Z',
  started_at: '2026-12-07T10:00:01Z',
  finished_at: '2026-12-07T10:00:03Z',
  error: null,
  summary: null,
}

describe('running again with changes', () => {
  it('takes a past run parameters, options and data set back into the form', async () => {
    replies['GET /api/backtests/4'] = { status: 200, body: DONE }
    const r = await router()
    await r.push('/backtests?from=4')
    const { default: BacktestsPage } = await import('@/pages/BacktestsPage.vue')
    const wrapper = mount(BacktestsPage, {
      global: { plugins: [createPinia(), i18n, r], stubs: { EChart: true } },
    })
    await flushPromises()

    const value = (test: string) =>
      (wrapper.get(`input[data-test=${test}]`).element as HTMLInputElement).value
    expect(value('field-grid_levels')).toBe('7')
    expect(value('field-buy_offset_pct')).toBe('0.25')
    expect(value('field-stop_loss_pct')).toBe('12')
    expect(value('field-initial_quote')).toBe('500')
    expect(value('field-slippage_pct')).toBe('0.1')
    expect(value('backtest-symbol')).toBe('BTC/USDT')
    expect(wrapper.get('[data-test=dataset-span]').text()).toContain('1,440 candles')

    await wrapper.get('[data-test=backtest-run]').trigger('click')
    await flushPromises()
    const [run] = posted
    expect(run?.url).toBe('/api/backtests')
    expect(JSON.parse(String(run?.body))).toMatchObject({
      dataset: SAMPLE.id,
      symbol: 'BTC/USDT',
      grid_levels: '7',
      buy_offset_pct: '0.25',
      stop_loss_pct: '12',
      time_stop_hours: null,
      initial_quote: '500',
      slippage_pct: '0.1',
      fee_in_base: true,
    })
  })
})

describe('a run page', () => {
  it('polls while the run is queued, and cancels it', async () => {
    replies['GET /api/backtests/4'] = {
      status: 200,
      body: { ...DONE, status: 'running', progress: { done: 100, total: 1440, eta_seconds: 20 } },
    }
    replies['DELETE /api/backtests/4'] = { status: 202, body: { ...DONE, status: 'cancelled' } }
    const { default: BacktestRunPage } = await import('@/pages/BacktestRunPage.vue')
    const wrapper = mount(BacktestRunPage, {
      props: { id: 4 },
      global: { plugins: [createPinia(), i18n, await router()], stubs: { EChart: true } },
    })
    await flushPromises()
    expect(wrapper.get('[data-test=run-progress]').text()).toContain('100 / 1,440 candles')

    replies['GET /api/backtests/4'] = { status: 200, body: { ...DONE, status: 'cancelled' } }
    await wrapper.get('[data-test=run-cancel]').trigger('click')
    await flushPromises()
    expect(posted.map((p) => p.url)).toEqual(['/api/backtests/4'])
    expect(wrapper.find('[data-test=run-progress]').exists()).toBe(false)
    expect(wrapper.text()).toContain('This backtest was cancelled before it finished.')
  })

  it('says why a run failed', async () => {
    replies['GET /api/backtests/4'] = {
      status: 200,
      body: { ...DONE, status: 'failed', error: 'The work-horse died (out of memory?).' },
    }
    const { default: BacktestRunPage } = await import('@/pages/BacktestRunPage.vue')
    const wrapper = mount(BacktestRunPage, {
      props: { id: 4 },
      global: { plugins: [createPinia(), i18n, await router()], stubs: { EChart: true } },
    })
    await flushPromises()
    expect(wrapper.get('[data-test=backtest-failed]').text()).toContain(
      'The work-horse died (out of memory?).',
    )
  })
})
