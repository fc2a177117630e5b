/**
 * An event's line in the reader's language, from its kind and data (the API's `summary` is English only). Numbers
 * are shown as the API sends them: the engine wrote them at the market's precision. A kind this app does not know
 * yet falls back to the server's English summary.
 */
import type { StrategyEvent } from '@/api/events'

export type Translate = (key: string, params?: Record<string, unknown>) => string

const REASONS = new Set([
  'daily_loss_limit',
  'cooldown',
  'max_positions',
  'insufficient_funds',
  'exchange_down',
  'market_rule',
])

function text(value: unknown): string {
  if (value === null || value === undefined || value === '') return '?'
  return Array.isArray(value) ? value.map(text).join('; ') : String(value)
}

// Who stopped it (the `stopped` event's `by`); anything else reads as unknown rather than as a raw word.
const STOPPERS = new Set(['owner', 'admin', 'system', 'unknown'])

type Params = (data: Record<string, unknown>, t: Translate) => Record<string, string>

const trade: Params = (d) => ({
  amount: text(d.amount),
  symbol: text(d.symbol),
  price: text(d.price),
  pnl: text(d.lot_pnl),
  quote: d.quote ? String(d.quote) : '',
})

function reason(d: Record<string, unknown>, t: Translate): string {
  const cause = String(d.reason ?? '')
  return REASONS.has(cause) ? t(`events.reason.${cause}`) : text(d.detail ?? d.reason)
}

/** The two nodes of a failover; two workers of one machine share its name, so their addresses tell them apart. */
function nodes(d: Record<string, unknown>): { from: string; to: string } {
  const from = text(d.from_node)
  const to = text(d.to_node)
  if (from !== to || !d.from_ip || !d.to_ip || d.from_ip === d.to_ip) return { from, to }
  return { from: `${from} (${text(d.from_ip)})`, to: `${to} (${text(d.to_ip)})` }
}

const PARAMS: Record<string, Params> = {
  started: (d) => ({ node: text(d.node), job: text(d.job) }),
  stopped: (d, t) => ({
    who: t(`events.stoppedBy.${STOPPERS.has(String(d.by)) ? String(d.by) : 'unknown'}`),
    mode: t(d.cancel_mode === 'all' ? 'events.cancelAll' : 'events.cancelBuys'),
  }),
  handed_over: (d) => ({ node: text(d.node), reason: text(d.reason) }),
  failed_over: (d, t) => ({
    ...nodes(d),
    // null: the runtime could not tell how long the strategy went unattended.
    gap:
      d.gap_seconds === null || d.gap_seconds === undefined
        ? t('events.gapUnknown')
        : t('events.gapSeconds', { seconds: text(d.gap_seconds) }),
  }),
  buy_filled: trade,
  take_profit_filled: trade,
  stop_loss_sold: trade,
  time_stop_sold: trade,
  ladder_placed: (d) => ({ anchor: text(d.anchor), levels: text(d.levels) }),
  ladder_trailed: (d) => ({ from: text(d.from_anchor), to: text(d.to_anchor) }),
  paused: (d, t) => ({ reason: reason(d, t) }),
  resumed: (d, t) => ({ reason: reason(d, t) }),
  level_skipped: (d) => ({ reasons: text(d.reasons) }),
  error: (d) => ({ error: text(d.error_class ?? 'Error'), message: d.message ? String(d.message) : '' }),
  balance_gap: (d) => ({ asset: text(d.asset), held: text(d.held), have: text(d.have) }),
}

/** The event's line; a repeat says how many times it happened. */
export function eventMessage(
  event: Pick<StrategyEvent, 'kind' | 'data' | 'count' | 'summary'>,
  t: Translate,
) {
  const params = PARAMS[event.kind]
  if (!params) return event.summary
  const line = t(`events.message.${event.kind}`, params(event.data ?? {}, t))
  return event.count > 1 ? t('events.repeated', { line, count: event.count }) : line
}

/** The kind's name, for filters and checkboxes. */
export function kindLabel(kind: string, t: Translate): string {
  return t(`events.kind.${kind}`)
}
