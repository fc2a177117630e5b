/**
 * The strategy parameters' ranges, as strategies.models.BOUNDS states them, with the same message. The API checks
 * them again (and says the same); the sweep form needs them first, to check each value of a list before counting
 * combinations, and the backtest form shows the message before a run is queued.
 */
import { compareDecimals, parseDecimal } from '@/format/decimal'

export interface Bound {
  low: string
  high: string
  unit: string
  optional?: boolean
  integer?: boolean
}

export const BOUNDS = {
  grid_levels: { low: '1', high: '100', unit: 'levels', integer: true },
  buy_offset_pct: { low: '0.01', high: '50', unit: '%' },
  sell_offset_pct: { low: '0.01', high: '100', unit: '%' },
  order_size_quote: { low: '0.00000001', high: '1000000000', unit: 'in quote currency' },
  reprice_threshold_pct: { low: '0.01', high: '100', unit: '%' },
  loop_interval: { low: '0.5', high: '3600', unit: 'seconds' },
  max_positions: { low: '1', high: '1000', unit: 'positions', integer: true },
  stop_loss_pct: { low: '0.01', high: '99.99', unit: '%', optional: true },
  time_stop_hours: { low: '0.01', high: '8760', unit: 'hours', optional: true },
  daily_loss_limit: { low: '0.00000001', high: '1000000000', unit: 'in quote currency', optional: true },
  max_consecutive_losses: { low: '1', high: '100', unit: 'losses', optional: true, integer: true },
  cooldown_minutes: { low: '0', high: '10080', unit: 'minutes', integer: true },
} as const satisfies Record<string, Bound>

export type BoundedField = keyof typeof BOUNDS

/** The model's words: "Must be between 0.01 and 50 % (or empty to switch it off)." */
export function boundMessage(field: BoundedField): string {
  const bound: Bound = BOUNDS[field]
  const off = bound.optional ? ' (or empty to switch it off)' : ''
  return `Must be between ${bound.low} and ${bound.high} ${bound.unit}${off}.`
}

/** null when `value` is allowed for `field` (empty only for an optional one); else the message to show. */
export function checkBound(field: BoundedField, value: string): string | null {
  const bound: Bound = BOUNDS[field]
  const text = value.trim()
  if (text === '') return bound.optional ? null : `This field is required. ${boundMessage(field)}`
  const parsed = parseDecimal(text)
  if (!parsed || /e/i.test(text)) return 'A valid number is required.'
  if (bound.integer && !/^[+-]?\d+$/.test(text)) return 'A valid integer is required.'
  if (compareDecimals(text, bound.low) < 0 || compareDecimals(text, bound.high) > 0)
    return boundMessage(field)
  return null
}
