/**
 * What the trades page shows, kept in the URL's query so a reload or a shared link opens the same view:
 * `?strategy=3&symbol=BTC/USDT&side=sell&from=2026-12-01&to=2026-12-07&page=2`. The dates are whole days in the
 * reader's own zone, `to` included; the API gets them as instants (ISO 8601), `until` being the next midnight.
 */
import type { LocationQuery, LocationQueryValue } from 'vue-router'
import type { TradeFilters, TradeSide } from '@/api/trades'

export const PAGE_SIZES = [20, 50, 100, 200] as const
export const DEFAULT_PAGE_SIZE = 50

export interface TradesView {
  strategy: number | null
  symbol: string
  side: TradeSide | null
  /** YYYY-MM-DD in the reader's zone, from its midnight. */
  from: string | null
  /** YYYY-MM-DD in the reader's zone, to its end (included). */
  to: string | null
  page: number
  pageSize: number
}

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/

function first(value: LocationQueryValue | LocationQueryValue[] | undefined): string {
  const one = Array.isArray(value) ? value[0] : value
  return (one ?? '').trim()
}

function positiveInt(text: string): number | null {
  if (!/^\d{1,9}$/.test(text)) return null
  const n = Number(text)
  return n > 0 ? n : null
}

/** A real calendar day or null: "2026-02-30" is not one. */
export function validDay(text: string): string | null {
  const match = DAY.exec(text)
  if (!match) return null
  const [, y, m, d] = match.map(Number) as [number, number, number, number]
  const date = new Date(Date.UTC(y, m - 1, d))
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d ? text : null
}

/** The view a URL asks for; anything unreadable (a typo in a shared link) is left out rather than sent. */
export function viewFromQuery(query: LocationQuery): TradesView {
  const side = first(query.side)
  const size = positiveInt(first(query.page_size))
  let from = validDay(first(query.from))
  let to = validDay(first(query.to))
  if (from && to && from > to) [from, to] = [to, from]
  return {
    strategy: positiveInt(first(query.strategy)),
    symbol: first(query.symbol).toUpperCase(),
    side: side === 'buy' || side === 'sell' ? side : null,
    from,
    to,
    page: positiveInt(first(query.page)) ?? 1,
    pageSize: size && (PAGE_SIZES as readonly number[]).includes(size) ? size : DEFAULT_PAGE_SIZE,
  }
}

/** The URL query of a view: only what differs from the default, so the plain page is a plain /trades. */
export function queryFromView(view: TradesView): Record<string, string> {
  const query: Record<string, string> = {}
  if (view.strategy) query.strategy = String(view.strategy)
  if (view.symbol.trim()) query.symbol = view.symbol.trim().toUpperCase()
  if (view.side) query.side = view.side
  if (view.from) query.from = view.from
  if (view.to) query.to = view.to
  if (view.page > 1) query.page = String(view.page)
  if (view.pageSize !== DEFAULT_PAGE_SIZE) query.page_size = String(view.pageSize)
  return query
}

/** Midnight starting `day` in the reader's zone (the browser's), as an instant. */
export function localMidnight(day: string, addDays = 0): Date {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number]
  return new Date(y, m - 1, d + addDays)
}

/** The view's filters as the API takes them: the days become instants, `to`'s end the next day's midnight. */
export function filtersOf(view: TradesView): TradeFilters {
  return {
    strategy: view.strategy,
    symbol: view.symbol || null,
    side: view.side,
    since: view.from ? localMidnight(view.from).toISOString() : null,
    until: view.to ? localMidnight(view.to, 1).toISOString() : null,
  }
}

/** Whether any filter narrows the trades (an empty answer then means "none match", not "none yet"). */
export function isFiltered(view: TradesView): boolean {
  return Boolean(view.strategy || view.symbol || view.side || view.from || view.to)
}
