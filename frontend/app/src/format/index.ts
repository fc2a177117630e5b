import { useI18n } from 'vue-i18n'
import { formatDecimal, type DecimalFormat } from './decimal'
import { formatAge, formatDuration, formatTime, type TimeFormat } from './time'

export * from './decimal'
export * from './time'

/** The formatters bound to the current language, for templates. */
export function useFormat() {
  const { locale } = useI18n()
  return {
    decimal: (value: string | null | undefined, options?: DecimalFormat) =>
      formatDecimal(value, locale.value, options),
    time: (value: string | null | undefined, options?: TimeFormat) =>
      formatTime(value, locale.value, options),
    age: (value: string | null | undefined, now: number) => formatAge(value, now, locale.value),
    duration: (seconds: number) => formatDuration(seconds, locale.value),
  }
}
