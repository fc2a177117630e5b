/**
 * The account form's state and what it sends. Secrets are write-only: the form never holds a stored one (the API
 * gives only masks), an empty input keeps what is stored, and clearing is an explicit choice that sends "".
 */
import { PAPER, type Account, type AccountInput, type PriceSourceKind } from '@/api/accounts'
import type { ExchangeInfo } from '@/api/exchanges'

export const SECRET_FIELDS = ['api_key', 'api_secret', 'passphrase'] as const
export type SecretField = (typeof SECRET_FIELDS)[number]

export interface SecretInput {
  /** What the user typed now; never a stored value. */
  value: string
  /** Remove the stored value. */
  clear: boolean
}

export interface BalanceRow {
  asset: string
  amount: string
}

export interface AccountForm {
  name: string
  exchange: string
  testnet: boolean
  is_active: boolean
  balances: BalanceRow[]
  price_source: PriceSourceKind
  price_exchange: string
  replay_dataset: string
  replay_speed: string
  secrets: Record<SecretField, SecretInput>
}

/** Every field the API may name in a 400 for this form. */
export const ACCOUNT_FIELDS = [
  'name',
  'exchange',
  'testnet',
  'is_active',
  'paper_balances',
  'price_source',
  'price_exchange',
  'replay_dataset',
  'replay_speed',
  ...SECRET_FIELDS,
] as const

const MASKS: Record<SecretField, keyof Account> = {
  api_key: 'api_key_masked',
  api_secret: 'api_secret_masked',
  passphrase: 'passphrase_masked',
}

/** The mask of a stored secret (`****abcd`), or null. */
export function storedMask(account: Account | null | undefined, field: SecretField): string | null {
  return (account?.[MASKS[field]] as string | null | undefined) ?? null
}

export function emptySecrets(): Record<SecretField, SecretInput> {
  return {
    api_key: { value: '', clear: false },
    api_secret: { value: '', clear: false },
    passphrase: { value: '', clear: false },
  }
}

/** A new paper account starts as the quick start's does: 10,000 USDT at live Binance prices. */
export function accountForm(account?: Account | null): AccountForm {
  if (!account) {
    return {
      name: '',
      exchange: PAPER,
      testnet: false,
      is_active: true,
      balances: [{ asset: 'USDT', amount: '10000' }],
      price_source: 'live',
      price_exchange: 'binance',
      replay_dataset: '',
      replay_speed: '1',
      secrets: emptySecrets(),
    }
  }
  const balances = Object.entries(account.paper_balances ?? {}).map(([asset, amount]) => ({ asset, amount }))
  return {
    name: account.name,
    exchange: account.exchange,
    testnet: account.testnet,
    is_active: account.is_active,
    balances: balances.length || account.exchange !== PAPER ? balances : [{ asset: 'USDT', amount: '' }],
    price_source: account.price_source === 'replay' ? 'replay' : 'live',
    price_exchange: account.price_exchange || 'binance',
    replay_dataset: account.replay_dataset,
    replay_speed: account.replay_speed ? trimZeros(account.replay_speed) : '1',
    secrets: emptySecrets(),
  }
}

function trimZeros(value: string): string {
  return value.includes('.') ? value.replace(/\.?0+$/, '') : value
}

// An exchange the list does not describe (it could not be loaded, or an id typed by hand): the API decides, so
// the form offers what most exchanges take.
const UNKNOWN_NEEDS = { api_key: true, secret: true, passphrase: false }

/** The secret inputs this exchange needs, plus any it does not need but which is stored (so it can be cleared). */
export function secretFieldsFor(
  exchangeId: string,
  exchange: ExchangeInfo | undefined,
  account?: Account | null,
): SecretField[] {
  if (exchangeId === PAPER) return []
  const needs = exchange ?? UNKNOWN_NEEDS
  const needed: Record<SecretField, boolean> = {
    api_key: needs.api_key,
    api_secret: needs.secret,
    passphrase: needs.passphrase,
  }
  return SECRET_FIELDS.filter((field) => needed[field] || storedMask(account, field) !== null)
}

/** Whether the form offers the testnet switch: only where the exchange has one (or it is on already, or the
 * exchange is not described, when the API is the judge). */
export function offersTestnet(exchange: ExchangeInfo | undefined, form: AccountForm): boolean {
  if (form.exchange === PAPER || !form.exchange) return false
  return exchange ? exchange.testnet || form.testnet : true
}

/**
 * The body of a create (account null) or an edit (PATCH). Secrets: a typed value replaces, `clear` sends "",
 * an empty input is left out (kept). A paper account sends no credentials, and clears stored ones (an account
 * switched to paper), since paper accounts take none.
 */
export function accountPayload(
  form: AccountForm,
  exchange: ExchangeInfo | undefined,
  account?: Account | null,
): AccountInput {
  const body: AccountInput = { name: form.name.trim(), exchange: form.exchange, is_active: form.is_active }
  if (form.exchange === PAPER) {
    body.testnet = false
    body.paper_balances = Object.fromEntries(
      form.balances
        .map((row) => [row.asset.trim().toUpperCase(), row.amount.trim()] as const)
        .filter(([asset, amount]) => asset || amount),
    )
    body.price_source = form.price_source
    if (form.price_source === 'live') body.price_exchange = form.price_exchange.trim()
    else {
      body.replay_dataset = form.replay_dataset
      body.replay_speed = form.replay_speed.trim() || null
    }
    for (const field of SECRET_FIELDS) if (storedMask(account, field) !== null) body[field] = ''
    return body
  }
  body.testnet = offersTestnet(exchange, form) ? form.testnet : false
  for (const field of secretFieldsFor(form.exchange, exchange, account)) {
    const input = form.secrets[field]
    if (input.clear) body[field] = ''
    else if (input.value !== '') body[field] = input.value
  }
  // An account switched from paper to an exchange: a real account has no starting balances.
  if (account?.exchange === PAPER) body.paper_balances = {}
  return body
}
