/**
 * What a preview means to a trader, in numbers at the market's precision: the range the buys cover, the
 * take-profits above them, the capital they hold and what one cycle of every level earns. Exact decimal
 * arithmetic only (a float would drift in the last digit of a price).
 */
import type { Preview } from '@/api/strategies'
import { addDecimals, compareDecimals, parseDecimal, precisionOf, toDecimalString } from '@/format'
import { quoteDecimals } from '@/pages/dashboard/rows'

export interface LadderSummary {
  base: string
  quote: string
  /** Decimals of a price (the tick), of an amount (the step), and of money in quote. */
  priceDecimals: number
  amountDecimals: number
  quoteDecimals: number
  placed: number
  highestBuy: string | null
  lowestBuy: string | null
  highestTakeProfit: string | null
  lowestTakeProfit: string | null
  /** Σ cycle profit of the levels that have one. */
  profitPerCycle: string
  /** The highest stop-loss price (the first to fire), null without a stop-loss. */
  firstStopLoss: string | null
}

function extreme(values: (string | null)[], sign: 1 | -1): string | null {
  let best: string | null = null
  for (const value of values) {
    if (value === null) continue
    if (best === null || compareDecimals(value, best) === sign) best = value
  }
  return best
}

export function summarize(preview: Preview): LadderSummary {
  const [base = '', quote = ''] = preview.symbol.split('/')
  const priceDecimals = precisionOf(preview.market.tick_size) ?? 2
  const buys = preview.levels.map((l) => l.price)
  const takeProfits = preview.levels.map((l) => l.take_profit_price)
  return {
    base,
    quote,
    priceDecimals,
    amountDecimals: precisionOf(preview.market.step_size) ?? 8,
    quoteDecimals: quoteDecimals(quote, priceDecimals),
    placed: preview.levels.length,
    highestBuy: extreme(buys, 1),
    lowestBuy: extreme(buys, -1),
    highestTakeProfit: extreme(takeProfits, 1),
    lowestTakeProfit: extreme(takeProfits, -1),
    profitPerCycle: addDecimals(...preview.levels.map((l) => l.cycle_profit)),
    firstStopLoss: extreme(
      preview.levels.map((l) => l.stop_loss_below),
      1,
    ),
  }
}

export interface SkippedLevel {
  level: number | null
  price: string | null
  reason: string
}

// The engine's words (trading/core/grid.py, engine.py): "level 4 at 28500.00: …", "level 2: …",
// "level 3 at 29000.00 waits: …".
const SKIP = /^level (\d+)(?: at (-?[\d.]+))?(?::| (?=waits:))\s*([\s\S]*)$/

/** "level 4 at 28500.00: below the min notional …" → its level, price and reason (the whole text when the
 * engine worded it otherwise), so the chart can mark it where it would have been. */
export function parseSkipped(text: string): SkippedLevel {
  const match = SKIP.exec(text)
  if (!match) return { level: null, price: null, reason: text }
  return { level: Number(match[1]), price: match[2] ?? null, reason: match[3] ?? text }
}

/** A fee rate as a percentage, exactly: "0.001" → "0.1". */
export function ratePercent(rate: string | null | undefined): string | null {
  const parsed = parseDecimal(rate)
  if (!parsed) return null
  const shifted =
    parsed.scale >= 2
      ? { units: parsed.units, scale: parsed.scale - 2 }
      : { units: parsed.units * 10n ** BigInt(2 - parsed.scale), scale: 0 }
  return toDecimalString(shifted)
}
