// Exchange accounts and the exchanges they can name (/api/accounts, /api/exchanges): their shapes and calls.
import { api } from './index'
import type { Decimal, Paginated } from './types'

export type PriceSourceKind = 'live' | 'replay'

export interface Account {
  id: number
  name: string
  /** A CCXT id such as binance, or paper. */
  exchange: string
  testnet: boolean
  /** Paper accounts: starting balances per asset. */
  paper_balances: Record<string, Decimal>
  /** Paper accounts: where prices come from ('' on a real exchange's account). */
  price_source: PriceSourceKind | ''
  price_exchange: string
  replay_dataset: string
  replay_speed: Decimal | null
  is_active: boolean
  /** `****abcd`, or null when none is stored or it cannot be read. The secrets themselves never come back. */
  api_key_masked: string | null
  api_secret_masked: string | null
  passphrase_masked: string | null
  /** Why the stored credentials cannot be read (a wrong ENCRYPTION_KEY), else null. */
  credentials_error: string | null
  strategy_count: number
  created_at: string
  updated_at: string
}

/** What create and edit send. A secret left out is kept; `""` clears it. */
export interface AccountInput {
  name: string
  exchange: string
  testnet?: boolean
  is_active?: boolean
  paper_balances?: Record<string, string>
  price_source?: PriceSourceKind
  price_exchange?: string
  replay_dataset?: string
  replay_speed?: string | null
  api_key?: string
  api_secret?: string
  passphrase?: string
}

export interface Verification {
  ok: boolean
  exchange: string
  assets: number
  /** Why not, when ok is false: bad_key, key_or_ip_rejected, ip_not_whitelisted, no_trade_permission, … */
  reason: string | null
  detail: string
  warnings: string[]
}

export interface AssetBalance {
  asset: string
  free: Decimal
  locked: Decimal
  total: Decimal
}

export interface BalanceReport {
  exchange: string
  balances: AssetBalance[]
}

export const PAPER = 'paper'

export const accountsApi = {
  async list(): Promise<Account[]> {
    // An installation has a handful of accounts; one page of the most the API allows holds them all.
    const page = await api.get<Paginated<Account>>('/api/accounts', { query: { page_size: 500 } })
    return page.results
  },
  get: (id: number) => api.get<Account>(`/api/accounts/${id}`),
  create: (input: AccountInput) => api.post<Account>('/api/accounts', input),
  update: (id: number, input: Partial<AccountInput>) => api.patch<Account>(`/api/accounts/${id}`, input),
  remove: (id: number) => api.delete(`/api/accounts/${id}`),
  verify: (id: number) => api.post<Verification>(`/api/accounts/${id}/verify`),
  balance: (id: number) => api.get<BalanceReport>(`/api/accounts/${id}/balance`),
}
