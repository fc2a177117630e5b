import { describe, expect, it } from 'vitest'
import { initialLocale } from '@/i18n'
import en from '@/i18n/locales/en.json'
import zhCN from '@/i18n/locales/zh-CN.json'

function keys(messages: object, prefix = ''): string[] {
  return Object.entries(messages).flatMap(([key, value]) =>
    value && typeof value === 'object' ? keys(value, `${prefix}${key}.`) : [`${prefix}${key}`],
  )
}

function placeholders(messages: object): Record<string, string[]> {
  const flat: Record<string, string[]> = {}
  const walk = (node: object, prefix: string) => {
    for (const [key, value] of Object.entries(node)) {
      if (value && typeof value === 'object') walk(value, `${prefix}${key}.`)
      else flat[`${prefix}${key}`] = [...String(value).matchAll(/\{(\w+)\}/g)].map((m) => m[1]!).sort()
    }
  }
  walk(messages, '')
  return flat
}

describe('the locales', () => {
  it('have exactly the same keys', () => {
    expect(keys(zhCN).sort()).toEqual(keys(en).sort())
  })

  it('use the same placeholders in each message', () => {
    expect(placeholders(zhCN)).toEqual(placeholders(en))
  })

  it('have no empty message', () => {
    const values = (messages: object): unknown[] =>
      Object.values(messages).flatMap((value) =>
        value && typeof value === 'object' ? values(value) : [value],
      )
    for (const messages of [en, zhCN]) {
      expect(values(messages).filter((value) => typeof value !== 'string' || !value.trim())).toEqual([])
    }
  })

  it('start from the remembered choice, else from the browser language', () => {
    const storage = (value: string | null) => ({ getItem: () => value })
    expect(initialLocale(storage('zh-CN'), ['en-US'])).toBe('zh-CN')
    expect(initialLocale(storage('en'), ['zh-CN'])).toBe('en')
    expect(initialLocale(storage(null), ['zh-TW', 'en'])).toBe('zh-CN')
    expect(initialLocale(storage('klingon'), ['en-GB'])).toBe('en')
  })
})
