// The shapes of the API answers the pages read (see /api/schema/). Decimals are strings; times ISO 8601.

export type Decimal = string
export type EngineState = 'running' | 'stopping' | 'error'
export type DesiredState = 'running' | 'stopped'

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
  strategies: WorkerStrategy[]
}

/** Money per currency, e.g. {"USDT": "12.5"}: adding currencies up would be meaningless. */
export type PerCurrency = Record<string, Decimal>
