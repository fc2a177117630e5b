// The trades (fills) of the user's strategies (/api/trades): the paginated list, its CSV export, the totals
// (/api/trades/stats) and the realized-PnL series for charts (/api/trades/pnl). All take the same filters.
import { api } from './index'
import type { Decimal, Paginated, PerCurrency } from './types'

export type TradeSide = 'buy' | 'sell'
export type OrderRole = 'grid_buy' | 'take_profit' | 'stop_loss' | 'time_stop'

/** One fill, as the engine journaled it. Decimals are strings with the database's 18 places. */
export interface Trade {
  id: number
  strategy: number
  strategy_name: string
  symbol: string
  side: TradeSide
  /** What its order was for. */
  role: OrderRole
  client_order_id: string
  /** The exchange's execution id; null when the exchange gives none. */
  trade_id: string | null
  price: Decimal
  /** In the base currency. */
  amount: Decimal
  /** price × amount, in the quote currency. */
  quote_amount: Decimal
  fee: Decimal
  fee_currency: string
  /** ISO 8601 in the server's TIME_ZONE. */
  executed_at: string
  /** For a sale that closed a position: its realized PnL in the quote currency, net of both fees; else null. */
  position_pnl?: Decimal | null
}

/** What the list, the stats and the CSV are narrowed to; an absent or empty field is no filter. */
export interface TradeFilters {
  strategy?: number | null
  symbol?: string | null
  side?: TradeSide | null
  /** ISO 8601 with its offset: executed at or after. */
  since?: string | null
  /** ISO 8601 with its offset: executed before. */
  until?: string | null
}

export interface DailyPnl {
  /** A day in the server's TIME_ZONE, YYYY-MM-DD. */
  date: string
  currency: string
  realized_pnl: Decimal
  closed_positions: number
}

/** The stats' figures for the strategies quoted in one currency. */
export interface CurrencyStats {
  currency: string
  count: number
  buys: number
  sells: number
  volume: Decimal
  /** Fees paid in this currency (fees in another, such as BNB, are only in TradeStats.fees). */
  fees: Decimal
  realized_pnl: Decimal
  closed_positions: number
  wins: number
  losses: number
  win_rate: Decimal | null
}

/** GET /api/trades/stats: totals over the trades the filters leave. */
export interface TradeStats {
  count: number
  buys: number
  sells: number
  /** Traded notional per quote currency. */
  volume: PerCurrency
  /** Fees per fee currency. */
  fees: PerCurrency
  /** Net of fees, per quote currency, over the positions closed in range (a side filter does not narrow it). */
  realized_pnl: PerCurrency
  closed_positions: number
  wins: number
  losses: number
  /** wins / closed positions, "0" to "1"; null without closed positions. */
  win_rate: Decimal | null
  /** The same per quote currency, sorted by currency. */
  per_currency: CurrencyStats[]
  time_zone: string
  pnl_per_day: DailyPnl[]
}

export type PnlBucket = 'day' | 'hour'

export interface PnlPoint {
  /** The start of its day (in TIME_ZONE) or hour, ISO 8601. */
  time: string
  realized_pnl: Decimal
  closed_positions: number
  /** Realized up to the end of this point, from `before` on. */
  cumulative_pnl: Decimal
}

export interface PnlCurrencySeries {
  currency: string
  /** Realized before `since`: where the running total starts. */
  before: Decimal
  total: Decimal
  /** Only the days (or hours) in which a position closed. */
  points: PnlPoint[]
}

/** GET /api/trades/pnl: realized PnL per day (or hour) and its running total, per quote currency. */
export interface PnlSeries {
  time_zone: string
  bucket: PnlBucket
  series: PnlCurrencySeries[]
}

export type TradeQuery = Record<string, string | number>

/** The filters as the API's query parameters, the empty ones left out (the symbol upper-cased, as the API reads it). */
export function tradeQuery(filters: TradeFilters): TradeQuery {
  const query: TradeQuery = {}
  if (filters.strategy) query.strategy = filters.strategy
  const symbol = filters.symbol?.trim().toUpperCase()
  if (symbol) query.symbol = symbol
  if (filters.side) query.side = filters.side
  if (filters.since) query.since = filters.since
  if (filters.until) query.until = filters.until
  return query
}

/** The CSV download of every trade the filters leave (the server streams them all, not a page): an anchor's
 *  href, which the browser fetches with the session cookie. */
export function tradesCsvUrl(filters: TradeFilters): string {
  const params = new URLSearchParams({ format: 'csv' })
  for (const [key, value] of Object.entries(tradeQuery(filters))) params.set(key, String(value))
  return `/api/trades?${params.toString()}`
}

export const tradesApi = {
  /** One page, newest first. */
  list: (filters: TradeFilters, page = 1, pageSize = 50, signal?: AbortSignal) =>
    api.get<Paginated<Trade>>('/api/trades', {
      query: { ...tradeQuery(filters), page, page_size: pageSize },
      signal,
    }),
  get: (id: number) => api.get<Trade>(`/api/trades/${id}`),
  stats: (filters: TradeFilters, signal?: AbortSignal) =>
    api.get<TradeStats>('/api/trades/stats', { query: tradeQuery(filters), signal }),
  /** PnL belongs to round trips, so a side filter does not apply; since/until select by when a position closed. */
  pnl: (filters: TradeFilters, bucket: PnlBucket = 'day', signal?: AbortSignal) =>
    api.get<PnlSeries>('/api/trades/pnl', {
      query: { ...tradeQuery({ ...filters, side: null }), bucket },
      signal,
    }),
}
