"""Candles per second of the backtester (trading.backtest), loading included: a year of 1-minute candles.

    .venv/bin/python bench/backtest.py [--runs 5] [--levels 20] [--data FILE ...] [--every-point-days 2]

The year is 525,600 one-minute BTC/USDT candles in twelve Binance data-dump files (a month each), made once per
run from a seeded random walk (σ 0.08 % a minute, about BTC's in 2022: a daily range of a few percent) and written
to a temporary folder, or the files given with --data. Each run loads the files (parsing and checking included)
and backtests a grid of --levels levels 0.5 % apart with take-profits 0.6 % up, trailing up past 1 %, through
the same engine code as live trading, in the fast mode. The table shows the median and the spread of the runs.
--every-point-days also times the reference mode (every point of every candle ticked) on the first days, so the
speed-up shows on the same data.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import log, print_table
from exchanges.markets import market_rules
from exchanges.paper.series import CandleSeries, load_series
from trading.backtest import BacktestOptions, BacktestResult, Mode, run_backtest
from trading.core.types import EngineConfig

YEAR_MINUTES = 525_600
START_MS = 1_640_995_200_000  # 2022-01-01 00:00 UTC


def synthetic_year(folder: Path, seed: int = 2022) -> list[Path]:
    """Twelve month files of a seeded random walk of 1-minute candles, in the Binance data-dump format."""
    rng = np.random.default_rng(seed)
    steps = rng.normal(0, 0.0008, YEAR_MINUTES)
    close = np.round(47_000 * np.exp(np.cumsum(steps)), 2)
    open_ = np.round(np.concatenate([[47_000.0], close[:-1]]), 2)
    wick_up = np.abs(rng.normal(0, 0.0004, YEAR_MINUTES))
    wick_down = np.abs(rng.normal(0, 0.0004, YEAR_MINUTES))
    high = np.round(np.maximum(open_, close) * (1 + wick_up), 2)
    low = np.round(np.minimum(open_, close) * (1 - wick_down), 2)
    times = START_MS + 60_000 * np.arange(YEAR_MINUTES, dtype=np.int64)
    volume = np.round(rng.uniform(1, 100, YEAR_MINUTES), 5)
    paths = []
    per_month = YEAR_MINUTES // 12
    for month in range(12):
        part = slice(month * per_month, (month + 1) * per_month if month < 11 else YEAR_MINUTES)
        path = folder / f"BTCUSDT-1m-2022-{month + 1:02d}.csv"
        lines = [
            f"{t},{o:.2f},{h:.2f},{lo:.2f},{c:.2f},{v:.5f},{t + 59_999},0,0,0,0,0"
            for t, o, h, lo, c, v in zip(
                times[part].tolist(),
                open_[part].tolist(),
                high[part].tolist(),
                low[part].tolist(),
                close[part].tolist(),
                volume[part].tolist(),
                strict=True,
            )
        ]
        path.write_text("\n".join(lines) + "\n")
        paths.append(path)
    return paths


def config(levels: int) -> EngineConfig:
    return EngineConfig(
        strategy_id=1,
        symbol="BTC/USDT",
        grid_levels=levels,
        buy_offset_pct=Decimal("0.5"),
        sell_offset_pct=Decimal("0.6"),
        order_size_quote=Decimal(100),
        reprice_threshold_pct=Decimal(1),
        max_positions=levels,
    )


def one_run(paths: list[Path], levels: int, mode: Mode = Mode.FAST) -> tuple[float, float, float, BacktestResult]:
    """(loading s, wall s, CPU s, result). The CPU time is the steadier figure on a shared machine: other
    processes' load stretches the wall time, not the work done."""
    started, cpu = time.perf_counter(), time.process_time()
    series = load_series(paths)
    loaded = time.perf_counter()
    result = run_backtest(
        series, config(levels), market_rules("BTC/USDT"), BacktestOptions(initial_quote=Decimal(10_000), mode=mode)
    )
    return loaded - started, time.perf_counter() - started, time.process_time() - cpu, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--levels", type=int, default=20)
    parser.add_argument(
        "--data", nargs="*", type=Path, help="candle files in time order, instead of the synthetic year"
    )
    parser.add_argument("--every-point-days", type=int, default=2)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="aresbot-bench-backtest-") as tmp:
        if args.data:
            paths = list(args.data)
        else:
            started = time.perf_counter()
            paths = synthetic_year(Path(tmp))
            log(f"wrote a synthetic year of 1m candles in {time.perf_counter() - started:.1f} s")
        loads, totals, cpus = [], [], []
        result: BacktestResult | None = None
        for run in range(args.runs):
            load, total, cpu, result = one_run(paths, args.levels)
            loads.append(load)
            totals.append(total)
            cpus.append(cpu)
            log(f"run {run + 1}: {total:.2f} s ({load:.2f} s loading), {result.candles / total:,.0f} candles/s")
        assert result is not None
        median = statistics.median(totals)
        load_average = os.getloadavg()[0]
        print_table(
            f"backtest, {result.candles:,} candles of 1 minute, {args.levels} levels, fast mode, loading included "
            f"({args.runs} runs; the machine's load average {load_average:.1f} on {os.cpu_count()} cores)",
            ["figure", "median", "min", "max"],
            [
                ["wall time (s)", f"{median:.2f}", f"{min(totals):.2f}", f"{max(totals):.2f}"],
                ["of which loading (s)", f"{statistics.median(loads):.2f}", f"{min(loads):.2f}", f"{max(loads):.2f}"],
                [
                    "candles/s",
                    f"{result.candles / median:,.0f}",
                    f"{result.candles / max(totals):,.0f}",
                    f"{result.candles / min(totals):,.0f}",
                ],
                ["CPU time (s)", f"{statistics.median(cpus):.2f}", f"{min(cpus):.2f}", f"{max(cpus):.2f}"],
                [
                    "candles per CPU second",
                    f"{result.candles / statistics.median(cpus):,.0f}",
                    f"{result.candles / max(cpus):,.0f}",
                    f"{result.candles / min(cpus):,.0f}",
                ],
            ],
        )
        print_table(
            "what the year did",
            ["figure", "value"],
            [
                [
                    "candles ticked (events)",
                    f"{result.candles_ticked:,} ({result.candles_ticked / result.candles:.2%})",
                ],
                ["engine ticks", f"{result.ticks:,}"],
                ["orders / fills", f"{len(result.orders):,} / {len(result.fills):,}"],
                ["grid cycles", f"{result.grid_cycles:,}"],
                ["realized PnL (USDT)", f"{result.realized_pnl:.2f}"],
                ["unrealized PnL at the end (USDT)", f"{result.unrealized_pnl:.2f}"],
                ["fees (USDT)", f"{result.fees_quote:.2f}"],
                ["max drawdown (USDT, %)", f"{result.max_drawdown:.2f} ({result.max_drawdown_pct:.2f} %)"],
                ["buy and hold (USDT)", f"{result.buy_and_hold_pnl:.2f}"],
            ],
        )
        if args.every_point_days:
            series = load_series(paths)
            cut = min(len(series), args.every_point_days * 1440)
            head = CandleSeries(
                series.open_ms[:cut],
                series.open[:cut],
                series.high[:cut],
                series.low[:cut],
                series.close[:cut],
                series.rows[:cut],
            )
            rows = []
            results = []
            for mode in (Mode.EVERY_POINT, Mode.FAST):
                started = time.perf_counter()
                done = run_backtest(head, config(args.levels), market_rules("BTC/USDT"), BacktestOptions(mode=mode))
                seconds = time.perf_counter() - started
                results.append(done)
                rows.append([mode.value, f"{seconds:.2f}", f"{cut / seconds:,.0f}", f"{done.ticks:,}", len(done.fills)])
            if (results[0].orders, results[0].fills) != (results[1].orders, results[1].fills):
                raise SystemExit("the fast mode's orders or fills differ from every point's: a bug")
            print_table(
                f"the first {args.every_point_days} days, both modes (same orders and fills)",
                ["mode", "s", "candles/s", "ticks", "fills"],
                rows,
            )


if __name__ == "__main__":
    main()
