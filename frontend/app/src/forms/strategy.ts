/**
 * The strategy form's state and what it sends. Numbers stay the strings the user typed, so 0.1 is sent as "0.1"
 * (never 0.1000000000000000055…), and the API's range messages, not the form, say what is allowed.
 */
import type { PreviewInput, Strategy, StrategyInput } from '@/api/strategies'

export interface StrategyForm {
  name: string
  account: number | null
  symbol: string
  grid_levels: string
  buy_offset_pct: string
  sell_offset_pct: string
  order_size_quote: string
  reprice_threshold_pct: string
  loop_interval: string
  max_positions: string
  stop_loss_pct: string
  time_stop_hours: string
  daily_loss_limit: string
  max_consecutive_losses: string
  cooldown_minutes: string
}

export const STRATEGY_FIELDS = [
  'name',
  'account',
  'symbol',
  'grid_levels',
  'buy_offset_pct',
  'sell_offset_pct',
  'order_size_quote',
  'reprice_threshold_pct',
  'loop_interval',
  'max_positions',
  'stop_loss_pct',
  'time_stop_hours',
  'daily_loss_limit',
  'max_consecutive_losses',
  'cooldown_minutes',
] as const satisfies readonly (keyof StrategyForm)[]

/** The rules that can be switched off: an empty input sends null. */
export const OPTIONAL_FIELDS = new Set<keyof StrategyForm>([
  'stop_loss_pct',
  'time_stop_hours',
  'daily_loss_limit',
  'max_consecutive_losses',
])

/** "1.0000" → "1", "20.00000000" → "20": the stored scale is not what the user typed. */
export function plain(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return ''
  const text = String(value)
  return /^-?\d+\.\d*$/.test(text) ? text.replace(/\.?0+$/, '') : text
}

/** The model's defaults for a new strategy (strategies/models.py). */
export function strategyForm(strategy?: Strategy | null, account: number | null = null): StrategyForm {
  const s = strategy
  return {
    name: s?.name ?? '',
    account: s?.account ?? account,
    symbol: s?.symbol ?? '',
    grid_levels: plain(s?.grid_levels ?? 5),
    buy_offset_pct: plain(s?.buy_offset_pct ?? '1'),
    sell_offset_pct: plain(s?.sell_offset_pct ?? '1'),
    order_size_quote: plain(s?.order_size_quote ?? '20'),
    reprice_threshold_pct: plain(s?.reprice_threshold_pct ?? '1'),
    loop_interval: plain(s?.loop_interval ?? '1'),
    max_positions: plain(s?.max_positions ?? 10),
    stop_loss_pct: plain(s?.stop_loss_pct),
    time_stop_hours: plain(s?.time_stop_hours),
    daily_loss_limit: plain(s?.daily_loss_limit),
    max_consecutive_losses: plain(s?.max_consecutive_losses),
    cooldown_minutes: plain(s?.cooldown_minutes ?? 0),
  }
}

function number(form: StrategyForm, field: keyof StrategyForm): string | null {
  const value = String(form[field] ?? '').trim()
  return value === '' && OPTIONAL_FIELDS.has(field) ? null : value
}

/** The body of a create, an edit or a preview. */
export function strategyPayload(form: StrategyForm): StrategyInput {
  // The API parses the numbers and names the field of one it cannot read; the casts are only for the types.
  const n = (field: keyof StrategyForm) => number(form, field) as never
  return {
    name: form.name.trim(),
    account: form.account as number,
    symbol: form.symbol.trim().toUpperCase(),
    grid_levels: n('grid_levels'),
    buy_offset_pct: n('buy_offset_pct'),
    sell_offset_pct: n('sell_offset_pct'),
    order_size_quote: n('order_size_quote'),
    reprice_threshold_pct: n('reprice_threshold_pct'),
    loop_interval: n('loop_interval'),
    max_positions: n('max_positions'),
    stop_loss_pct: n('stop_loss_pct'),
    time_stop_hours: n('time_stop_hours'),
    daily_loss_limit: n('daily_loss_limit'),
    max_consecutive_losses: n('max_consecutive_losses'),
    cooldown_minutes: n('cooldown_minutes'),
  }
}

/** What the preview is asked for: nothing until there is an account and a symbol to preview. */
export function previewPayload(form: StrategyForm): PreviewInput | null {
  if (form.account === null || !form.symbol.trim()) return null
  // The name does not change the ladder: typing it asks nothing.
  const input: Partial<StrategyInput> = strategyPayload(form)
  delete input.name
  return input as PreviewInput
}
