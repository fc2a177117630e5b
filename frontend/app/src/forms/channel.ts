/**
 * The notification channel form: its state, the checks made before sending (the API makes them again and its 400s
 * are shown on the same fields), and what it sends. The apprise URL is write-only: an edit starts empty and an
 * empty URL keeps the stored one.
 */
import type { ChannelInput, ChannelLanguage, NotificationChannel } from '@/api/events'

export const MAX_URL_LENGTH = 2000

/** The kinds in the form's groups, in the order a trader reads them. */
export const KIND_GROUPS: { name: string; kinds: string[] }[] = [
  { name: 'trades', kinds: ['buy_filled', 'take_profit_filled', 'stop_loss_sold', 'time_stop_sold'] },
  { name: 'grid', kinds: ['ladder_placed', 'ladder_trailed', 'level_skipped'] },
  { name: 'risk', kinds: ['paused', 'resumed', 'balance_gap', 'error'] },
  { name: 'runtime', kinds: ['started', 'stopped', 'handed_over', 'failed_over'] },
  { name: 'summary', kinds: ['daily_summary'] },
]

/** What a new channel receives unless changed (notifications/kinds.py's DEFAULT_KINDS). */
export const DEFAULT_KINDS = [
  'stopped',
  'failed_over',
  'take_profit_filled',
  'stop_loss_sold',
  'time_stop_sold',
  'paused',
  'error',
  'balance_gap',
  'daily_summary',
]

export interface ChannelForm {
  name: string
  url: string
  kinds: string[]
  language: ChannelLanguage
  enabled: boolean
  summary_hour: number
}

export function emptyChannelForm(language: ChannelLanguage = 'en'): ChannelForm {
  return { name: '', url: '', kinds: [...DEFAULT_KINDS], language, enabled: true, summary_hour: 20 }
}

export function channelFormOf(channel: NotificationChannel): ChannelForm {
  return {
    name: channel.name,
    url: '',
    kinds: [...channel.kinds],
    language: channel.language,
    enabled: channel.enabled,
    summary_hour: channel.summary_hour,
  }
}

/** The field errors as i18n keys (with their parameters), empty when the form can be sent. */
export type ChannelErrors = Partial<
  Record<keyof ChannelForm, { key: string; params?: Record<string, unknown> }>
>

export function validateChannel(form: ChannelForm, editing: boolean): ChannelErrors {
  const errors: ChannelErrors = {}
  if (!form.name.trim()) errors.name = { key: 'notifications.errors.nameRequired' }
  else if (form.name.trim().length > 100)
    errors.name = { key: 'notifications.errors.nameLong', params: { max: 100 } }
  const url = form.url.trim()
  if (!url && !editing) errors.url = { key: 'notifications.errors.urlRequired' }
  else if (url && !/^[a-z][a-z0-9+.-]*:\/\/\S+$/i.test(url))
    errors.url = { key: 'notifications.errors.urlScheme' }
  else if (url.length > MAX_URL_LENGTH)
    errors.url = { key: 'notifications.errors.urlLong', params: { max: MAX_URL_LENGTH } }
  if (!form.kinds.length) errors.kinds = { key: 'notifications.errors.kindsRequired' }
  if (!Number.isInteger(form.summary_hour) || form.summary_hour < 0 || form.summary_hour > 23)
    errors.summary_hour = { key: 'notifications.errors.hourRange' }
  return errors
}

export function channelInput(form: ChannelForm): ChannelInput {
  const url = form.url.trim()
  return {
    name: form.name.trim(),
    ...(url ? { url } : {}),
    kinds: [...form.kinds],
    language: form.language,
    enabled: form.enabled,
    summary_hour: form.summary_hour,
  }
}
