// Grid strategies (/api/strategies): their shape, create and edit, start and stop, and the grid preview.
import { api } from './index'
import type { Decimal, DesiredState, Paginated, RuntimeStatus } from './types'

export interface Strategy {
  id: number
  name: string
  account: number
  symbol: string
  grid_levels: number
  buy_offset_pct: Decimal
  sell_offset_pct: Decimal
  order_size_quote: Decimal
  reprice_threshold_pct: Decimal
  loop_interval: Decimal
  max_positions: number
  stop_loss_pct: Decimal | null
  time_stop_hours: Decimal | null
  daily_loss_limit: Decimal | null
  max_consecutive_losses: number | null
  cooldown_minutes: number
  desired_state: DesiredState
  created_at: string
  updated_at: string
}

/** What create, edit and the preview send: numbers as the strings the user typed, optional rules null. */
export type StrategyInput = Omit<Strategy, 'id' | 'desired_state' | 'created_at' | 'updated_at'>

/** The preview takes a strategy's parameters without a name. */
export type PreviewInput = Omit<StrategyInput, 'name'>

/** One buy of the ladder the engine would place now, with its take-profit and one full cycle's result. */
export interface PreviewLevel {
  index: number
  price: Decimal
  amount: Decimal
  /** price × amount: the quote this buy holds. */
  quote: Decimal
  take_profit_price: Decimal
  /** Net profit of one buy + take-profit after both fees, in quote. */
  profit_per_cycle: Decimal
  /** Where the stop-loss would sell this lot (null without a stop-loss). */
  stop_loss_price: Decimal | null
}

export interface PreviewSkip {
  index: number
  price: Decimal | null
  reason: string
}

export interface Preview {
  symbol: string
  base: string
  quote: string
  current_price: Decimal
  tick_size: Decimal | null
  step_size: Decimal | null
  min_notional: Decimal | null
  levels: PreviewLevel[]
  skipped: PreviewSkip[]
  /** The quote the whole ladder holds when every buy rests. */
  total_quote: Decimal
  /** Net profit of one cycle of every level. */
  total_profit_per_cycle: Decimal
}

export const strategiesApi = {
  async list(): Promise<Strategy[]> {
    const page = await api.get<Paginated<Strategy>>('/api/strategies', { query: { page_size: 500 } })
    return page.results
  },
  get: (id: number) => api.get<Strategy>(`/api/strategies/${id}`),
  create: (input: StrategyInput) => api.post<Strategy>('/api/strategies', input),
  update: (id: number, input: Partial<StrategyInput>) => api.patch<Strategy>(`/api/strategies/${id}`, input),
  remove: (id: number) => api.delete(`/api/strategies/${id}`),
  start: (id: number) => api.post<Strategy>(`/api/strategies/${id}/start`),
  stop: (id: number, cancelAll: boolean) =>
    api.post<Strategy>(`/api/strategies/${id}/stop`, undefined, { query: { cancel_all: cancelAll } }),
  running: () => api.get<RuntimeStatus[]>('/api/strategies/running'),
  preview: (input: PreviewInput, signal?: AbortSignal) =>
    api.post<Preview>('/api/strategies/preview', input, { signal }),
}
