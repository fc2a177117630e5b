// Backtests and parameter sweeps (/api/backtests, /api/sweeps; the contract is backtest-api.md): the data sets they
// replay, a run's progress and results, and a sweep's ranked combinations. Decimals stay strings; times ISO 8601 UTC.
import { api } from './index'
import type { Decimal, Paginated } from './types'

export type DatasetSource = 'sample' | 'upload' | 'download'
export type DatasetStatus = 'downloading' | 'ready' | 'failed'
export type RunStatus = 'queued' | 'running' | 'done' | 'failed' | 'cancelled'

/** A sample's id is "sample:<name>"; the user's own uploads and downloads have numbers. */
export type DatasetId = number | string

export interface Dataset {
  id: DatasetId
  name: string
  source: DatasetSource
  symbol: string | null
  interval_seconds: number | null
  start: string | null
  end: string | null
  candles: number | null
  gaps: number | null
  size_bytes: number | null
  created_at: string | null
  /** A download's state (uploads and samples are ready at once). */
  status?: DatasetStatus
  progress?: { done: number; total: number } | null
  error?: string | null
}

export interface DownloadInput {
  exchange: string
  symbol: string
  timeframe: string
  since: string
  until?: string
}

export interface Progress {
  done: number
  total: number
  eta_seconds: number | null
}

/** The grid and risk parameters a run takes (the strategy API's names and bounds), and its options. */
export interface BacktestParameters {
  strategy?: number | null
  symbol?: string
  grid_levels?: number | string
  buy_offset_pct?: Decimal
  sell_offset_pct?: Decimal
  order_size_quote?: Decimal
  reprice_threshold_pct?: Decimal
  max_positions?: number | string | null
  stop_loss_pct?: Decimal | null
  time_stop_hours?: Decimal | null
  daily_loss_limit?: Decimal | null
  max_consecutive_losses?: number | string | null
  cooldown_minutes?: number | string | null
  initial_quote?: Decimal
  initial_base?: Decimal
  slippage_pct?: Decimal
  fee_in_base?: boolean
  maker_fee_pct?: Decimal | null
  taker_fee_pct?: Decimal | null
}

export interface BacktestInput extends BacktestParameters {
  dataset: DatasetId
}

export interface DatasetRef {
  /** null once the data set was deleted. */
  id: DatasetId | null
  name: string
  symbol: string | null
  start: string | null
  end: string | null
  candles: number | null
}

/** BacktestResult.summary(): figures as decimal strings, in the quote currency. */
export interface BacktestSummary {
  realized_pnl: Decimal
  unrealized_pnl: Decimal
  total_pnl: Decimal
  fees_quote: Decimal
  max_drawdown: Decimal
  max_drawdown_pct: Decimal
  grid_cycles: number
  fills: number
  orders: number
  time_in_market_seconds: number | Decimal
  capital_peak: Decimal
  buy_and_hold_pnl: Decimal
  equity_start: Decimal
  equity_end: Decimal
  gaps: number
  candles: number
  start: string
  end: string
  quote?: string
  [key: string]: unknown
}

export interface Gap {
  start: string
  end: string
  seconds: number
}

/** What a backtest and a sweep have alike (the lists show these). */
export interface RunRow {
  id: number
  status: RunStatus
  progress: Progress | null
  dataset: DatasetRef
  created_at: string
}

/** A run: the list gives these without the heavy parts (summary may be there, the curve is not). */
export interface Backtest {
  id: number
  status: RunStatus
  progress: Progress | null
  /** The symbol and every grid and risk parameter it ran with (the strategy's, with the overrides). */
  parameters: BacktestParameters & Record<string, unknown>
  /** initial_quote, initial_base, slippage_pct, fee_in_base, maker_fee_pct, taker_fee_pct. */
  options?: Record<string, unknown>
  strategy?: number | null
  dataset: DatasetRef
  created_at: string
  started_at: string | null
  finished_at: string | null
  error: string | null
  summary: BacktestSummary | null
  equity_curve?: [string, Decimal][] | null
  gaps?: Gap[]
}

export interface BacktestFill {
  time: string
  side: 'buy' | 'sell'
  role: string
  price: Decimal
  amount: Decimal
  fee: Decimal
  fee_currency: string
  client_order_id: string
}

export interface BacktestLot {
  opened_at: string
  closed_at: string | null
  buy_price: Decimal
  sell_price: Decimal | null
  amount: Decimal
  pnl: Decimal | null
  exit_reason: string | null
}

export interface BacktestCandle {
  time: string
  open: Decimal
  high: Decimal
  low: Decimal
  close: Decimal
}

/** The parameters a sweep varies, each a list of values (stop-loss may hold null: off). */
export interface SweepGrid {
  grid_levels: (number | string)[]
  buy_offset_pct: Decimal[]
  sell_offset_pct: Decimal[]
  stop_loss_pct?: (Decimal | null)[]
}

export interface SweepInput extends BacktestInput {
  grid: SweepGrid
}

export interface SweepRow {
  grid_levels: number
  buy_offset_pct: Decimal
  sell_offset_pct: Decimal
  stop_loss_pct: Decimal | null
  total_pnl: Decimal
  realized_pnl: Decimal
  unrealized_pnl: Decimal
  max_drawdown: Decimal
  max_drawdown_pct: Decimal
  pnl_per_drawdown: Decimal | null
  fills: number
  grid_cycles: number
  fees_quote: Decimal
  rank: number
}

export interface Sweep {
  id: number
  status: RunStatus
  progress: Progress | null
  grid: SweepGrid
  parameters?: BacktestParameters & Record<string, unknown>
  base?: BacktestParameters & Record<string, unknown>
  options?: Record<string, unknown>
  dataset: DatasetRef
  created_at: string
  started_at: string | null
  finished_at: string | null
  error: string | null
  results?: SweepRow[]
}

const unpage = <T>(answer: Paginated<T> | T[]): T[] => (Array.isArray(answer) ? answer : answer.results)

export const backtestsApi = {
  datasets: (signal?: AbortSignal) => api.get<Dataset[]>('/api/backtests/datasets', { signal }),
  upload(files: File[], symbol: string): Promise<Dataset> {
    const body = new FormData()
    for (const file of files) body.append('files', file)
    if (symbol.trim()) body.append('symbol', symbol.trim().toUpperCase())
    return api.post<Dataset>('/api/backtests/datasets', body)
  },
  download: (input: DownloadInput) => api.post<Dataset>('/api/backtests/datasets/download', input),
  removeDataset: (id: DatasetId) => api.delete(`/api/backtests/datasets/${id}`),

  create: (input: BacktestInput) => api.post<Backtest>('/api/backtests', input),
  async list(signal?: AbortSignal): Promise<Backtest[]> {
    return unpage(
      await api.get<Paginated<Backtest> | Backtest[]>('/api/backtests', {
        query: { page_size: 100 },
        signal,
      }),
    )
  },
  get: (id: number, signal?: AbortSignal) => api.get<Backtest>(`/api/backtests/${id}`, { signal }),
  fills: (id: number, signal?: AbortSignal) =>
    api.get<BacktestFill[]>(`/api/backtests/${id}/fills`, { signal }),
  async positions(id: number, signal?: AbortSignal): Promise<BacktestLot[]> {
    return unpage(
      await api.get<Paginated<BacktestLot> | BacktestLot[]>(`/api/backtests/${id}/positions`, { signal }),
    )
  },
  candles: (id: number, max: number, signal?: AbortSignal) =>
    api.get<BacktestCandle[]>(`/api/backtests/${id}/candles`, { query: { max }, signal }),
  /** Cancels a queued or running one; deletes a finished one. */
  remove: (id: number) => api.delete<Backtest | null>(`/api/backtests/${id}`),

  createSweep: (input: SweepInput) => api.post<Sweep>('/api/sweeps', input),
  async sweeps(signal?: AbortSignal): Promise<Sweep[]> {
    return unpage(
      await api.get<Paginated<Sweep> | Sweep[]>('/api/sweeps', { query: { page_size: 100 }, signal }),
    )
  },
  sweep: (id: number, signal?: AbortSignal) => api.get<Sweep>(`/api/sweeps/${id}`, { signal }),
  removeSweep: (id: number) => api.delete<Sweep | null>(`/api/sweeps/${id}`),
}
