/** Times: the API speaks ISO 8601 (UTC, `…Z`); people read them in their own zone and language. */

export interface TimeFormat {
  /** An IANA zone; the browser's own when omitted. */
  timeZone?: string
  /** Include seconds (status pages) or not (tables). */
  seconds?: boolean
  dateOnly?: boolean
}

export function parseTime(value: string | null | undefined): Date | null {
  if (!value) return null
  const date = new Date(value)
  return Number.isNaN(date.getTime()) ? null : date
}

export function formatTime(
  value: string | null | undefined,
  locale: string,
  options: TimeFormat = {},
): string {
  const date = parseTime(value)
  if (!date) return '—'
  return new Intl.DateTimeFormat(locale, {
    timeZone: options.timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    ...(options.dateOnly
      ? {}
      : {
          hour: '2-digit',
          minute: '2-digit',
          second: options.seconds ? '2-digit' : undefined,
          hourCycle: 'h23',
        }),
  }).format(date)
}

/** Seconds from `value` to `now` (0 for a time in the future, as clocks of two machines differ a little). */
export function ageSeconds(value: string | null | undefined, now: number): number | null {
  const date = parseTime(value)
  if (!date) return null
  return Math.max(0, (now - date.getTime()) / 1000)
}

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ['day', 86400],
  ['hour', 3600],
  ['minute', 60],
  ['second', 1],
]

/** "12 seconds ago", "3 hours ago" / "12秒钟前": the largest whole unit, in the locale's words. */
export function formatAge(value: string | null | undefined, now: number, locale: string): string {
  const seconds = ageSeconds(value, now)
  if (seconds === null) return '—'
  const [unit, size] = UNITS.find(([, size]) => seconds >= size) ?? ['second', 1]
  return new Intl.RelativeTimeFormat(locale, { numeric: 'always', style: 'short' }).format(
    -Math.floor(seconds / size),
    unit,
  )
}

/** A length of time, compact: "45 s", "12 min", "3 h 5 min", "2 d 4 h" (positions' age, heartbeat). */
export function formatDuration(totalSeconds: number, locale: string): string {
  const s = Math.max(0, Math.floor(totalSeconds))
  const unit = (value: number, name: 'day' | 'hour' | 'minute' | 'second') =>
    new Intl.NumberFormat(locale, { style: 'unit', unit: name, unitDisplay: 'narrow' }).format(value)
  if (s < 60) return unit(s, 'second')
  if (s < 3600) return unit(Math.floor(s / 60), 'minute')
  if (s < 86400) return `${unit(Math.floor(s / 3600), 'hour')} ${unit(Math.floor((s % 3600) / 60), 'minute')}`
  return `${unit(Math.floor(s / 86400), 'day')} ${unit(Math.floor((s % 86400) / 3600), 'hour')}`
}
