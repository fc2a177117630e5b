import { describe, expect, it } from 'vitest'
import {
  addDecimals,
  compareDecimals,
  formatAge,
  formatDecimal,
  formatDuration,
  formatTime,
  parseDecimal,
  precisionOf,
  signOf,
} from '@/format'

describe('decimal strings', () => {
  it('format at the market precision with the locale grouping, rounding half away from zero', () => {
    expect(formatDecimal('29650.125', 'en', { precision: 2 })).toBe('29,650.13')
    expect(formatDecimal('-29650.125', 'en', { precision: 2 })).toBe('-29,650.13')
    expect(formatDecimal('1234567.1', 'zh-CN', { precision: 2 })).toBe('1,234,567.10')
    expect(formatDecimal('1234567.1', 'de', { precision: 2 })).toBe('1.234.567,10')
    expect(formatDecimal('0.000123450000', 'en', { precision: 8 })).toBe('0.00012345')
    expect(formatDecimal('12.5', 'en', { precision: 0 })).toBe('13')
  })

  it('keep every digit a float would lose', () => {
    expect(formatDecimal('123456789012345678.123456789', 'en', { precision: 9 })).toBe(
      '123,456,789,012,345,678.123456789',
    )
    expect(addDecimals('0.1', '0.2')).toBe('0.3')
    expect(addDecimals('100000000000000000.01', '0.000000000000000001')).toBe(
      '100000000000000000.010000000000000001',
    )
  })

  it('trim trailing zeros when no precision is known', () => {
    expect(formatDecimal('29650.12000000', 'en')).toBe('29,650.12')
    expect(formatDecimal('10.000', 'en')).toBe('10')
  })

  it('sign PnL, and never show a negative zero', () => {
    expect(formatDecimal('12.5', 'en', { signed: true })).toBe('+12.5')
    expect(formatDecimal('-0.001', 'en', { precision: 2, signed: true })).toBe('0.00')
    expect(signOf('-0.5')).toBe(-1)
    expect(signOf('0.000')).toBe(0)
    expect(signOf(null)).toBe(0)
  })

  it('show a dash for missing or malformed values', () => {
    expect(formatDecimal(null, 'en')).toBe('—')
    expect(formatDecimal('abc', 'en', { empty: '' })).toBe('')
    expect(parseDecimal('1e3')).toEqual({ units: 1000n, scale: 0 })
    expect(parseDecimal('1.5E-2')).toEqual({ units: 15n, scale: 3 })
  })

  it('add up per currency and compare exactly', () => {
    expect(addDecimals('12.50', '-2.25', null, '0')).toBe('10.25')
    expect(compareDecimals('0.10', '0.1')).toBe(0)
    expect(compareDecimals('-1', '0.5')).toBe(-1)
  })

  it('read a market step as a number of decimals', () => {
    expect(precisionOf('0.01000000')).toBe(2)
    expect(precisionOf('1')).toBe(0)
    expect(precisionOf('0.00001')).toBe(5)
    expect(precisionOf(null)).toBeUndefined()
  })
})

describe('times', () => {
  const utc = '2022-05-05T23:30:05Z'

  it('show an ISO 8601 UTC time in the user zone', () => {
    expect(formatTime(utc, 'en', { timeZone: 'Asia/Shanghai', seconds: true })).toBe('05/06/2022, 07:30:05')
    expect(formatTime(utc, 'en', { timeZone: 'America/New_York' })).toBe('05/05/2022, 19:30')
    expect(formatTime(utc, 'zh-CN', { timeZone: 'Asia/Shanghai', seconds: true })).toBe('2022/05/06 07:30:05')
    expect(formatTime(utc, 'zh-CN', { timeZone: 'UTC', dateOnly: true })).toBe('2022/05/05')
    expect(formatTime(null, 'en')).toBe('—')
  })

  it('say how long ago, in both languages', () => {
    const now = Date.parse(utc)
    expect(formatAge('2022-05-05T23:29:53Z', now, 'en')).toBe('12 sec. ago')
    expect(formatAge('2022-05-05T20:30:05Z', now, 'en')).toBe('3 hr. ago')
    expect(formatAge('2022-05-05T23:29:53Z', now, 'zh-CN')).toBe('12秒前')
    expect(formatAge('2022-05-03T23:30:05Z', now, 'zh-CN')).toBe('2天前')
    // A clock a little ahead of ours is "now", not "in 2 seconds".
    expect(formatAge('2022-05-05T23:30:07Z', now, 'en')).toBe('0 sec. ago')
  })

  it('write lengths of time compactly', () => {
    expect(formatDuration(45, 'en')).toBe('45s')
    expect(formatDuration(3 * 3600 + 5 * 60, 'en')).toBe('3h 5m')
    expect(formatDuration(2 * 86400 + 4 * 3600, 'zh-CN')).toBe('2天 4小时')
  })
})
