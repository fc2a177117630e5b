/**
 * The strategy detail page's charts as ECharts options: the price chart (candles, the grid's resting orders as
 * horizontal lines, the strategy's fills as markers, the current price) and the cumulative realized PnL curve.
 * Pure: they build options and never import ECharts (the EChart component loads that lazily).
 *
 * The candles' x axis is a category per candle, by its `time`: where it falls among the strategy's trades (for a
 * replayed market, when the replay played it, while `market_time` is the data's own clock). A fill goes on the
 * candle whose span holds its `executed_at`, so fills and candles share one clock on a replay too.
 */
import type { CandleChart, PnlSeries, StrategyOrder, Trade } from '@/api/detail'
import type { StrategyEvent } from '@/api/events'
import type { ChartOption } from '@/charts/echarts'
import { escapeHtml } from '@/charts/preview'
import { formatDecimal, formatTime } from '@/format'

export const DETAIL_COLORS = {
  up: '#26a69a',
  down: '#ef5350',
  buy: '#2e9e4f',
  sell: '#d9534f',
  price: '#e6a23c',
  pnl: '#409eff',
}

export interface PriceChartText {
  buy: string
  sell: string
  price: string
  open: string
  high: string
  low: string
  close: string
  marketTime: string
  fill: (side: string) => string
  /** An event's line in the page's language (events are drawn when given). */
  event?: (event: ChartEvent) => string
}

export interface PriceChartInput {
  chart: CandleChart
  orders: StrategyOrder[]
  fills: ChartFill[]
  currentPrice: string | null
  priceDecimals: number
  amountDecimals: number
  base: string
  locale: string
  /** The user's zone; the browser's when omitted. */
  timeZone?: string
  /** Candles shown at first (the rest are a pinch or a scroll away). */
  window?: number
  /** Label the axis with the date too (a backtest's bars span days). */
  dateAxis?: boolean
  /** The strategy's events other than fills (those are the fill markers), as pins on their candle. */
  events?: ChartEvent[]
}

/** What an event pin needs. */
export type ChartEvent = Pick<StrategyEvent, 'id' | 'kind' | 'severity' | 'at' | 'data' | 'count' | 'summary'>

export const EVENT_COLORS: Record<string, string> = { info: '#409eff', warning: '#e6a23c', error: '#f56c6c' }

/** What a fill marker needs: a strategy's trade, or a backtest's fill. */
export type ChartFill = Pick<Trade, 'id' | 'side' | 'price' | 'amount' | 'executed_at'>

export interface PriceChart {
  option: ChartOption
  /** Fill markers drawn (fills older than the first candle have no place on the chart). */
  fillCount: number
  /** Event pins drawn. */
  eventCount: number
}

const ms = (iso: string) => Date.parse(iso)

/** The candle index each fill belongs to, or -1 when it is older than the first candle. */
export function placeFills(candleTimes: number[], fills: Pick<Trade, 'executed_at'>[]): number[] {
  return fills.map((fill) => {
    const at = ms(fill.executed_at)
    if (!candleTimes.length || Number.isNaN(at) || at < candleTimes[0]!) return -1
    // The last candle starting at or before the fill (a fill after the forming candle's start is in it).
    let lo = 0
    let hi = candleTimes.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if (candleTimes[mid]! <= at) lo = mid
      else hi = mid - 1
    }
    return lo
  })
}

export function priceChartOption(input: PriceChartInput, text: PriceChartText): PriceChart {
  const { chart, locale, timeZone } = input
  const candles = chart.candles
  const times = candles.map((c) => ms(c.time))
  const price = (value: string | null | undefined) =>
    formatDecimal(value, locale, { precision: input.priceDecimals })
  const amount = (value: string | null | undefined) =>
    formatDecimal(value, locale, { precision: input.amountDecimals })
  const label = (iso: string, seconds = false) => formatTime(iso, locale, { timeZone, seconds })
  // A replay plays a minute's candle in seconds: its axis then needs the seconds to tell two candles apart.
  const spacing = times.length > 1 ? times[1]! - times[0]! : 60_000
  const axisFormat = new Intl.DateTimeFormat(locale, {
    timeZone,
    ...(chart.timeframe.endsWith('d') && spacing >= 86_400_000
      ? { month: '2-digit', day: '2-digit' }
      : input.dateAxis
        ? { month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }
        : {
            hour: '2-digit',
            minute: '2-digit',
            second: spacing < 60_000 ? '2-digit' : undefined,
            hourCycle: 'h23',
          }),
  })
  const shortLabel = (iso: string) => axisFormat.format(new Date(iso))

  const placed = placeFills(times, input.fills)
  const fillsAt = new Map<number, ChartFill[]>()
  const buyPoints: [number, number, number][] = []
  const sellPoints: [number, number, number][] = []
  input.fills.forEach((fill, i) => {
    const index = placed[i]!
    if (index < 0) return
    fillsAt.set(index, [...(fillsAt.get(index) ?? []), fill])
    ;(fill.side === 'buy' ? buyPoints : sellPoints).push([index, Number(fill.price), fill.id])
  })

  // Events: one pin per candle (the newest event's severity colours it), every event in the candle's tooltip.
  const events = text.event ? (input.events ?? []) : []
  const placedEvents = placeFills(
    times,
    events.map((e) => ({ executed_at: e.at })),
  )
  const eventsAt = new Map<number, ChartEvent[]>()
  events.forEach((event, i) => {
    const index = placedEvents[i]!
    if (index >= 0) eventsAt.set(index, [...(eventsAt.get(index) ?? []), event])
  })
  const RANK: Record<string, number> = { info: 0, warning: 1, error: 2 }
  const eventPins = [...eventsAt.entries()].map(([index, here]) => {
    const worst = here.reduce((a, b) => ((RANK[b.severity] ?? 0) > (RANK[a.severity] ?? 0) ? b : a))
    return {
      coord: [index, Number(candles[index]!.high)],
      value: here.length > 1 ? String(here.length) : '',
      itemStyle: { color: EVENT_COLORS[worst.severity] ?? EVENT_COLORS.info },
    }
  })

  // Resting limit orders: one line per price and side (two buys at one price are one line, labelled once).
  const lines = new Map<string, { side: 'buy' | 'sell'; price: string; count: number }>()
  for (const order of input.orders) {
    if (order.price === null) continue
    const key = `${order.side}:${order.price}`
    const line = lines.get(key)
    if (line) line.count += 1
    else lines.set(key, { side: order.side, price: order.price, count: 1 })
  }
  const gridLines = [...lines.values()].map((line) => ({
    yAxis: Number(line.price),
    name: line.side,
    lineStyle: {
      color: line.side === 'buy' ? DETAIL_COLORS.buy : DETAIL_COLORS.sell,
      type: 'solid',
      width: 1,
    },
    label: {
      formatter: `${line.side === 'buy' ? text.buy : text.sell} ${price(line.price)}${line.count > 1 ? ` ×${line.count}` : ''}`,
      position: 'insideStartTop',
      color: line.side === 'buy' ? DETAIL_COLORS.buy : DETAIL_COLORS.sell,
      fontSize: 11,
    },
  }))
  const priceLine =
    input.currentPrice !== null && Number.isFinite(Number(input.currentPrice))
      ? [
          {
            yAxis: Number(input.currentPrice),
            name: 'price',
            lineStyle: { color: DETAIL_COLORS.price, type: 'dashed', width: 1.5 },
            // A tag, as exchanges draw it: readable over the candles it sits on.
            label: {
              formatter: price(input.currentPrice),
              position: 'insideEndTop',
              color: '#2b1d00',
              backgroundColor: DETAIL_COLORS.price,
              padding: [2, 4],
              borderRadius: 2,
              fontWeight: 'bold',
            },
          },
        ]
      : []

  // The axis spans the candles, the grid's lines and the price, so no line is drawn off the chart.
  const values = [
    ...candles.flatMap((c) => [Number(c.low), Number(c.high)]),
    ...gridLines.map((l) => l.yAxis),
    ...priceLine.map((l) => l.yAxis),
    ...[...buyPoints, ...sellPoints].map((p) => p[1]),
  ].filter(Number.isFinite)
  const low = values.length ? Math.min(...values) : 0
  const high = values.length ? Math.max(...values) : 1
  const pad = (high - low || Math.abs(high) || 1) * 0.04

  function tooltip(index: number): string {
    const candle = candles[index]
    if (!candle) return ''
    const lines = [
      `<b>${escapeHtml(label(candle.time))}</b>`,
      `${escapeHtml(text.open)} ${price(candle.open)} · ${escapeHtml(text.high)} ${price(candle.high)}`,
      `${escapeHtml(text.low)} ${price(candle.low)} · ${escapeHtml(text.close)} ${price(candle.close)}`,
    ]
    if (candle.market_time !== candle.time)
      lines.push(
        `<span style="opacity:.75">${escapeHtml(text.marketTime)}: ${escapeHtml(label(candle.market_time))}</span>`,
      )
    for (const fill of fillsAt.get(index) ?? [])
      lines.push(
        `<span style="color:${fill.side === 'buy' ? DETAIL_COLORS.buy : DETAIL_COLORS.sell}">●</span> ` +
          `${escapeHtml(text.fill(fill.side))} ${amount(fill.amount)} ${escapeHtml(input.base)} @ ${price(fill.price)}` +
          ` · ${escapeHtml(label(fill.executed_at, true))}`,
      )
    for (const event of eventsAt.get(index) ?? [])
      lines.push(
        `<span style="color:${EVENT_COLORS[event.severity] ?? EVENT_COLORS.info}">◆</span> ` +
          `${escapeHtml(text.event!(event))} · ${escapeHtml(label(event.at, true))}`,
      )
    return lines.join('<br>')
  }

  const fillSeries = (name: string, points: [number, number, number][], color: string, up: boolean) => ({
    name,
    type: 'scatter',
    symbol: 'triangle',
    symbolRotate: up ? 0 : 180,
    symbolSize: 15,
    // The tip on the price: a buy's triangle hangs below it, a sell's stands above it.
    symbolOffset: [0, up ? '55%' : '-55%'],
    z: 5,
    // An outline in the other side's tone sets the marker off the candles (both themes).
    itemStyle: { color, borderColor: 'rgba(0, 0, 0, 0.55)', borderWidth: 1 },
    data: points.map(([x, y]) => [x, y]),
  })

  const shown = input.window ?? 120
  const option: ChartOption = {
    animation: false,
    grid: { left: 8, right: 12, top: 16, bottom: 28, containLabel: true },
    tooltip: {
      trigger: 'axis',
      axisPointer: { type: 'cross' },
      confine: true,
      formatter: (params: unknown) => {
        const first = (Array.isArray(params) ? params[0] : params) as { dataIndex?: number } | undefined
        const index = (Array.isArray(params) ? params : [params]).find(
          (p) => (p as { seriesType?: string }).seriesType === 'candlestick',
        ) as { dataIndex?: number } | undefined
        const at = index?.dataIndex ?? first?.dataIndex
        return at === undefined ? '' : tooltip(at)
      },
    },
    dataZoom: [
      {
        type: 'inside',
        startValue: Math.max(0, candles.length - shown),
        endValue: Math.max(0, candles.length - 1),
        minValueSpan: 10,
      },
    ],
    xAxis: {
      type: 'category',
      data: candles.map((c) => c.time),
      boundaryGap: true,
      axisLabel: { formatter: (value: string) => shortLabel(value), hideOverlap: true },
      axisPointer: { label: { formatter: (p: { value: string }) => label(p.value) } },
    },
    yAxis: {
      type: 'value',
      scale: true,
      min: low - pad,
      max: high + pad,
      position: 'right',
      splitNumber: 5,
      axisLabel: {
        // The padded ends are not round numbers: their labels would crowd the nearest tick's.
        showMinLabel: false,
        showMaxLabel: false,
        formatter: (value: number) =>
          formatDecimal(String(Number(value.toPrecision(12))), locale, { precision: input.priceDecimals }),
      },
      axisPointer: { label: { formatter: (p: { value: number }) => price(String(p.value)) } },
    },
    series: [
      {
        name: chart.symbol,
        type: 'candlestick',
        barMaxWidth: 12,
        itemStyle: {
          color: DETAIL_COLORS.up,
          color0: DETAIL_COLORS.down,
          borderColor: DETAIL_COLORS.up,
          borderColor0: DETAIL_COLORS.down,
        },
        // ECharts' candle: [open, close, low, high].
        data: candles.map((c) => [Number(c.open), Number(c.close), Number(c.low), Number(c.high)]),
        markLine: { symbol: 'none', silent: true, animation: false, data: [...gridLines, ...priceLine] },
        markPoint: {
          symbol: 'pin',
          symbolSize: 26,
          silent: true,
          animation: false,
          label: { color: '#fff', fontSize: 10 },
          data: eventPins,
        },
      },
      fillSeries(text.fill('buy'), buyPoints, DETAIL_COLORS.buy, true),
      fillSeries(text.fill('sell'), sellPoints, DETAIL_COLORS.sell, false),
    ],
  }
  return { option, fillCount: buyPoints.length + sellPoints.length, eventCount: eventPins.length }
}

export interface PnlChartText {
  cumulative: string
  realized: string
  closed: (count: number) => string
}

/** The running total of realized PnL in one quote currency: flat at what was realized before, a step at each hour
 * a position closed in, carried on to `now`. */
export function pnlChartOption(
  series: PnlSeries['series'][number],
  text: PnlChartText,
  options: { locale: string; decimals: number; timeZone?: string; now: number; bucketMs?: number },
): ChartOption {
  const { locale, decimals, timeZone, now } = options
  const bucket = options.bucketMs ?? 3_600_000
  const money = (value: string) =>
    `${formatDecimal(value, locale, { precision: decimals, signed: true })} ${escapeHtml(series.currency)}`
  const points = series.points
  // Hours are the record's grain: each total is drawn from the start of its hour, after a flat run at what was
  // realized before; the last total runs on to now.
  const data: [number, number, number][] = []
  if (points.length) data.push([ms(points[0]!.time) - bucket, Number(series.before), -1])
  points.forEach((p, i) => data.push([ms(p.time), Number(p.cumulative_pnl), i]))
  const last = data[data.length - 1]
  if (last && now > last[0]) data.push([now, last[1], points.length - 1])
  return {
    animation: false,
    grid: { left: 8, right: 16, top: 16, bottom: 8, containLabel: true },
    tooltip: {
      trigger: 'axis',
      confine: true,
      formatter: (params: unknown) => {
        const first = (Array.isArray(params) ? params[0] : params) as { dataIndex?: number } | undefined
        const at = first?.dataIndex === undefined ? undefined : data[first.dataIndex]
        const point = at && at[2] >= 0 ? points[at[2]] : undefined
        if (!point) return `${escapeHtml(text.cumulative)}: ${money(series.before)}`
        return [
          `<b>${escapeHtml(formatTime(point.time, locale, { timeZone }))}</b>`,
          `${escapeHtml(text.cumulative)}: ${money(point.cumulative_pnl)}`,
          `${escapeHtml(text.realized)}: ${money(point.realized_pnl)} · ${escapeHtml(text.closed(point.closed_positions))}`,
        ].join('<br>')
      },
    },
    xAxis: { type: 'time', axisLabel: { hideOverlap: true } },
    // From zero: a gain and a loss read at a glance against the zero line.
    yAxis: {
      type: 'value',
      scale: false,
      axisLabel: {
        formatter: (value: number) =>
          formatDecimal(String(Number(value.toPrecision(12))), locale, { precision: decimals }),
      },
    },
    series: [
      {
        name: text.cumulative,
        type: 'line',
        step: 'end',
        showSymbol: points.length < 40,
        symbolSize: 5,
        lineStyle: { color: DETAIL_COLORS.pnl, width: 2 },
        itemStyle: { color: DETAIL_COLORS.pnl },
        areaStyle: { color: 'rgba(64, 158, 255, 0.12)' },
        data: data.map(([x, y]) => [x, y]),
      },
    ],
  }
}
