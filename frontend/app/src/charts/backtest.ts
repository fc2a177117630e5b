/**
 * The backtest and sweep pages' charts as ECharts options: a run's equity curve (with its start as a reference
 * line) and a sweep's heatmap of two parameters. Pure: they build options and never import ECharts (the EChart
 * component loads that lazily). The candle chart with the fills is the strategy page's (charts/detail.ts).
 */
import type { BacktestCandle, BacktestFill } from '@/api/backtests'
import type { CandleChart } from '@/api/detail'
import type { ChartOption } from '@/charts/echarts'
import type { ChartFill } from '@/charts/detail'
import { escapeHtml } from '@/charts/preview'
import { formatDecimal, formatTime } from '@/format'
import type { Heatmap } from '@/forms/sweep'

export const EQUITY_COLOR = '#409eff'

export interface EquityText {
  equity: string
  start: string
}

export function equityChartOption(
  curve: [string, string][],
  equityStart: string | null,
  text: EquityText,
  options: { locale: string; decimals: number; quote: string; timeZone?: string },
): ChartOption {
  const { locale, decimals, quote, timeZone } = options
  const money = (value: string) =>
    `${formatDecimal(value, locale, { precision: decimals })} ${escapeHtml(quote)}`
  return {
    animation: false,
    grid: { left: 8, right: 16, top: 24, bottom: 8, containLabel: true },
    tooltip: {
      trigger: 'axis',
      confine: true,
      formatter: (params: unknown) => {
        const first = (Array.isArray(params) ? params[0] : params) as { dataIndex?: number } | undefined
        const point = first?.dataIndex === undefined ? undefined : curve[first.dataIndex]
        if (!point) return ''
        return `<b>${escapeHtml(formatTime(point[0], locale, { timeZone }))}</b><br>${escapeHtml(text.equity)}: ${money(point[1])}`
      },
    },
    xAxis: {
      type: 'time',
      // A day's start as its date rather than ECharts' bare day number.
      axisLabel: {
        hideOverlap: true,
        formatter: { day: '{MM}-{dd}', hour: '{HH}:{mm}', minute: '{HH}:{mm}' },
      },
    },
    yAxis: {
      type: 'value',
      scale: true,
      axisLabel: {
        formatter: (value: number) =>
          formatDecimal(String(Number(value.toPrecision(12))), locale, { precision: decimals }),
      },
    },
    series: [
      {
        name: text.equity,
        type: 'line',
        showSymbol: false,
        lineStyle: { color: EQUITY_COLOR, width: 2 },
        itemStyle: { color: EQUITY_COLOR },
        areaStyle: { color: 'rgba(64, 158, 255, 0.10)' },
        data: curve.map(([time, equity]) => [Date.parse(time), Number(equity)]),
        markLine:
          equityStart === null
            ? undefined
            : {
                symbol: 'none',
                silent: true,
                lineStyle: { type: 'dashed', color: '#909399' },
                label: { formatter: text.start, position: 'insideStartTop', color: '#909399' },
                data: [{ yAxis: Number(equityStart) }],
              },
      },
    ],
  }
}

/** A backtest's candles and fills in the shapes the strategy page's price chart takes. */
export function backtestChartInput(
  candles: BacktestCandle[],
  fills: BacktestFill[],
  symbol: string,
): { chart: CandleChart; fills: ChartFill[] } {
  return {
    chart: {
      symbol,
      timeframe: '',
      origin: '',
      candles: candles.map((c) => ({ ...c, market_time: c.time, volume: '0' })),
    },
    fills: fills.map((f, i) => ({
      id: i,
      side: f.side,
      price: f.price,
      amount: f.amount,
      executed_at: f.time,
    })),
  }
}

export interface HeatmapText {
  x: string
  y: string
  metric: string
  /** A stop-loss that is switched off, in the reader's words. */
  off: string
  /** A cell's other parameters, "levels 10 · stop-loss off". */
  row: (index: number) => string
}

export function heatmapOption(
  heatmap: Heatmap,
  text: HeatmapText,
  options: { locale: string; decimals: number; lowerIsBetter: boolean; dark: boolean },
): ChartOption {
  const { locale, decimals } = options
  const value = (v: number) =>
    formatDecimal(String(Number(v.toPrecision(12))), locale, { precision: decimals })
  // Better is green in both directions: a drawdown's scale is turned round.
  const colors = ['#c8322f', '#e6a23c', '#2e9e4f']
  const shown = (v: string) => (v === 'off' ? text.off : v)
  return {
    animation: false,
    grid: { left: 8, right: 96, top: 28, bottom: 28, containLabel: true },
    tooltip: {
      confine: true,
      formatter: (params: unknown) => {
        const p = params as { data?: [number, number, number, number] }
        if (!p.data) return ''
        const [xi, yi, v, index] = p.data
        return [
          `${escapeHtml(text.x)} <b>${escapeHtml(shown(heatmap.x[xi] ?? ''))}</b> · ${escapeHtml(text.y)} <b>${escapeHtml(shown(heatmap.y[yi] ?? ''))}</b>`,
          `${escapeHtml(text.metric)}: <b>${value(v)}</b>`,
          escapeHtml(text.row(index)),
        ].join('<br>')
      },
    },
    xAxis: {
      type: 'category',
      data: heatmap.x,
      name: text.x,
      nameLocation: 'middle',
      nameGap: 28,
      splitArea: { show: true },
      axisLabel: { formatter: shown },
    },
    yAxis: {
      type: 'category',
      data: heatmap.y,
      name: text.y,
      nameLocation: 'end',
      splitArea: { show: true },
      axisLabel: { formatter: shown },
    },
    visualMap: {
      type: 'continuous',
      // The value is the third of [x, y, value, row]; by default ECharts would colour by the last.
      dimension: 2,
      min: heatmap.min,
      max: heatmap.max === heatmap.min ? heatmap.min + 1 : heatmap.max,
      calculable: true,
      orient: 'vertical',
      right: 16,
      top: 'middle',
      itemHeight: 140,
      itemWidth: 14,
      inRange: { color: options.lowerIsBetter ? [...colors].reverse() : colors },
      textStyle: { color: options.dark ? '#cfd3dc' : '#303133' },
      formatter: (v: number) => value(v),
    },
    series: [
      {
        name: text.metric,
        type: 'heatmap',
        data: heatmap.cells.map(([x, y, v], i) => [x, y, v, i]),
        label: {
          show: heatmap.x.length * heatmap.y.length <= 64,
          formatter: (p: { data: [number, number, number] }) => value(p.data[2]),
          color: '#111',
          fontSize: 11,
        },
        emphasis: { itemStyle: { borderColor: '#333', borderWidth: 1 } },
      },
    ],
  }
}
