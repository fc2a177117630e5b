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
  /** 1 is the level nearest the price. */
  level: number
  price: Decimal
  /** In the base currency. */
  amount: Decimal
  /** price × amount. */
  quote: Decimal
  /** Free quote the engine waits for before placing it: the notional and the buy fee. */
  quote_needed: Decimal
  /** null when the lot could have none (`problem` says why). */
  take_profit_price: Decimal | null
  take_profit_amount: Decimal
  /** PnL of one cycle (bought here, sold at the take-profit), net of both fees. */
  cycle_profit: Decimal | null
  /** The stop-loss sells the lot when the price falls below this; null without one. */
  stop_loss_below: Decimal | null
  problem: string | null
}

export interface MarketRules {
  tick_size: Decimal
  step_size: Decimal
  min_amount: Decimal
  min_notional: Decimal
  maker_fee: Decimal
  taker_fee: Decimal
  max_open_orders: number
}

/** POST /api/strategies/preview: what the engine would do now with these parameters, nothing placed. */
export interface Preview {
  symbol: string
  /** Where the price comes from: the exchange, or a paper account's data set. */
  origin: string
  /** The current price, where the ladder is anchored. */
  price: Decimal
  /** The market's higher fee rate, which every figure assumes. */
  fee_rate: Decimal
  market: MarketRules
  /** Nearest first. */
  levels: PreviewLevel[]
  total_quote: Decimal
  /** What placing every level takes, fees included: the capital the grid needs. */
  total_quote_needed: Decimal
  /** Levels not placed (or waiting), each with its reason: "level 4 at 28500.00: …". */
  skipped: string[]
  /** Why the ladder stops short (max positions). */
  paused: string[]
  notes: string[]
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
  running: (signal?: AbortSignal) => api.get<RuntimeStatus[]>('/api/strategies/running', { signal }),
  preview: (input: PreviewInput, signal?: AbortSignal) =>
    api.post<Preview>('/api/strategies/preview', input, { signal }),
}
