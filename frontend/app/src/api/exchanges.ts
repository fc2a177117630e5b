// The exchanges an account can name and their markets (/api/exchanges): the account form's picker and the
// strategy form's symbol picker.
import { api } from './index'
import type { Decimal } from './types'

/** An exchange an account can name, and what it needs (GET /api/exchanges). */
export interface ExchangeInfo {
  id: string
  name: string
  /** Whether it has a testnet/sandbox AresBot can use: the testnet switch is offered only then. */
  has_testnet: boolean
  requires: { api_key: boolean; secret: boolean; passphrase: boolean }
  /** Paper only: the candle data sets a paper account can replay. */
  datasets?: ReplayDataset[]
}

/** A candle data set a paper account can replay. */
export interface ReplayDataset {
  name: string
  symbol: string
  description: string
}

/** A market of an exchange, with the rules an order must meet (GET /api/exchanges/{id}/markets). */
export interface Market {
  symbol: string
  base: string
  quote: string
  tick_size: Decimal | null
  step_size: Decimal | null
  min_amount: Decimal | null
  min_notional: Decimal | null
  maker_fee: Decimal | null
  taker_fee: Decimal | null
}

export const exchangesApi = {
  list: () => api.get<ExchangeInfo[]>('/api/exchanges'),
  markets: (exchange: string, search: string, signal?: AbortSignal) =>
    api.get<Market[]>(`/api/exchanges/${encodeURIComponent(exchange)}/markets`, {
      query: { search },
      signal,
    }),
}
