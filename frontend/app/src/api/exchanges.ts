// The exchanges an account can name and their markets (/api/exchanges): the account form's picker and the
// strategy form's symbol picker.
import { PAPER, type Account } from './accounts'
import { api } from './index'
import type { Decimal, Paginated } from './types'

/** An exchange an account can name, and what an account on it needs (GET /api/exchanges). */
export interface ExchangeInfo {
  /** The CCXT id (`paper` for simulated trading). */
  id: string
  name: string
  paper: boolean
  /** Whether it has a testnet AresBot can use: the testnet switch is offered only then. */
  testnet: boolean
  api_key: boolean
  secret: boolean
  passphrase: boolean
}

/** A candle data set a paper account can replay. */
export interface ReplayDataset {
  name: string
  symbol: string
  /** The length of one candle. */
  interval_seconds: number
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
  /** Fee rates: 0.001 is 0.1 %. */
  maker_fee: Decimal | null
  taker_fee: Decimal | null
  /** Open orders per symbol and account; 0: none stated. */
  max_open_orders: number
}

export const exchangesApi = {
  list: () => api.get<ExchangeInfo[]>('/api/exchanges'),
  /** The candle data sets a paper account can replay. */
  datasets: () => api.get<ReplayDataset[]>('/api/exchanges/paper/datasets'),
  /** One page of the markets whose symbol contains `search` (in any case). */
  markets: (exchange: string, search: string, options: { testnet?: boolean; signal?: AbortSignal } = {}) =>
    api.get<Paginated<Market>>(`/api/exchanges/${encodeURIComponent(exchange)}/markets`, {
      query: { search, testnet: options.testnet || undefined, page_size: 50 },
      signal: options.signal,
    }),
}

/** Where an account's markets (and their rules) come from: its exchange, a paper account's live price exchange, or
 * the markets AresBot ships rules for (a paper account replaying a data set). */
export function marketSource(
  account: Pick<Account, 'exchange' | 'testnet' | 'price_source' | 'price_exchange'>,
): { exchange: string; testnet: boolean } {
  if (account.exchange !== PAPER) return { exchange: account.exchange, testnet: account.testnet }
  if (account.price_source === 'replay') return { exchange: PAPER, testnet: false }
  return { exchange: account.price_exchange || 'binance', testnet: false }
}
