/**
 * The grid preview as an ECharts option: one column per level, nearest the price first. A box spans each buy up to
 * its take-profit (the part of the move the level earns), the stop-loss sits below it, a skipped level is a hollow
 * mark where it would have been, and the current price is a dashed line across. Pure: it builds the option and
 * never imports ECharts (the EChart component loads that lazily).
 */
import type { ChartOption } from '@/charts/echarts'
import type { Preview } from '@/api/strategies'
import { formatDecimal } from '@/format'
import { parseSkipped, type LadderSummary } from '@/forms/ladder'

export interface PreviewChartText {
  level: (n: number) => string
  buy: string
  takeProfit: string
  stopLoss: string
  skipped: string
  price: string
  cycleProfit: string
  amount: string
}

export const PREVIEW_COLORS = {
  buy: '#409eff',
  takeProfit: '#2ea44f',
  stopLoss: '#e5534b',
  skipped: '#909399',
  price: '#e6a23c',
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
}

/** Text that ends up in the tooltip's HTML (reasons come from the server, symbols from an exchange). */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!)
}

// Drawing positions only: exact figures are in the tooltip and the table, formatted from the decimal strings.
const y = (value: string | null | undefined): number | '-' =>
  value === null || value === undefined ? '-' : Number(value)

export function previewChartOption(
  preview: Preview,
  summary: LadderSummary,
  text: PreviewChartText,
  locale: string,
): ChartOption {
  const skipped = preview.skipped.map(parseSkipped).filter((s) => s.level !== null)
  const levelNumbers = [
    ...new Set([...preview.levels.map((l) => l.level), ...skipped.map((s) => s.level!)]),
  ].sort((a, b) => a - b)
  const placed = new Map(preview.levels.map((l) => [l.level, l]))
  const skippedAt = new Map(skipped.map((s) => [s.level!, s]))
  const price = (value: string | null | undefined) =>
    formatDecimal(value, locale, { precision: summary.priceDecimals })
  const money = (value: string | null | undefined, signed = false) =>
    `${formatDecimal(value, locale, { precision: summary.quoteDecimals, signed })} ${escapeHtml(summary.quote)}`

  function tooltip(index: number): string {
    const n = levelNumbers[index]!
    const level = placed.get(n)
    const title = `<b>${escapeHtml(text.level(n))}</b>`
    if (!level) {
      const skip = skippedAt.get(n)
      return `${title} · ${escapeHtml(text.skipped)}<br>${escapeHtml(skip?.reason ?? '')}`
    }
    const lines = [
      title,
      `${escapeHtml(text.buy)}: ${price(level.price)} × ${formatDecimal(level.amount, locale, { precision: summary.amountDecimals })} ${escapeHtml(summary.base)} = ${money(level.quote)}`,
      `${escapeHtml(text.takeProfit)}: ${level.take_profit_price ? price(level.take_profit_price) : escapeHtml(level.problem ?? '—')}`,
      `${escapeHtml(text.cycleProfit)}: ${money(level.cycle_profit, true)}`,
    ]
    if (level.stop_loss_below)
      lines.push(`${escapeHtml(text.stopLoss)}: &lt; ${price(level.stop_loss_below)}`)
    return lines.join('<br>')
  }

  const candles = levelNumbers.map((n) => {
    const level = placed.get(n)
    return level?.take_profit_price
      ? [y(level.price), y(level.take_profit_price), y(level.price), y(level.take_profit_price)]
      : ['-', '-', '-', '-']
  })
  const marks = (name: string, values: (number | '-')[], style: Record<string, unknown>) =>
    values.some((v) => v !== '-') ? [{ name, type: 'scatter', data: values, ...style }] : []

  const series: Record<string, unknown>[] = [
    {
      // A box from the buy up to its take-profit: [open, close, low, high].
      name: text.takeProfit,
      type: 'candlestick',
      barMaxWidth: 28,
      itemStyle: {
        color: 'rgba(46, 164, 79, 0.25)',
        borderColor: PREVIEW_COLORS.takeProfit,
        color0: 'rgba(46, 164, 79, 0.25)',
        borderColor0: PREVIEW_COLORS.takeProfit,
      },
      data: candles,
      markLine: {
        symbol: 'none',
        silent: true,
        lineStyle: { color: PREVIEW_COLORS.price, type: 'dashed', width: 1.5 },
        label: { formatter: `${text.price} ${price(preview.price)}`, position: 'insideEndTop' },
        data: [{ yAxis: Number(preview.price) }],
      },
    },
    ...marks(
      text.buy,
      levelNumbers.map((n) => y(placed.get(n)?.price)),
      { symbol: 'rect', symbolSize: [22, 4], itemStyle: { color: PREVIEW_COLORS.buy } },
    ),
    ...marks(
      text.stopLoss,
      levelNumbers.map((n) => y(placed.get(n)?.stop_loss_below)),
      { symbol: 'triangle', symbolRotate: 180, symbolSize: 9, itemStyle: { color: PREVIEW_COLORS.stopLoss } },
    ),
    ...marks(
      text.skipped,
      levelNumbers.map((n) => y(placed.has(n) ? null : skippedAt.get(n)?.price)),
      { symbol: 'emptyCircle', symbolSize: 9, itemStyle: { color: PREVIEW_COLORS.skipped } },
    ),
    {
      // Invisible: keeps the price line inside the axis when every level is far below it.
      name: 'price',
      type: 'scatter',
      silent: true,
      symbolSize: 0,
      tooltip: { show: false },
      data: levelNumbers.map((_, i) => (i === 0 ? Number(preview.price) : '-')),
    },
  ]

  return {
    animation: false,
    grid: { left: 8, right: 16, top: 28, bottom: 40, containLabel: true },
    legend: {
      bottom: 0,
      itemWidth: 14,
      itemHeight: 10,
      data: series.map((one) => one.name as string).filter((name) => name !== 'price'),
    },
    tooltip: {
      trigger: 'axis',
      axisPointer: { type: 'shadow' },
      confine: true,
      formatter: (params: unknown) => {
        const first = (Array.isArray(params) ? params[0] : params) as { dataIndex?: number } | undefined
        return first?.dataIndex === undefined ? '' : tooltip(first.dataIndex)
      },
    },
    xAxis: {
      type: 'category',
      data: levelNumbers.map((n) => text.level(n)),
      axisTick: { alignWithLabel: true },
    },
    yAxis: {
      type: 'value',
      scale: true,
      splitNumber: 5,
      // A tick like 0.30000000000000004 is a float's artefact, not a price: 12 significant digits are plenty.
      axisLabel: {
        formatter: (value: number) => formatDecimal(String(Number(value.toPrecision(12))), locale, {}),
      },
    },
    series,
  }
}
