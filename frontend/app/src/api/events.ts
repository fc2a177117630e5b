// Strategy events (/api/strategies/{id}/events, the feed /api/events with its unread count, /api/events/read) and
// the user's notification channels (/api/notifications/channels). Decimals stay the API's strings.
import { api } from './index'
import type { Paginated } from './types'

export const EVENT_KINDS = [
  'started',
  'stopped',
  'handed_over',
  'failed_over',
  'buy_filled',
  'take_profit_filled',
  'stop_loss_sold',
  'time_stop_sold',
  'ladder_placed',
  'ladder_trailed',
  'paused',
  'resumed',
  'level_skipped',
  'error',
  'balance_gap',
] as const
export type EventKind = (typeof EVENT_KINDS)[number]
/** Fills: the price chart draws them from the trades already, as triangles. */
export const FILL_KINDS: ReadonlySet<string> = new Set([
  'buy_filled',
  'take_profit_filled',
  'stop_loss_sold',
  'time_stop_sold',
])

export type Severity = 'info' | 'warning' | 'error'

export interface StrategyEvent {
  id: number
  strategy: number
  /** An EventKind; a kind this app does not know yet is shown by its English `summary`. */
  kind: string
  severity: Severity
  /** The last time it happened (a repeat moves it), ISO 8601 UTC. */
  at: string
  first_at: string
  count: number
  data: Record<string, unknown>
  /** The event in English, from the server. */
  summary: string
}

export interface EventFeed extends Paginated<StrategyEvent> {
  unread: number
}

/** The kinds by what a trader looks for: the timeline's filter offers them in these groups. */
export const EVENT_KIND_GROUPS: readonly { name: string; kinds: readonly EventKind[] }[] = [
  {
    name: 'trades',
    kinds: [
      'buy_filled',
      'take_profit_filled',
      'stop_loss_sold',
      'time_stop_sold',
      'ladder_placed',
      'ladder_trailed',
    ],
  },
  { name: 'runtime', kinds: ['started', 'stopped', 'handed_over', 'failed_over'] },
  { name: 'risk', kinds: ['paused', 'resumed', 'level_skipped'] },
  { name: 'problems', kinds: ['error', 'balance_gap'] },
]

export const CHANNEL_KINDS = [...EVENT_KINDS, 'daily_summary'] as const
export type ChannelKind = (typeof CHANNEL_KINDS)[number]
export type ChannelLanguage = 'en' | 'zh-hans'

export interface NotificationChannel {
  id: number
  name: string
  url_masked: string | null
  kinds: string[]
  language: ChannelLanguage
  enabled: boolean
  summary_hour: number
  status: 'ok' | 'failing'
  last_failure: string
  last_failure_at: string | null
  last_success_at: string | null
  created_at: string
}

/** What the form sends: `url` is write-only, left out of an edit to keep the stored one. */
export interface ChannelInput {
  name: string
  url?: string
  kinds: string[]
  language: ChannelLanguage
  enabled: boolean
  summary_hour: number
}

export interface ChannelTestResult {
  ok: boolean
  reason: string
}

export const eventsApi = {
  ofStrategy: (
    id: number,
    /** `kinds` empty or left out: every kind. */
    filter: { kinds?: readonly string[]; since?: string; page?: number; pageSize?: number },
    signal?: AbortSignal,
  ) =>
    api.get<Paginated<StrategyEvent>>(`/api/strategies/${id}/events`, {
      query: { kind: filter.kinds, since: filter.since, page: filter.page, page_size: filter.pageSize },
      signal,
    }),
  feed: (pageSize: number, signal?: AbortSignal) =>
    api.get<EventFeed>('/api/events', { query: { page_size: pageSize }, signal }),
  read: (upTo?: number) =>
    api.post<{ last_read_id: number; unread: number }>(
      '/api/events/read',
      upTo === undefined ? {} : { up_to: upTo },
    ),
}

export const channelsApi = {
  list: (signal?: AbortSignal) =>
    api.get<Paginated<NotificationChannel>>('/api/notifications/channels', {
      query: { page_size: 100 },
      signal,
    }),
  create: (body: ChannelInput) => api.post<NotificationChannel>('/api/notifications/channels', body),
  update: (id: number, body: ChannelInput) =>
    api.patch<NotificationChannel>(`/api/notifications/channels/${id}`, body),
  remove: (id: number) => api.delete(`/api/notifications/channels/${id}`),
  test: (id: number) => api.post<ChannelTestResult>(`/api/notifications/channels/${id}/test`),
}
