/**
 * Daily realized PnL as an ECharts option, for one quote currency: a bar per day (green above zero, red below), the
 * running total as a line over them. Days are the server's TIME_ZONE days, as /api/trades/pnl gives them; days
 * without a closed position are drawn as zero so the time axis does not jump. Pure: it builds the option and never
 * imports ECharts (the EChart component loads that lazily).
 */
import type { ChartOption } from '@/charts/echarts'
import type { PnlCurrencySeries } from '@/api/trades'
import { escapeHtml } from '@/charts/preview'
import { formatDecimal, signOf } from '@/format'

export interface PnlChartText {
  daily: string
  cumulative: string
  closed: (count: number) => string
}

/** Light and dark: the app's gain and loss colours (4.5:1 on each theme's background). */
export const PNL_COLORS = {
  light: { gain: '#2e7d12', loss: '#c8322f', line: '#1d6bd6' },
  dark: { gain: '#67c23a', loss: '#f56c6c', line: '#79bbff' },
}

export interface PnlDay {
  /** YYYY-MM-DD, the server's day. */
  day: string
  /** null: no position closed that day. */
  pnl: string | null
  closed: number
  /** Realized up to the end of the day. */
  cumulative: string
}

const SHOWN_DAYS = 90

// No more filled-in days than this: a range of years is drawn as the days that have closes.
const MAX_FILLED_DAYS = 400

function nextDay(day: string): string {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number]
  return new Date(Date.UTC(y, m - 1, d + 1)).toISOString().slice(0, 10)
}

function daysBetween(first: string, last: string): number {
  return (Date.parse(`${last}T00:00:00Z`) - Date.parse(`${first}T00:00:00Z`)) / 86_400_000
}

/** The series' days in order, with the days between them that had no close (PnL null, running total carried). */
export function pnlDays(series: PnlCurrencySeries): PnlDay[] {
  // The point's time is the start of its day with the server's offset: its date part is the server's day.
  const points = series.points.map((p) => ({ ...p, day: p.time.slice(0, 10) }))
  if (points.length === 0) return []
  const first = points[0]!.day
  const last = points[points.length - 1]!.day
  const fill = daysBetween(first, last) <= MAX_FILLED_DAYS
  const out: PnlDay[] = []
  let cumulative = series.before
  for (const point of points) {
    if (fill && out.length) {
      for (let day = nextDay(out[out.length - 1]!.day); day < point.day; day = nextDay(day))
        out.push({ day, pnl: null, closed: 0, cumulative })
    }
    cumulative = point.cumulative_pnl
    out.push({ day: point.day, pnl: point.realized_pnl, closed: point.closed_positions, cumulative })
  }
  return out
}

export interface PnlChartOptions {
  locale: string
  /** Decimals for money in this currency. */
  precision: number
  dark: boolean
  text: PnlChartText
}

export function dailyPnlOption(series: PnlCurrencySeries, options: PnlChartOptions): ChartOption {
  const { locale, precision, text } = options
  const colors = options.dark ? PNL_COLORS.dark : PNL_COLORS.light
  const days = pnlDays(series)
  const currency = escapeHtml(series.currency)
  const money = (value: string | null) =>
    `${formatDecimal(value ?? '0', locale, { precision, signed: true })} ${currency}`
  const axisLabel = { color: options.dark ? '#c0c4cc' : '#5e6167' }

  const tooltip = (params: unknown): string => {
    const index = (Array.isArray(params) ? params[0] : params)?.dataIndex
    const row = typeof index === 'number' ? days[index] : undefined
    if (!row) return ''
    return [
      `<strong>${escapeHtml(row.day)}</strong>`,
      `${escapeHtml(text.daily)}: ${money(row.pnl)}`,
      escapeHtml(text.closed(row.closed)),
      `${escapeHtml(text.cumulative)}: ${money(row.cumulative)}`,
    ].join('<br>')
  }

  // A long range opens on its last SHOWN_DAYS days; the slider (or a pinch, a wheel) reaches the rest.
  const zoom = days.length > SHOWN_DAYS
  return {
    animation: false,
    grid: { left: 8, right: 8, top: 36, bottom: zoom ? 40 : 8, containLabel: true },
    dataZoom: zoom
      ? [
          { type: 'inside', startValue: days.length - SHOWN_DAYS, endValue: days.length - 1 },
          {
            type: 'slider',
            startValue: days.length - SHOWN_DAYS,
            endValue: days.length - 1,
            height: 20,
            bottom: 6,
          },
        ]
      : [],
    legend: { top: 0, textStyle: axisLabel, data: [text.daily, text.cumulative] },
    tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' }, formatter: tooltip, confine: true },
    xAxis: {
      type: 'category',
      data: days.map((d) => d.day),
      axisLabel: { ...axisLabel, hideOverlap: true },
    },
    // One axis for both: they are the same money, and two zero lines would mislead.
    yAxis: { type: 'value', axisLabel, splitLine: { lineStyle: { opacity: 0.3 } } },
    series: [
      {
        name: text.daily,
        type: 'bar',
        barMaxWidth: 28,
        // Drawing positions only: the tooltip shows the exact decimal strings.
        data: days.map((d) => ({
          value: d.pnl === null ? 0 : Number(d.pnl),
          itemStyle: { color: signOf(d.pnl) < 0 ? colors.loss : colors.gain },
        })),
        itemStyle: { color: colors.gain },
      },
      {
        name: text.cumulative,
        type: 'line',
        showSymbol: days.length < 40,
        data: days.map((d) => Number(d.cumulative)),
        itemStyle: { color: colors.line },
        lineStyle: { color: colors.line, width: 2 },
      },
    ],
  }
}
