// The shapes of the API answers the pages read (see /api/schema/). Decimals are strings; times ISO 8601.

export type Decimal = string
export type EngineState = 'running' | 'stopping' | 'error'
export type DesiredState = 'running' | 'stopped'
/** What a person sees: the engine's state, or what is between (starting, waiting to retry) or after (stopped). */
export type StrategyState = EngineState | 'stopped' | 'starting' | 'retrying'

export interface Paginated<T> {
  count: number
  next: string | null
  previous: string | null
  results: T[]
}

export interface StatusHash {
  task_id: string | null
  worker_ip: string | null
  worker_hostname: string | null
  status: EngineState | null
  started_at: string | null
  current_price: Decimal | null
  pending_buys: number | null
  pending_sells: number | null
  position_count: number | null
  last_error: string | null
  skipped_levels: string[]
  paused: string[]
  notes: string[]
  updated_at: string | null
}

export interface Node {
  ip: string
  hostname: string | null
}

export interface RuntimeStatus {
  id: number
  name: string
  symbol: string
  desired_state: DesiredState
  running: boolean
  status: StatusHash | null
  node: Node | null
  retry_after_error: string | null
}

export interface WorkerStrategy {
  id: number
  name: string
  symbol: string
  status: EngineState | null
  updated_at: string | null
}

export interface WorkerNode {
  ip: string
  hostname: string
  /** When the node last reported that it is alive (UTC); null when not known. */
  last_heartbeat_at: string | null
  strategies: WorkerStrategy[]
}

export interface DashboardStrategy extends RuntimeStatus {
  quote_currency: string
  account: { id: number; name: string; exchange: string }
  loop_interval: Decimal
  open_positions: number
  today_pnl: Decimal | null
}

/** GET /api/strategies/dashboard: every strategy of the user, polled by the dashboard. */
export interface Dashboard {
  server_time: string
  time_zone: string
  day_started_at: string
  strategies: DashboardStrategy[]
  today_pnl: PerCurrency
}

/** Money per currency, e.g. {"USDT": "12.5"}: adding currencies up would be meaningless. */
export type PerCurrency = Record<string, Decimal>
