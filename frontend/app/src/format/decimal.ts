/**
 * Decimal strings, exactly: the API sends money as strings ("29650.12000000") and a float would round
 * 0.1 + 0.2 into 0.30000000000000004 — so display arithmetic (rounding, totals) works on digits, via BigInt.
 */

export interface Scaled {
  /** The value × 10^scale. */
  units: bigint
  scale: number
}

const DECIMAL = /^([+-])?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/

/** "−12.340" → {units: -12340n, scale: 3}; null for anything that is not a finite decimal. */
export function parseDecimal(value: string | null | undefined): Scaled | null {
  if (value === null || value === undefined) return null
  const match = DECIMAL.exec(value.trim())
  if (!match) return null
  const [, sign, whole = '', fraction = '', exponent] = match
  if (!whole && !fraction) return null
  let digits = (whole || '0') + fraction
  let scale = fraction.length
  const shift = exponent ? Number(exponent) : 0
  if (shift > 0) {
    if (shift > scale) digits += '0'.repeat(shift - scale)
    scale = Math.max(0, scale - shift)
  } else scale -= shift
  const units = BigInt(digits)
  return { units: sign === '-' ? -units : units, scale }
}

function rescale(value: Scaled, scale: number): Scaled {
  if (scale >= value.scale) return { units: value.units * 10n ** BigInt(scale - value.scale), scale }
  // Round half away from zero, as a person rounding a price would.
  const divisor = 10n ** BigInt(value.scale - scale)
  const negative = value.units < 0n
  const magnitude = negative ? -value.units : value.units
  let units = magnitude / divisor
  if ((magnitude % divisor) * 2n >= divisor) units += 1n
  return { units: negative ? -units : units, scale }
}

export function toDecimalString(value: Scaled): string {
  const negative = value.units < 0n
  const digits = (negative ? -value.units : value.units).toString().padStart(value.scale + 1, '0')
  const whole = digits.slice(0, digits.length - value.scale)
  const fraction = digits.slice(digits.length - value.scale)
  return (negative ? '-' : '') + whole + (value.scale ? `.${fraction}` : '')
}

/** The exact sum of decimal strings; null parts are skipped ("12.5" + "0.25" = "12.75"). */
export function addDecimals(...values: (string | null | undefined)[]): string {
  let total: Scaled = { units: 0n, scale: 0 }
  for (const value of values) {
    const parsed = parseDecimal(value)
    if (!parsed) continue
    const scale = Math.max(total.scale, parsed.scale)
    total = { units: rescale(total, scale).units + rescale(parsed, scale).units, scale }
  }
  return toDecimalString(total)
}

export function compareDecimals(a: string, b: string): number {
  const x = parseDecimal(a)
  const y = parseDecimal(b)
  if (!x || !y) return 0
  const scale = Math.max(x.scale, y.scale)
  const diff = rescale(x, scale).units - rescale(y, scale).units
  return diff === 0n ? 0 : diff < 0n ? -1 : 1
}

/** The number of decimals a market step or tick allows: "0.01" → 2, "1" → 0, "0.00010000" → 4. */
export function precisionOf(step: string | null | undefined): number | undefined {
  const parsed = parseDecimal(step)
  if (!parsed || parsed.units === 0n) return undefined
  let { units, scale } = parsed
  while (scale > 0 && units % 10n === 0n) {
    units /= 10n
    scale -= 1
  }
  return scale
}

const separatorCache = new Map<string, { group: string; decimal: string }>()

function separators(locale: string): { group: string; decimal: string } {
  let cached = separatorCache.get(locale)
  if (!cached) {
    const parts = new Intl.NumberFormat(locale).formatToParts(1234567.5)
    cached = {
      group: parts.find((p) => p.type === 'group')?.value ?? ',',
      decimal: parts.find((p) => p.type === 'decimal')?.value ?? '.',
    }
    separatorCache.set(locale, cached)
  }
  return cached
}

export interface DecimalFormat {
  /** Decimals to show (the market's); undefined keeps the value's own digits with trailing zeros trimmed. */
  precision?: number
  /** Show "+" before positive values (PnL). */
  signed?: boolean
  /** Text for a missing or unreadable value. */
  empty?: string
}

/** A decimal string for people: rounded to `precision`, grouped the locale's way ("29,650.12"). */
export function formatDecimal(
  value: string | null | undefined,
  locale: string,
  options: DecimalFormat = {},
): string {
  const parsed = parseDecimal(value)
  if (!parsed) return options.empty ?? '—'
  let text: string
  if (options.precision !== undefined) text = toDecimalString(rescale(parsed, Math.max(0, options.precision)))
  else
    text = toDecimalString(parsed)
      .replace(/(\.\d*?)0+$/, '$1')
      .replace(/\.$/, '')
  const negative = text.startsWith('-')
  if (negative) text = text.slice(1)
  const [whole = '0', fraction] = text.split('.')
  const { group, decimal } = separators(locale)
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, group)
  const isZero = /^[0.]*$/.test(text)
  const sign = negative && !isZero ? '-' : options.signed && !isZero ? '+' : ''
  return sign + grouped + (fraction !== undefined ? decimal + fraction : '')
}

/** −1, 0 or 1: the sign of a decimal string (0 for a missing one), to colour a PnL without parsing a float. */
export function signOf(value: string | null | undefined): -1 | 0 | 1 {
  const parsed = parseDecimal(value)
  if (!parsed || parsed.units === 0n) return 0
  return parsed.units < 0n ? -1 : 1
}
