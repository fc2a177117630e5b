/**
 * The backtest form: a strategy's grid and risk parameters (the strategy form's fields, names and bounds), the data
 * set, and the run's options. Numbers stay the strings the user typed; the API has the last word on every range.
 */
import type { BacktestInput, DatasetId, Progress } from '@/api/backtests'
import type { Strategy } from '@/api/strategies'
import { formatDuration } from '@/format/time'
import { checkBound, type BoundedField } from './bounds'
import { OPTIONAL_FIELDS, plain, strategyForm, type StrategyForm } from './strategy'

/** The strategy parameters a backtest takes: all but the name, the account and the engine's loop interval. */
export const PARAMETER_FIELDS = [
  'grid_levels',
  'buy_offset_pct',
  'sell_offset_pct',
  'order_size_quote',
  'reprice_threshold_pct',
  'max_positions',
  'stop_loss_pct',
  'time_stop_hours',
  'daily_loss_limit',
  'max_consecutive_losses',
  'cooldown_minutes',
] as const satisfies readonly (keyof StrategyForm & BoundedField)[]

export type ParameterField = (typeof PARAMETER_FIELDS)[number]

export interface BacktestForm extends Pick<StrategyForm, ParameterField | 'symbol'> {
  /** The strategy the parameters came from (null: typed in). */
  strategy: number | null
  dataset: DatasetId | null
  initial_quote: string
  slippage_pct: string
  fee_in_base: boolean
}

export const OPTION_FIELDS = ['initial_quote', 'slippage_pct'] as const

/** Every field the API may blame, for the form's error split. */
export const BACKTEST_FIELDS = [
  'strategy',
  'symbol',
  'dataset',
  ...PARAMETER_FIELDS,
  ...OPTION_FIELDS,
  'fee_in_base',
] as const

export function backtestForm(strategy?: Strategy | null): BacktestForm {
  const base = strategyForm(strategy)
  const form = { strategy: strategy?.id ?? null, symbol: base.symbol } as BacktestForm
  for (const field of PARAMETER_FIELDS) form[field] = base[field]
  return { ...form, dataset: null, initial_quote: '10000', slippage_pct: '0.05', fee_in_base: false }
}

/** A strategy's parameters into the form, keeping the data set and options the user chose. */
export function applyStrategy(form: BacktestForm, strategy: Strategy): void {
  const next = backtestForm(strategy)
  for (const field of PARAMETER_FIELDS) form[field] = next[field]
  form.symbol = next.symbol
  form.strategy = strategy.id
}

/** The parameters of a finished run (or a sweep's row) back into the form: "run again with changes". */
export function applyParameters(form: BacktestForm, parameters: Record<string, unknown>): void {
  for (const field of PARAMETER_FIELDS)
    if (field in parameters) form[field] = plain(parameters[field] as string | number | null)
  if (typeof parameters.symbol === 'string') form.symbol = parameters.symbol
  for (const field of OPTION_FIELDS)
    if (parameters[field] !== undefined && parameters[field] !== null)
      form[field] = plain(parameters[field] as string)
  if (typeof parameters.fee_in_base === 'boolean') form.fee_in_base = parameters.fee_in_base
}

/** The messages the form can give before asking the API: each parameter's range, and the deepest buy above zero. */
export function validateBacktest(form: BacktestForm, skip: readonly string[] = []): Record<string, string> {
  const errors: Record<string, string> = {}
  for (const field of PARAMETER_FIELDS) {
    if (skip.includes(field)) continue
    const message = checkBound(field, form[field])
    if (message) errors[field] = message
  }
  if (
    !skip.includes('grid_levels') &&
    !skip.includes('buy_offset_pct') &&
    !errors.grid_levels &&
    !errors.buy_offset_pct
  ) {
    const limit = refusedLadder(form.grid_levels, form.buy_offset_pct)
    if (limit) errors.buy_offset_pct = limit
  }
  if (!form.symbol.trim() && form.strategy === null) errors.symbol = 'Choose a market symbol, e.g. BTC/USDT.'
  if (form.dataset === null) errors.dataset = 'Choose a data set.'
  for (const field of OPTION_FIELDS) {
    const value = Number(form[field])
    if (form[field].trim() === '' || !Number.isFinite(value) || value < 0)
      errors[field] = 'Must be a number ≥ 0.'
  }
  return errors
}

/** The model's rule: the deepest level sits at price × (1 − offset% × levels), so offset × levels must stay < 100. */
export function refusedLadder(levels: string | number, offset: string | number): string | null {
  const n = Number(levels)
  const pct = Number(offset)
  if (!Number.isFinite(n) || !Number.isFinite(pct) || n <= 0) return null
  if (pct * n < 100) return null
  return `With ${n} levels the buy offset must be below ${(100 / n).toFixed(4).replace(/\.?0+$/, '')} % (the deepest buy would be at or below zero).`
}

function optional(field: ParameterField, value: string): string | null {
  const text = value.trim()
  return text === '' && OPTIONAL_FIELDS.has(field) ? null : text
}

/** The body of POST /api/backtests (and a sweep's base). */
export function backtestPayload(form: BacktestForm): BacktestInput {
  const body: BacktestInput = { dataset: form.dataset as DatasetId }
  if (form.strategy !== null) body.strategy = form.strategy
  if (form.symbol.trim()) body.symbol = form.symbol.trim().toUpperCase()
  const params = body as unknown as Record<string, string | null>
  for (const field of PARAMETER_FIELDS) params[field] = optional(field, form[field])
  body.initial_quote = form.initial_quote.trim()
  body.slippage_pct = form.slippage_pct.trim()
  body.fee_in_base = form.fee_in_base
  return body
}

/** Done of total as a whole percentage (0 before the total is known, never above 100). */
export function progressPercent(progress: Progress | null | undefined): number {
  if (!progress || !progress.total) return 0
  return Math.min(100, Math.max(0, Math.floor((progress.done / progress.total) * 100)))
}

/** "about 2 min" material: the ETA as a compact duration, '' while unknown (queued, or too early to tell). */
export function etaText(progress: Progress | null | undefined, locale: string): string {
  const eta = progress?.eta_seconds
  if (eta === null || eta === undefined || !Number.isFinite(eta)) return ''
  return formatDuration(Math.max(1, Math.ceil(eta)), locale)
}

/** Whether a run still changes (the page polls it). */
export const isActive = (status: string | null | undefined) => status === 'queued' || status === 'running'
