import { describe, expect, it } from 'vitest'
import { ApiError } from '@/api'
import type { Account } from '@/api/accounts'
import type { ExchangeInfo } from '@/api/exchanges'
import type { Strategy } from '@/api/strategies'
import { ACCOUNT_FIELDS, accountForm, accountPayload, offersTestnet, secretFieldsFor } from '@/forms/account'
import { splitErrors, useFormErrors } from '@/forms/errors'
import { previewPayload, STRATEGY_FIELDS, strategyForm, strategyPayload } from '@/forms/strategy'

const binance: ExchangeInfo = {
  id: 'binance',
  name: 'Binance',
  paper: false,
  testnet: true,
  api_key: true,
  secret: true,
  passphrase: false,
}
const okx: ExchangeInfo = {
  id: 'okx',
  name: 'OKX',
  paper: false,
  testnet: false,
  api_key: true,
  secret: true,
  passphrase: true,
}

function account(overrides: Partial<Account> = {}): Account {
  return {
    id: 3,
    name: 'Main',
    exchange: 'binance',
    testnet: false,
    paper_balances: {},
    price_source: '',
    price_exchange: '',
    replay_dataset: '',
    replay_speed: null,
    is_active: true,
    api_key_masked: '****1234',
    api_secret_masked: '****6789',
    passphrase_masked: null,
    credentials_error: null,
    strategy_count: 0,
    created_at: '2026-12-01T00:00:00Z',
    updated_at: '2026-12-01T00:00:00Z',
    ...overrides,
  }
}

describe('form errors', () => {
  const bad = new ApiError(
    400,
    'grid_levels: Must be between 1 and 100 levels.',
    {
      grid_levels: ['Must be between 1 and 100 levels.'],
      buy_offset_pct: ['Must be between 0.01 and 50 %.'],
      'paper_balances.USDT': ['Must be a positive number.'],
      non_field_errors: ['Nothing was saved.'],
      surprise: ['A field this form does not have.'],
    },
    null,
  )

  it('puts every failing field beside its own input, all at once', () => {
    const split = splitErrors(bad, ['grid_levels', 'buy_offset_pct', 'paper_balances'])

    expect(split.fields).toEqual({
      grid_levels: ['Must be between 1 and 100 levels.'],
      buy_offset_pct: ['Must be between 0.01 and 50 %.'],
      paper_balances: ['USDT: Must be a positive number.'],
    })
  })

  it('keeps what no field can show above the form, naming the field it was about', () => {
    const split = splitErrors(bad, ['grid_levels', 'buy_offset_pct', 'paper_balances'])

    expect(split.general).toEqual(['Nothing was saved.', 'surprise: A field this form does not have.'])
  })

  it('shows a conflict or an outage as one message for the whole form', () => {
    const conflict = new ApiError(409, 'Account has 1 strategy.', {}, { detail: 'Account has 1 strategy.' })
    const outage = new ApiError(503, 'Markets of binance cannot be loaded.', { detail: ['x'] }, null)

    expect(splitErrors(conflict, ACCOUNT_FIELDS)).toEqual({
      fields: {},
      general: ['Account has 1 strategy.'],
    })
    expect(splitErrors(outage, ACCOUNT_FIELDS).general).toEqual(['Markets of binance cannot be loaded.'])
    expect(splitErrors(new Error('offline'), ACCOUNT_FIELDS).general).toEqual(['offline'])
  })

  it('forgets a field message once that field is edited, and keeps the others', () => {
    const errors = useFormErrors(STRATEGY_FIELDS)
    errors.show(bad)

    expect(errors.of('grid_levels')).toBe('Must be between 1 and 100 levels.')
    errors.clear('grid_levels')

    expect(errors.of('grid_levels')).toBe('')
    expect(errors.of('buy_offset_pct')).toBe('Must be between 0.01 and 50 %.')
    expect(errors.any.value).toBe(true)
    errors.reset()
    expect(errors.any.value).toBe(false)
  })
})

describe('the account form', () => {
  it('sends typed secrets of a new account, and only the ones the exchange takes', () => {
    const form = accountForm()
    form.name = ' Main '
    form.exchange = 'okx'
    form.secrets.api_key.value = 'key'
    form.secrets.api_secret.value = 'secret'
    form.secrets.passphrase.value = 'pass'

    expect(accountPayload(form, okx)).toEqual({
      name: 'Main',
      exchange: 'okx',
      is_active: true,
      testnet: false,
      api_key: 'key',
      api_secret: 'secret',
      passphrase: 'pass',
    })
    expect(secretFieldsFor('binance', binance)).toEqual(['api_key', 'api_secret'])
  })

  it('keeps a stored secret left empty, replaces a typed one and clears one only when asked', () => {
    const stored = account()
    const form = accountForm(stored)
    form.secrets.api_key.value = 'new-key'
    form.secrets.api_secret.value = ''

    expect(accountPayload(form, binance, stored)).not.toHaveProperty('api_secret')
    expect(accountPayload(form, binance, stored).api_key).toBe('new-key')

    form.secrets.api_secret.clear = true
    expect(accountPayload(form, binance, stored).api_secret).toBe('')
  })

  it('never fills an input with a stored secret: an edit starts empty', () => {
    const form = accountForm(account())

    expect(Object.values(form.secrets).map((s) => s.value)).toEqual(['', '', ''])
  })

  it('offers a stored passphrase for clearing even where the exchange needs none', () => {
    expect(secretFieldsFor('binance', binance, account({ passphrase_masked: '****abcd' }))).toEqual([
      'api_key',
      'api_secret',
      'passphrase',
    ])
  })

  it('offers the testnet switch only where the exchange has one', () => {
    const form = accountForm(account())

    expect(offersTestnet(binance, form)).toBe(true)
    expect(offersTestnet(okx, { ...form, exchange: 'okx' })).toBe(false)
    expect(accountPayload({ ...form, exchange: 'okx' }, okx).testnet).toBe(false)
    // Already on where the exchange has none (set in the admin): shown, so that it can be switched off.
    expect(offersTestnet(okx, { ...form, exchange: 'okx', testnet: true })).toBe(true)
    expect(offersTestnet(undefined, { ...form, exchange: 'paper' })).toBe(false)
  })

  it('sends a paper account its balances and its replay, and clears what a paper account cannot have', () => {
    const stored = account()
    const form = accountForm(stored)
    form.exchange = 'paper'
    form.balances = [
      { asset: ' usdt ', amount: '10000 ' },
      { asset: '', amount: '' },
    ]
    form.price_source = 'replay'
    form.replay_dataset = 'BTCUSDT-1m-2022-05-05'
    form.replay_speed = '30'

    expect(accountPayload(form, undefined, stored)).toEqual({
      name: 'Main',
      exchange: 'paper',
      is_active: true,
      testnet: false,
      paper_balances: { USDT: '10000' },
      price_source: 'replay',
      replay_dataset: 'BTCUSDT-1m-2022-05-05',
      replay_speed: '30',
      api_key: '',
      api_secret: '',
    })
  })

  it('reads a paper account back as it was entered', () => {
    const form = accountForm(
      account({
        exchange: 'paper',
        paper_balances: { USDT: '10000', BTC: '0.5' },
        price_source: 'replay',
        replay_dataset: 'ETHUSDT-1h-2021-01',
        replay_speed: '30.000',
        api_key_masked: null,
        api_secret_masked: null,
      }),
    )

    expect(form.balances).toEqual([
      { asset: 'USDT', amount: '10000' },
      { asset: 'BTC', amount: '0.5' },
    ])
    expect(form.replay_speed).toBe('30')
    expect(form.price_source).toBe('replay')
  })
})

describe('the strategy form', () => {
  const strategy: Strategy = {
    id: 1,
    name: 'BTC grid',
    account: 3,
    symbol: 'BTC/USDT',
    grid_levels: 5,
    buy_offset_pct: '0.5000',
    sell_offset_pct: '1.0000',
    order_size_quote: '20.00000000',
    reprice_threshold_pct: '1.0000',
    loop_interval: '1.000',
    max_positions: 10,
    stop_loss_pct: null,
    time_stop_hours: '48.00',
    daily_loss_limit: null,
    max_consecutive_losses: null,
    cooldown_minutes: 0,
    desired_state: 'stopped',
    created_at: '2026-12-01T00:00:00Z',
    updated_at: '2026-12-01T00:00:00Z',
  }

  it('shows stored numbers as a person wrote them and sends them back as strings', () => {
    const form = strategyForm(strategy)

    expect(form.buy_offset_pct).toBe('0.5')
    expect(form.order_size_quote).toBe('20')
    expect(form.time_stop_hours).toBe('48')
    const body = strategyPayload({ ...form, symbol: ' btc/usdt ', buy_offset_pct: '0.1' })
    expect(body.symbol).toBe('BTC/USDT')
    expect(body.buy_offset_pct).toBe('0.1')
    expect(body.stop_loss_pct).toBeNull()
  })

  it('sends an empty required number as typed, for the API to name it', () => {
    expect(strategyPayload({ ...strategyForm(strategy), grid_levels: ' ' }).grid_levels).toBe('')
  })

  it('asks for no preview without an account and a symbol, and never sends the name to it', () => {
    expect(previewPayload(strategyForm(null, null))).toBeNull()
    expect(previewPayload({ ...strategyForm(strategy), symbol: '' })).toBeNull()
    const preview = previewPayload(strategyForm(strategy))
    expect(preview).not.toHaveProperty('name')
    expect(preview).toMatchObject({ account: 3, symbol: 'BTC/USDT', grid_levels: '5' })
  })
})
