/**
 * The dashboard's rows, kept across polls: each poll patches only the fields that changed, in place, so Vue
 * re-renders only the cells whose value moved — no row is rebuilt, nothing flickers, 100 rows stay cheap.
 */
import { reactive } from 'vue'
import type { Dashboard, DashboardStrategy, RuntimeStatus, StrategyState } from '@/api/types'
import { parseDecimal } from '@/format'

export type RowState = StrategyState

/** Flat and primitive: one field per cell, so a change is a plain !== and a cell's props compare cheaply. */
export interface Row {
  id: number
  name: string
  symbol: string
  quote: string
  accountName: string
  exchange: string
  state: RowState
  nodeHost: string | null
  nodeIp: string | null
  price: string | null
  /** The most decimals its price has shown: a sticky width, so 30000.10 does not shrink to 30000.1. */
  priceDecimals: number
  pendingBuys: number | null
  pendingSells: number | null
  positions: number
  todayPnl: string | null
  lastError: string
  paused: string
  skipped: number
  notes: string
  /** Its engine should have reported by now (3 ticks, at least 15 s, after its last report): a late engine. */
  engineLate: boolean
}

export const STABLE_QUOTES = new Set([
  'USDT',
  'USDC',
  'BUSD',
  'FDUSD',
  'TUSD',
  'DAI',
  'USD',
  'EUR',
  'TRY',
  'BRL',
])

/** Decimals for money in `quote`: a stablecoin's cents, else at least as fine as the market's prices. */
export function quoteDecimals(quote: string, priceDecimals: number): number {
  return Math.max(priceDecimals, STABLE_QUOTES.has(quote) ? 2 : 6)
}

function decimalsOf(value: string | null | undefined): number {
  const parsed = parseDecimal(value)
  if (!parsed) return 0
  const fraction = (value ?? '').split('.')[1] ?? ''
  return Math.min(fraction.replace(/[eE].*$/, '').length, 12)
}

/** What a person sees of a strategy's runtime: the engine's state, else what its desired state and last error say. */
export function stateOf(s: RuntimeStatus): RowState {
  if (s.status?.status) return s.status.status
  if (s.desired_state === 'running') return s.retry_after_error ? 'retrying' : 'starting'
  return 'stopped'
}

/** Whether an engine that reported at `updatedAt` should have reported again by `nowMs`: 3 ticks, at least 15 s. */
export function reportLate(
  updatedAt: string | null | undefined,
  loopInterval: string,
  nowMs: number,
): boolean {
  if (!updatedAt) return false
  const ageSeconds = (nowMs - Date.parse(updatedAt)) / 1000
  // loop_interval is seconds of timing, not money: a float is right here.
  return ageSeconds > Math.max(15, 3 * Number(loopInterval))
}

export function engineLate(s: DashboardStrategy, serverTime: string): boolean {
  if (!s.running) return false
  return reportLate(s.status?.updated_at, s.loop_interval, Date.parse(serverTime))
}

export function toRow(s: DashboardStrategy, serverTime: string, previous?: Row): Row {
  const price = s.status?.current_price ?? null
  return {
    id: s.id,
    name: s.name,
    symbol: s.symbol,
    quote: s.quote_currency,
    accountName: s.account.name,
    exchange: s.account.exchange,
    state: stateOf(s),
    nodeHost: s.node?.hostname ?? null,
    nodeIp: s.node?.ip ?? null,
    price,
    priceDecimals: Math.max(previous?.priceDecimals ?? 0, decimalsOf(price)),
    pendingBuys: s.status?.pending_buys ?? null,
    pendingSells: s.status?.pending_sells ?? null,
    positions: s.status?.position_count ?? s.open_positions,
    todayPnl: s.today_pnl,
    lastError: s.status?.last_error || s.retry_after_error || '',
    paused: (s.status?.paused ?? []).join('\n'),
    skipped: s.status?.skipped_levels.length ?? 0,
    notes: (s.status?.notes ?? []).join('\n'),
    engineLate: engineLate(s, serverTime),
  }
}

export interface RowStore {
  rows: Map<number, Row>
  ids: number[]
}

/** Apply one poll: new rows are added, gone ones dropped, and existing rows get only their changed fields.
 *  Returns whether the list itself (membership or order) changed. */
export function mergeRows(store: RowStore, answer: Dashboard): boolean {
  const seen = new Set<number>()
  const ids: number[] = []
  for (const strategy of answer.strategies) {
    seen.add(strategy.id)
    ids.push(strategy.id)
    const existing = store.rows.get(strategy.id)
    const next = toRow(strategy, answer.server_time, existing)
    if (!existing) {
      store.rows.set(strategy.id, reactive(next))
      continue
    }
    for (const key of Object.keys(next) as (keyof Row)[]) {
      if (existing[key] !== next[key]) (existing as unknown as Record<string, unknown>)[key] = next[key]
    }
  }
  for (const id of [...store.rows.keys()]) if (!seen.has(id)) store.rows.delete(id)
  const listChanged = ids.length !== store.ids.length || ids.some((id, i) => store.ids[i] !== id)
  if (listChanged) store.ids = ids
  return listChanged
}
