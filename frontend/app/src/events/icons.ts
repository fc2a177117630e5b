// An icon per event kind (the timeline and the bell), and the colour of its severity.
import {
  Bottom,
  CircleCloseFilled,
  Clock,
  Rank,
  Sort,
  Switch,
  Top,
  VideoPause,
  VideoPlay,
  Warning,
  WarningFilled,
} from '@element-plus/icons-vue'
import type { Component } from 'vue'
import type { Severity } from '@/api/events'

const ICONS: Record<string, Component> = {
  started: VideoPlay,
  stopped: VideoPause,
  handed_over: Switch,
  failed_over: WarningFilled,
  buy_filled: Bottom,
  take_profit_filled: Top,
  stop_loss_sold: Top,
  time_stop_sold: Top,
  ladder_placed: Sort,
  ladder_trailed: Rank,
  paused: Clock,
  resumed: VideoPlay,
  level_skipped: Warning,
  error: CircleCloseFilled,
  balance_gap: WarningFilled,
}

export function eventIcon(kind: string): Component {
  return ICONS[kind] ?? Warning
}

export function severityClass(severity: Severity): string {
  return `event-${severity}`
}
