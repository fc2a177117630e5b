// What a strategy's detail page reads of /api/strategies/{id}/…: its status, orders, lots, candles and risk state
// (its trades and PnL series come through the trades binding, src/api/trades.ts). Decimals stay strings; times
// are ISO 8601 UTC.
import { api } from './index'
import type { OrderRole, TradeSide as OrderSide } from './trades'
import type { Decimal, Paginated, RuntimeStatus } from './types'

export type { OrderRole, OrderSide }
export type { PnlSeries, Trade } from './trades'

/** An order of the strategy, as its engine journaled it. */
export interface StrategyOrder {
  id: number
  client_order_id: string
  exchange_order_id: string | null
  symbol: string
  side: OrderSide
  type: string
  role: OrderRole
  status: string
  /** null for a market order. */
  price: Decimal | null
  amount: Decimal
  filled: Decimal
  average_price: Decimal | null
  fee: Decimal
  fee_currency: string | null
  /** For an exit: the client order id of the grid buy whose lot it sells. */
  lot: string | null
  error: string | null
  created_at: string
  updated_at: string
  closed_at: string | null
}

export interface OpenLot {
  id: number
  entry_order: string
  level_price: Decimal | null
  opened_at: string
  age_seconds: number
  quantity: Decimal
  remaining: Decimal
  entry_price: Decimal
  entry_cost: Decimal
  entry_fee_quote: Decimal
  exit_order: string | null
  exit_role: OrderRole | null
  take_profit_price: Decimal | null
  stop_loss_price: Decimal | null
  time_stop_at: string | null
  unrealized_pnl: Decimal | null
}

export interface ClosedLot {
  id: number
  entry_order: string
  exit_order: string | null
  opened_at: string
  closed_at: string
  held_seconds: number
  quantity: Decimal
  sold_quantity: Decimal
  entry_price: Decimal
  exit_price: Decimal | null
  entry_fee_quote: Decimal
  exit_fee_quote: Decimal
  realized_pnl: Decimal | null
  exit_reason: string | null
}

/** GET /api/strategies/{id}/positions. */
export interface Positions {
  symbol: string
  current_price: Decimal | null
  price_from: 'status' | 'last_fill' | null
  price_at: string | null
  unrealized_pnl: Decimal | null
  open: OpenLot[]
  closed: Paginated<ClosedLot>
}

export interface Candle {
  /** Where it falls among the strategy's trades (for a replay: when the replay played it). */
  time: string
  /** Its open time on the market's own clock (a replay: the data's). */
  market_time: string
  open: Decimal
  high: Decimal
  low: Decimal
  close: Decimal
  volume: Decimal
}

/** GET /api/strategies/{id}/candles. */
export interface CandleChart {
  symbol: string
  timeframe: string
  origin: string
  /** Oldest first; the last one is still forming. */
  candles: Candle[]
}

/** GET /api/strategies/{id}/risk: its standing against its risk limits, by the engine's own rules. */
export interface RiskState {
  time_zone: string
  day_started_at: string
  realized_today: Decimal
  /** Today's net realized loss (0 when today gained). */
  daily_loss_used: Decimal
  daily_loss_limit: Decimal | null
  daily_limit_reached: boolean
  daily_resumes_at: string | null
  consecutive_losses: number
  max_consecutive_losses: number | null
  cooldown_minutes: number
  /** null when no cooldown runs now. */
  cooldown_until: string | null
  open_positions: number
  active_buys: number
  max_positions: number
  paused: string[]
}

export const detailApi = {
  status: (id: number, signal?: AbortSignal) =>
    api.get<RuntimeStatus>(`/api/strategies/${id}/status`, { signal }),
  openOrders: (id: number, signal?: AbortSignal) =>
    api.get<Paginated<StrategyOrder>>(`/api/strategies/${id}/orders`, {
      query: { status: 'open', page_size: 200 },
      signal,
    }),
  positions: (id: number, page: number, signal?: AbortSignal) =>
    api.get<Positions>(`/api/strategies/${id}/positions`, { query: { page, page_size: 10 }, signal }),
  candles: (id: number, timeframe: string | null, signal?: AbortSignal) =>
    api.get<CandleChart>(`/api/strategies/${id}/candles`, {
      query: { timeframe: timeframe ?? undefined, limit: 200 },
      signal,
    }),
  risk: (id: number, signal?: AbortSignal) => api.get<RiskState>(`/api/strategies/${id}/risk`, { signal }),
}
