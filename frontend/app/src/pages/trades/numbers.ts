/**
 * How the trades page writes its numbers. The API sends every amount with the database's 18 places
 * ("29500.120000000000000000"); a market's fills are multiples of its tick and step, so the most digits any of a
 * symbol's fills needs is the market's precision as far as it shows: every fill is shown exactly, in aligned columns.
 */
import type { Trade } from '@/api/trades'
import { parseDecimal, toDecimalString } from '@/format'
import { STABLE_QUOTES, quoteDecimals } from '@/pages/dashboard/rows'

export interface SymbolDecimals {
  price: number
  amount: number
  /** Money in the quote currency (notional): a stablecoin's cents at least. */
  quote: number
}

// Beyond this a digit is dust, not precision (and would push the columns off a phone).
const MAX_DECIMALS = 10

/** The decimals a value needs to be shown exactly: "29500.120000" → 2. */
export function significantDecimals(value: string | null | undefined): number {
  const parsed = parseDecimal(value)
  if (!parsed) return 0
  let { units, scale } = parsed
  while (scale > 0 && units % 10n === 0n) {
    units /= 10n
    scale -= 1
  }
  return Math.min(scale, MAX_DECIMALS)
}

export const quoteOf = (symbol: string): string => symbol.split('/')[1] ?? ''

export function decimalsBySymbol(trades: readonly Trade[]): Map<string, SymbolDecimals> {
  const found = new Map<string, SymbolDecimals>()
  for (const trade of trades) {
    const seen = found.get(trade.symbol) ?? { price: 0, amount: 0, quote: 0 }
    seen.price = Math.max(seen.price, significantDecimals(trade.price))
    seen.amount = Math.max(seen.amount, significantDecimals(trade.amount))
    found.set(trade.symbol, seen)
  }
  for (const [symbol, seen] of found) {
    // Whole-number fills do not show the tick: a price in a stablecoin has its cents at least ("29,800.00").
    if (STABLE_QUOTES.has(quoteOf(symbol))) seen.price = Math.max(seen.price, 2)
    seen.quote = quoteDecimals(quoteOf(symbol), seen.price)
  }
  return found
}

/** Per fee currency, the decimals its fees on this page need: one column of fees lines up. */
export function feeDecimals(trades: readonly Trade[]): Map<string, number> {
  const found = new Map<string, number>()
  for (const trade of trades)
    found.set(
      trade.fee_currency,
      Math.max(found.get(trade.fee_currency) ?? 0, significantDecimals(trade.fee)),
    )
  return found
}

/** Decimals for money in `currency`, from the markets of the trades shown that are quoted in it. */
export function currencyDecimals(currency: string, bySymbol: Map<string, SymbolDecimals>): number {
  let price = 0
  for (const [symbol, seen] of bySymbol) if (quoteOf(symbol) === currency) price = Math.max(price, seen.price)
  return quoteDecimals(currency, price)
}

/** A rate from 0 to 1 as a percentage's decimal string, exactly: "0.6667" → "66.67". */
export function percentOf(rate: string | null | undefined): string | null {
  const parsed = parseDecimal(rate)
  if (!parsed) return null
  const { units, scale } = parsed
  return toDecimalString(
    scale >= 2 ? { units, scale: scale - 2 } : { units: units * 10n ** BigInt(2 - scale), scale: 0 },
  )
}
