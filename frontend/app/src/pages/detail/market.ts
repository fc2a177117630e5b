/**
 * The decimals a strategy's numbers are shown at: its market's tick (prices) and step (amounts) when the markets
 * endpoint knows them, else as many as the prices seen so far carry (a sticky width, so 30000.10 does not shrink to
 * 30000.1); money in the quote currency at a stablecoin's cents or finer.
 */
import { computed, ref, watch, type Ref } from 'vue'
import type { Account } from '@/api/accounts'
import { exchangesApi, marketSource, type Market } from '@/api/exchanges'
import { precisionOf } from '@/format'
import { quoteDecimals } from '@/pages/dashboard/rows'

export interface Precision {
  price: number
  amount: number
  quote: number
}

/** The decimals a decimal string shows (trailing zeros count: the API sends a price at its tick). */
export function decimalsOf(value: string | null | undefined): number {
  if (!value) return 0
  const fraction = value.split(/[eE]/)[0]!.split('.')[1] ?? ''
  return Math.min(fraction.length, 12)
}

export function precisionFor(
  market: Pick<Market, 'tick_size' | 'step_size'> | null,
  quote: string,
  seenPrices: number,
  seenAmounts: number,
): Precision {
  const price = precisionOf(market?.tick_size) ?? Math.min(seenPrices, 8)
  const amount = precisionOf(market?.step_size) ?? Math.min(Math.max(seenAmounts, 0), 8)
  return { price, amount, quote: quoteDecimals(quote, price) }
}

export function useMarketPrecision(account: Ref<Account | undefined>, symbol: Ref<string | undefined>) {
  const market = ref<Market | null>(null)
  const seenPrices = ref(0)
  const seenAmounts = ref(0)
  const quote = computed(() => symbol.value?.split('/')[1] ?? '')

  watch(
    [account, symbol],
    async ([acc, sym]) => {
      if (!acc || !sym) return
      const from = marketSource(acc)
      try {
        const page = await exchangesApi.markets(from.exchange, sym, { testnet: from.testnet })
        market.value = page.results.find((m) => m.symbol === sym) ?? null
      } catch {
        // Without the market's rules the numbers keep the digits they came with: worse, not wrong.
        market.value = null
      }
    },
    { immediate: true },
  )

  /** Widen the fallbacks with values seen in the answers (only used while the market's rules are unknown). */
  function see(prices: (string | null | undefined)[], amounts: (string | null | undefined)[] = []): void {
    const p = Math.max(seenPrices.value, ...prices.map(decimalsOf))
    const a = Math.max(seenAmounts.value, ...amounts.map(decimalsOf))
    if (p !== seenPrices.value) seenPrices.value = p
    if (a !== seenAmounts.value) seenAmounts.value = a
  }

  const precision = computed(() =>
    precisionFor(market.value, quote.value, seenPrices.value, seenAmounts.value),
  )
  return { precision, market, quote, see }
}
