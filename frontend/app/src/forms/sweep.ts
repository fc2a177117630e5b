/**
 * A sweep's value lists (typed as "5, 10, 20" or as from / to / step), the combination count the API will run, and
 * what the results page does with the rows it gets back: sort them and lay two parameters out as a heatmap.
 * Values stay decimal strings, and a range is stepped exactly (0.1 + 0.2 is 0.3 here).
 */
import type { SweepGrid, SweepRow } from '@/api/backtests'
import { addDecimals, compareDecimals, parseDecimal, toDecimalString } from '@/format/decimal'
import { PARAMETER_FIELDS } from './backtest'
import { checkBound } from './bounds'
import { plain } from './strategy'

export const SWEPT = ['grid_levels', 'buy_offset_pct', 'sell_offset_pct', 'stop_loss_pct'] as const
export type SweptField = (typeof SWEPT)[number]

/** SWEEP_MAX_COMBINATIONS' default; the API says so when its own limit is lower. */
export const MAX_COMBINATIONS = 5000
export const MAX_VALUES = 50
/** A range longer than this is not expanded (the list limit refuses it anyway). */
const RANGE_CAP = 1000

export interface ValueSpec {
  mode: 'list' | 'range'
  list: string
  from: string
  to: string
  step: string
}

export const valueSpec = (list = ''): ValueSpec => ({ mode: 'list', list, from: '', to: '', step: '' })

export interface ParsedValues {
  /** In order, without repeats; null is "off" (stop-loss only). */
  values: (string | null)[]
  /** What is wrong with the list ('' when nothing). */
  error: string
}

/** The words that mean "no stop-loss" in a stop-loss list. */
const OFF = new Set(['off', 'none', '-', '关', '无'])

/** "5, 10,20" or "5 10 20" (or Chinese commas) into its values, each checked against the field's range. */
export function parseList(field: SweptField, text: string): ParsedValues {
  const tokens = text
    .split(/[\s,，;；]+/)
    .map((token) => token.trim())
    .filter(Boolean)
  const values: (string | null)[] = []
  for (const token of tokens) {
    if (OFF.has(token.toLowerCase())) {
      if (field !== 'stop_loss_pct')
        return { values: [], error: `"${token}": only the stop-loss can be off.` }
      if (!values.includes(null)) values.push(null)
      continue
    }
    const message = checkBound(field, token)
    if (message) return { values: [], error: `${token}: ${message}` }
    const value = plain(token.replace(/^\+/, ''))
    if (!values.some((v) => v !== null && compareDecimals(v, value) === 0)) values.push(value)
  }
  return { values, error: '' }
}

/** from, from + step, … up to to (inclusive), exactly. */
export function expandRange(field: SweptField, from: string, to: string, step: string): ParsedValues {
  for (const [name, value] of [
    ['from', from],
    ['to', to],
  ] as const) {
    const message = checkBound(field, value)
    if (message || !value.trim()) return { values: [], error: `${name}: ${message ?? 'required'}` }
  }
  const stepped = parseDecimal(step)
  if (!stepped || stepped.units <= 0n) return { values: [], error: 'step: must be a number above 0.' }
  if (compareDecimals(from, to) > 0) return { values: [], error: 'from must not be above to.' }
  const values: string[] = []
  const stepText = toDecimalString(stepped)
  for (
    let value = plain(from.trim());
    compareDecimals(value, to) <= 0;
    value = plain(addDecimals(value, stepText))
  ) {
    values.push(value)
    if (values.length > RANGE_CAP) break
  }
  if (field === 'grid_levels' && values.some((v) => !/^\d+$/.test(v)))
    return { values: [], error: 'step: levels are whole numbers.' }
  return { values, error: '' }
}

export function parseSpec(field: SweptField, spec: ValueSpec): ParsedValues {
  const parsed =
    spec.mode === 'range' ? expandRange(field, spec.from, spec.to, spec.step) : parseList(field, spec.list)
  if (parsed.error) return parsed
  if (parsed.values.length > MAX_VALUES)
    return {
      values: parsed.values,
      error: `${parsed.values.length} values: at most ${MAX_VALUES} per parameter.`,
    }
  return parsed
}

export interface SweepPlan {
  grid: SweepGrid | null
  /** The product of the list lengths (what the API would run). */
  combinations: number
  /** Combinations the engine refuses (buy offset × levels ≥ 100): the API names them in a 400. */
  refused: number
  errors: Partial<Record<SweptField, string>>
}

/**
 * The grid a sweep sends, and how many combinations it makes. An empty stop-loss list is no sweep of it (the base
 * parameter's value, or none); every other list needs at least one value.
 */
export function sweepPlan(specs: Record<SweptField, ValueSpec>): SweepPlan {
  const errors: SweepPlan['errors'] = {}
  const lists = {} as Record<SweptField, (string | null)[]>
  for (const field of SWEPT) {
    const parsed = parseSpec(field, specs[field])
    if (parsed.error) errors[field] = parsed.error
    else if (!parsed.values.length && field !== 'stop_loss_pct') errors[field] = 'At least one value.'
    lists[field] = parsed.values
  }
  const sizes = SWEPT.map((field) => Math.max(1, lists[field].length))
  const combinations = sizes.reduce((a, b) => a * b, 1)
  let refused = 0
  for (const levels of lists.grid_levels)
    for (const offset of lists.buy_offset_pct)
      if (Number(levels) * Number(offset) >= 100) refused += sizes[2]! * sizes[3]!
  if (Object.keys(errors).length) return { grid: null, combinations, refused, errors }
  const grid: SweepGrid = {
    grid_levels: lists.grid_levels.map(Number),
    buy_offset_pct: lists.buy_offset_pct as string[],
    sell_offset_pct: lists.sell_offset_pct as string[],
  }
  if (lists.stop_loss_pct.length) grid.stop_loss_pct = lists.stop_loss_pct
  return { grid, combinations, refused, errors }
}

// ---- results --------------------------------------------------------------------------------------------------

export const METRICS = ['total_pnl', 'max_drawdown', 'pnl_per_drawdown', 'fills', 'grid_cycles'] as const
export type Metric = (typeof METRICS)[number]
export type SortKey = Metric | SweptField | 'rank'
export type SortOrder = 'ascending' | 'descending'

/** Smaller is better for a drawdown; larger for the rest. */
export const betterIsLower = (metric: Metric) => metric === 'max_drawdown'

function cell(row: SweepRow, key: SortKey): string | null {
  const value = row[key]
  return value === null || value === undefined ? null : String(value)
}

/** The rows ordered by `key`; a missing value (no drawdown to divide by) sorts last either way. */
export function sortRows(rows: readonly SweepRow[], key: SortKey, order: SortOrder): SweepRow[] {
  const sign = order === 'ascending' ? 1 : -1
  return [...rows].sort((a, b) => {
    const x = cell(a, key)
    const y = cell(b, key)
    if (x === null || y === null) return x === y ? a.rank - b.rank : x === null ? 1 : -1
    return sign * compareDecimals(x, y) || a.rank - b.rank
  })
}

/** The best row by `metric` (first on a tie by rank), or null for no rows. */
export function bestRow(rows: readonly SweepRow[], metric: Metric): SweepRow | null {
  return sortRows(rows, metric, betterIsLower(metric) ? 'ascending' : 'descending')[0] ?? null
}

export type HeatmapMode = 'best' | 'max'

export interface Heatmap {
  x: string[]
  y: string[]
  /** [x index, y index, value, the row it shows]; combinations without a result are left out. */
  cells: [number, number, number, SweepRow][]
  min: number
  max: number
  /** For mode "best": the other parameters' values, from the best row. */
  fixed: Partial<Record<SweptField, string>>
}

const label = (value: unknown) => (value === null || value === undefined ? 'off' : plain(value as string))
const byNumber = (a: string, b: string) => (a === 'off' ? -1 : b === 'off' ? 1 : compareDecimals(a, b))

/**
 * Two parameters as the axes and `metric` as the colour. "best": the other parameters fixed to the best row's
 * values (a slice through the best result); "max": each cell is the best value over every value of the others
 * (lowest for a drawdown).
 */
export function buildHeatmap(
  rows: readonly SweepRow[],
  xField: SweptField,
  yField: SweptField,
  metric: Metric,
  mode: HeatmapMode,
): Heatmap {
  const others = SWEPT.filter((f) => f !== xField && f !== yField)
  const best = bestRow(rows, metric)
  const fixed: Heatmap['fixed'] = {}
  if (mode === 'best' && best) for (const f of others) fixed[f] = label(best[f])
  const x = [...new Set(rows.map((r) => label(r[xField])))].sort(byNumber)
  const y = [...new Set(rows.map((r) => label(r[yField])))].sort(byNumber)
  const lower = betterIsLower(metric)
  const chosen = new Map<string, SweepRow>()
  for (const row of rows) {
    if (mode === 'best' && others.some((f) => label(row[f]) !== fixed[f])) continue
    if (row[metric] === null || row[metric] === undefined) continue
    const key = `${label(row[xField])}|${label(row[yField])}`
    const current = chosen.get(key)
    const better =
      current && compareDecimals(String(row[metric]), String(current[metric])) * (lower ? -1 : 1) > 0
    if (!current || better) chosen.set(key, row)
  }
  const cells: Heatmap['cells'] = []
  for (const row of chosen.values())
    cells.push([x.indexOf(label(row[xField])), y.indexOf(label(row[yField])), Number(row[metric]), row])
  const values = cells.map((c) => c[2])
  return {
    x,
    y,
    cells,
    min: values.length ? Math.min(...values) : 0,
    max: values.length ? Math.max(...values) : 0,
    fixed,
  }
}

/** A row's parameters as the strategy form's query: "use these settings". A stop-loss the sweep did not vary is
 * the base's. */
export function rowQuery(
  row: SweepRow,
  base: Record<string, unknown>,
  stopLossSwept = true,
): Record<string, string> {
  const query: Record<string, string> = {}
  for (const key of ['symbol', ...PARAMETER_FIELDS]) {
    const value = base[key]
    if (value !== null && value !== undefined && typeof value !== 'object') query[key] = plain(String(value))
  }
  for (const field of SWEPT) {
    if (field === 'stop_loss_pct' && !stopLossSwept) continue
    if (field === 'stop_loss_pct' && row.stop_loss_pct === null) query[field] = ''
    else query[field] = plain(String(row[field]))
  }
  return query
}
