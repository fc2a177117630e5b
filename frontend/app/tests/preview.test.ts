import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { effectScope, nextTick, reactive } from 'vue'
import { ApiError } from '@/api'
import type { Preview, PreviewInput } from '@/api/strategies'
import { usePreview, type PreviewFetch } from '@/forms/preview'
import { previewPayload, strategyForm } from '@/forms/strategy'

function ladder(levels: string): Preview {
  return {
    symbol: 'BTC/USDT',
    origin: 'binance',
    price: '30000',
    fee_rate: '0.001',
    market: {
      tick_size: '0.01',
      step_size: '0.00001',
      min_amount: '0.00001',
      min_notional: '5',
      maker_fee: '0.001',
      taker_fee: '0.001',
      max_open_orders: 200,
    },
    levels: [],
    total_quote: levels,
    total_quote_needed: levels,
    skipped: [],
    paused: [],
    notes: [],
  }
}

interface Call {
  input: PreviewInput
  signal: AbortSignal
  resolve: (p: Preview) => void
  reject: (e: unknown) => void
}

function fakeFetch() {
  const calls: Call[] = []
  const fetch: PreviewFetch = (input, signal) =>
    new Promise((resolve, reject) => calls.push({ input, signal, resolve, reject }))
  return { calls, fetch }
}

function mount(form = reactive(strategyForm(null, 3)), fetch: PreviewFetch) {
  form.symbol = 'BTC/USDT'
  const scope = effectScope()
  const preview = scope.run(() => usePreview(() => previewPayload(form), { delayMs: 400, fetch }))!
  return { form, preview, scope }
}

describe('the grid preview', () => {
  beforeEach(() => vi.useFakeTimers())
  afterEach(() => vi.useRealTimers())

  it('asks once the user pauses typing, with what the form holds then', async () => {
    const { calls, fetch } = fakeFetch()
    const { form, preview } = mount(undefined, fetch)
    await vi.advanceTimersByTimeAsync(400)
    calls.length = 0

    for (const typed of ['1', '10', '100']) {
      form.grid_levels = typed
      await nextTick()
      await vi.advanceTimersByTimeAsync(150)
    }
    expect(calls).toHaveLength(0)
    expect(preview.loading.value).toBe(true) // dimmed while typing
    await vi.advanceTimersByTimeAsync(400)

    expect(calls).toHaveLength(1)
    expect(calls[0]!.input.grid_levels).toBe('100')
  })

  it('drops the answer to an older question: the chart never shows parameters no longer in the form', async () => {
    const { calls, fetch } = fakeFetch()
    const { form, preview } = mount(undefined, fetch)
    await vi.advanceTimersByTimeAsync(400)
    form.grid_levels = '7'
    await nextTick()
    await vi.advanceTimersByTimeAsync(400)
    expect(calls).toHaveLength(2)
    expect(calls[0]!.signal.aborted).toBe(true)

    calls[1]!.resolve(ladder('seven'))
    calls[0]!.resolve(ladder('five')) // late
    await vi.advanceTimersByTimeAsync(0)

    expect(preview.preview.value?.total_quote).toBe('seven')
    expect(preview.loading.value).toBe(false)
  })

  it('does not ask again for a change the preview does not depend on', async () => {
    const { calls, fetch } = fakeFetch()
    const { form } = mount(undefined, fetch)
    await vi.advanceTimersByTimeAsync(400)

    form.name = 'A new name'
    await nextTick()
    await vi.advanceTimersByTimeAsync(1000)

    expect(calls).toHaveLength(1)
  })

  it('gives the messages of parameters the API refuses per field, and empties the chart', async () => {
    const { calls, fetch } = fakeFetch()
    const { form, preview } = mount(undefined, fetch)
    await vi.advanceTimersByTimeAsync(400)
    calls[0]!.resolve(ladder('five'))
    await vi.advanceTimersByTimeAsync(0)
    form.buy_offset_pct = '60'
    await nextTick()
    await vi.advanceTimersByTimeAsync(400)

    const messages = { buy_offset_pct: ['Must be between 0.01 and 50 %.'] }
    calls[1]!.reject(new ApiError(400, '', messages, messages))
    await vi.advanceTimersByTimeAsync(0)

    expect(preview.preview.value).toBeNull()
    expect(preview.fieldErrors.value).toEqual(messages)
    expect(preview.error.value).toBeNull()
  })

  it('says why when the preview cannot be had for another reason', async () => {
    const { calls, fetch } = fakeFetch()
    const { preview } = mount(undefined, fetch)
    await vi.advanceTimersByTimeAsync(400)

    calls[0]!.reject(new ApiError(503, 'Markets of binance cannot be loaded now.', {}, null))
    await vi.advanceTimersByTimeAsync(0)

    expect(preview.error.value).toBe('Markets of binance cannot be loaded now.')
    expect(preview.loading.value).toBe(false)
  })

  it('asks nothing until there is a symbol, and stops asking when it is removed', async () => {
    const { calls, fetch } = fakeFetch()
    const { form, preview } = mount(undefined, fetch)
    form.symbol = ''
    await nextTick()
    await vi.advanceTimersByTimeAsync(1000)

    expect(calls).toHaveLength(0)
    expect(preview.loading.value).toBe(false)
  })

  it('stops its timer and its request with the page', async () => {
    const { calls, fetch } = fakeFetch()
    const { scope } = mount(undefined, fetch)
    await vi.advanceTimersByTimeAsync(400)
    scope.stop()

    expect(calls[0]!.signal.aborted).toBe(true)
  })
})
