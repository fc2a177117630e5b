"""Candles per second of the backtester (trading.backtest), loading included: a year of 1-minute candles; and the
same grid on the same candles in backtesting.py (the PyPI `backtesting` package), in the same run.

    .venv/bench/bin/python bench/backtest.py [--runs 5] [--levels 20] [--data FILE ...] [--every-point-days 2]
                                             [--peer-runs 5] [--peer-candles N]

The year is 525,600 one-minute BTC/USDT candles in twelve Binance data-dump files (a month each), made once per
run from a seeded random walk (σ 0.08 % a minute, about BTC's in 2022: a daily range of a few percent) and written
to a temporary folder, or the files given with --data (Binance data-dump CSV for the comparison). Each run loads
the files (parsing and checking included) and backtests a grid of --levels levels 0.5 % apart with take-profits
0.6 % up, trailing up past 1 %, 100 USDT a level, 10,000 USDT to start, through the same engine code as live
trading, in the fast mode. The table shows the median and the spread of the runs. --every-point-days also times
the reference mode (every point of every candle ticked) on the first days, so the speed-up shows on the same data.

The peer. backtesting.py is installed only in the bench's own environment (requirements/bench.txt, never in the
app's): `python -m venv .venv/bench && .venv/bench/bin/pip install --require-hashes -r requirements/bench.txt`.
Without it the comparison is skipped with that hint. --peer-runs times both engines that many times, alternately,
each from the files (pandas.read_csv for backtesting.py, as its users load them), on the whole data or its first
--peer-candles candles, and prints the medians, their ratio, both results side by side, and counts of the fills
that only one of the two models makes (below). The grid in backtesting.py (`peer_strategy`) is as faithful as its
model allows: at each bar it re-anchors the ladder when there are no buys and no lots, or trails it up (cancelling
the untouched buys) when the price is strictly above anchor × 1.01; it places a limit buy for each free level below
the price (at most --levels resting buys, lots + buys at most --levels), with the level's take-profit as the
trade's contingent `tp` order, so that each take-profit sells its own lot. Prices and amounts are rounded as the
engine does (buys down to the 0.01 tick, take-profits up, amounts down to the 0.00001 BTC step). Same cash, same
fee rate (`commission=0.001`, Binance's 0.1 % for maker and taker alike on BTC/USDT).

Fractional units: backtesting.py buys whole units only (a 100 USDT order of BTC would be 0 BTC). FractionalBacktest
is used rather than scaling the data by hand: it does the scaling itself (prices × unit, volume / unit, results
scaled back), with unit = the market's step 0.00001 BTC, so a size of 212 units is exactly the engine's
amount_down(100 / 47079.99) = 0.00212 BTC.

Every difference in fill semantics (trading.backtest's docstring states ours):
1. When the strategy looks. backtesting.py calls Strategy.next() once a bar, "a moment before the close", with the
   bar's close as the price; what it orders then is matched from the next bar on (its first next() comes at the
   second bar, so its first buys can fill from the third). The engine ticks at the four points of each candle's
   path: a buy placed at the open or at an extreme can fill later in the same candle, and a level freed by a
   take-profit is placed again at that very point ("buys filled in the candle they were placed in").
2. No path inside a bar. backtesting.py checks each resting order against the bar's whole range, independently, in
   the queue's order (a trade's stop orders are queued first, so when a stop-loss and a take-profit are both in
   range the stop wins: the pessimistic choice). The engine follows open → the extreme nearer the open → the other
   extreme → close (on a tie a rising candle goes to its low first), so what fills and in which order follows the
   path, e.g. a buy at the low and then its take-profit at the high of the same candle.
3. Contingent take-profits. backtesting.py creates the `tp` order when the buy fills and cannot fill it in the same
   bar (it warns "A contingent SL/TP order would execute in the same bar …" and defers it to the next bar that
   reaches it). The engine places the take-profit at the point where the buy filled, and it fills at the first
   later point above it, in the same candle if the path gets there ("take-profits filled in the candle of their
   buy").
4. A price exactly at the limit. backtesting.py fills a buy when low ≤ limit (a touch is enough) and a take-profit
   when high ≥ limit. The paper exchange fills a resting order only when the path goes strictly past its price (a
   touch may leave a queue unfilled), so a touch fills nothing ("where the low only touched the limit").
5. The fill price when the bar opens past the limit. backtesting.py fills at the open, better than the limit
   (min(open, limit) for a buy, max(open, limit) for a take-profit). The paper exchange fills a resting order at
   its limit price whatever jump the path made to get past it (an order that is marketable when placed, which the
   grid never sends, fills at the current price) ("at the open, below / above the limit").
6. Trailing up. backtesting.py can see the price above the threshold only at a close; the engine at any point of
   the path, the high included, and it re-anchors at that price: its ladder then sits higher, and the two grids
   drift apart from the first time a candle's high, not its close, passes the threshold. On the synthetic year
   items 3 – 5 make no fill at all (a one-minute candle moves far less than the 0.5 % between the levels, and
   opens at the previous close): the difference is items 1 and 6. Letting the peer trail at the bar's high instead
   (an experiment, not in this script) brings its fills on the first 100,000 candles from 1,032 to 1,014, against
   the engine's 1,006; the rest is item 1's bar of delay.
7. Fees. backtesting.py charges `commission` × size × price in float from the cash at the entry and again at the
   exit, one rate for every fill. The paper exchange charges the maker fee on a resting limit order and the taker
   fee on a marketable or market one (equal on BTC/USDT: 0.1 %), in Decimal rounded down to 0.00000001 USDT (or in
   the base coin with buy_fee_in_base, which backtesting.py cannot model). The fees differ here by the fills.
8. Cash. The paper exchange locks the quote of each resting buy (with a fee reserve at the higher rate) and a buy
   without funds waits; backtesting.py reserves nothing for resting orders and cancels an order that the margin
   cannot cover when it fills. With 20 × 100 USDT of 10,000 this never binds here.
9. Market rules. backtesting.py has none: no tick, step, minimum notional, price band or open-order cap (the
   peer strategy rounds prices and amounts by hand). The paper exchange applies the market's own (for BTC/USDT:
   tick 0.01, step 0.00001, min notional 10 USDT, PERCENT_PRICE, 200 open orders).
10. Market orders and stops (not in this grid): backtesting.py fills them at the next bar's open (a stop at the
   stop price, or at the open when it gapped past), without slippage unless `spread` is set; the engine sells at
   the point of the path where the stop was crossed, at that price moved by the exchange's slippage (0.05 %),
   taker fee.
11. Float vs Decimal. backtesting.py computes in float64, inside FractionalBacktest on prices scaled by 0.00001
   (47079.99 → 0.4707999); the engine in Decimal from the files' own text. On the same fills the PnL agrees to
   about 1e-8 USDT a fill.
12. The figures. Equity: backtesting.py's at each bar's close (cash + open trades at the close), the engine's at
   every point of the path, so its max drawdown also sees the intra-candle lows (the bench computes backtesting.py's
   in USDT from its equity curve, as the peak-to-trough fall, and in % of that peak, as its "Max. Drawdown [%]").
   Realized PnL: the closed trades (both commissions in), the closed lots (both fees in). Final equity: cash and
   the coins held at the last close in both (backtesting.py with finalize_trades=False, so open trades stay open).
   Buy and hold: backtesting.py's "Buy & Hold Return" is from the first bar's close to the last close without a
   fee; the engine's buys everything at the first open with the taker fee.

Speed: backtesting.py runs Strategy.next() and its broker's order loop in Python for every bar; the engine skips
the candles in which nothing can happen (numpy finds the next event) and ticks only the rest, 0.55 % of this
year's candles. Its loading is slower than pandas.read_csv because it checks every row (order, duplicates, format,
with the file and line of a bad one) and keeps each row's text so that prices become exact Decimals.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import log, print_table
from exchanges.markets import market_rules
from exchanges.paper.feeds import EPOCH
from exchanges.paper.series import CandleSeries, load_series
from trading.backtest import BacktestOptions, BacktestResult, Mode, run_backtest
from trading.core.types import EngineConfig, Role

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


# --- the peer: the same grid in backtesting.py ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Figures:
    """One engine's results, in the units both can report: fills, money in USDT."""

    fills: int
    round_trips: int
    realized_pnl: Decimal
    equity_end: Decimal
    max_drawdown: Decimal
    max_drawdown_pct: Decimal
    fees: Decimal
    buy_and_hold: Decimal | None
    # fills that the other engine's model would have made otherwise (see the module docstring): what → how many
    apart: dict[str, int]


def ours(result: BacktestResult, series: CandleSeries) -> Figures:
    def candle(at: datetime) -> int:
        return int(np.searchsorted(series.open_ms, (at - EPOCH) // timedelta(milliseconds=1), side="right")) - 1

    fills = {fill.client_order_id: fill for fill in result.fills}
    buys = [o for o in result.orders if o.role is Role.GRID_BUY and o.client_order_id in fills]
    take_profits = [o for o in result.orders if o.role is Role.TAKE_PROFIT and o.client_order_id in fills]
    return Figures(
        fills=len(result.fills),
        round_trips=result.grid_cycles,
        realized_pnl=result.realized_pnl,
        equity_end=result.equity_end,
        max_drawdown=result.max_drawdown,
        max_drawdown_pct=result.max_drawdown_pct,
        fees=result.fees_quote,
        buy_and_hold=result.buy_and_hold_pnl,
        apart={
            SAME_CANDLE_BUY: sum(candle(o.created_at) == candle(fills[o.client_order_id].executed_at) for o in buys),
            SAME_CANDLE_TP: sum(
                candle(fills[o.parent or ""].executed_at) == candle(fills[o.client_order_id].executed_at)
                for o in take_profits
            ),
        },
    )


SAME_CANDLE_BUY = "buys filled in the candle they were placed in"
SAME_CANDLE_TP = "take-profits filled in the candle of their buy"
TOUCHED_BUY = "buys filled where the low only touched the limit"
OPEN_BUY = "buys filled at the open, below the limit"
TOUCHED_TP = "take-profits filled where the high only touched the limit"
OPEN_TP = "take-profits filled at the open, above the limit"


def peer_frame(paths: list[Path], candles: int | None = None) -> Any:
    """The Binance files as backtesting.py takes them: a pandas frame of floats on a DatetimeIndex, read the way
    its users read them (pandas.read_csv), cut to the first `candles` rows."""
    import pandas as pd

    columns = ["time", "Open", "High", "Low", "Close", "Volume"]
    frame = pd.concat(
        [pd.read_csv(path, header=None, usecols=range(6), names=columns) for path in paths], ignore_index=True
    )
    if candles is not None:
        frame = frame.iloc[:candles]
    frame.index = pd.to_datetime(frame.pop("time"), unit="ms")
    return frame


def peer_strategy(cfg: EngineConfig, unit: Decimal) -> type:
    """The grid as a backtesting.py Strategy, as close to trading.core.engine as its model allows (see the module
    docstring for what it cannot do alike). Prices inside are FractionalBacktest's: real price × `unit`."""
    from backtesting import Strategy

    rules = market_rules(cfg.symbol)
    step = cfg.buy_offset_pct / 100
    take_profit = 1 + cfg.sell_offset_pct / 100
    reprice = 1 + cfg.reprice_threshold_pct / 100
    scale = float(unit)

    class GridPeer(Strategy):
        def init(self) -> None:
            self.anchor: float | None = None
            self.reprice_above = math.inf
            # (level price, whole units of `unit` to buy, limit and take-profit in the frame's scaled prices)
            self.ladder: list[tuple[float, int, float, float]] = []

        def set_anchor(self, price: float) -> None:
            self.anchor = price
            anchor = Decimal(f"{price:.2f}")
            self.reprice_above = float(anchor * reprice)
            self.ladder = []
            for i in range(1, cfg.grid_levels + 1):
                level = rules.price_down(anchor * (1 - step * i))  # the engine's rounding: buys down, TPs up
                units = int(rules.amount_down(cfg.order_size_quote / level) / unit)
                target = rules.price_up(level * take_profit)
                self.ladder.append((float(level), units, float(level) * scale, float(target) * scale))

        def next(self) -> None:
            price = round(self.data.Close[-1] / scale, 2)  # the real close, to the cent as in the files
            buys = [order for order in self.orders if not order.is_contingent]
            trades = self.trades
            if self.anchor is None or (not buys and not trades):
                self.set_anchor(price)
            elif price > self.reprice_above:  # trail up: cancel the untouched buys, re-anchor at the price
                for order in buys:
                    order.cancel()
                buys = []
                self.set_anchor(price)
            free = cfg.grid_levels - len(buys)
            room = cfg.max_positions - len(trades) - len(buys)
            if free <= 0 or room <= 0:
                return
            occupied = {order.tag for order in buys} | {trade.tag for trade in trades}
            for level, units, limit, target in self.ladder:
                if level in occupied or level >= price:
                    continue
                # a limit buy with its take-profit as a contingent order on the trade it opens
                self.buy(size=units, limit=limit, tp=target, tag=level)
                free -= 1
                room -= 1
                if not free or not room:
                    break

    return GridPeer


def run_peer(frame: Any, cfg: EngineConfig, initial_quote: Decimal) -> tuple[float, Figures]:
    """(seconds, figures) of the grid in backtesting.py's FractionalBacktest on `frame`."""
    import warnings

    from backtesting.lib import FractionalBacktest

    rules = market_rules(cfg.symbol)
    unit = rules.step_size  # whole units of the market's step: the engine's amount_down, exactly
    with warnings.catch_warnings():
        # "A contingent SL/TP order would execute in the same bar …": its model, explained in the docstring
        warnings.simplefilter("ignore")
        started = time.perf_counter()
        test = FractionalBacktest(
            frame,
            peer_strategy(cfg, unit),
            cash=float(initial_quote),
            commission=float(rules.maker_fee),  # = the taker fee on BTC/USDT: one rate covers both
            fractional_unit=float(unit),
            finalize_trades=False,
        )
        stats = test.run()
        seconds = time.perf_counter() - started
    strategy = stats["_strategy"]
    closed = strategy.closed_trades
    still_open = strategy.trades
    equity = stats["_equity_curve"]["Equity"].to_numpy()
    peaks = np.maximum.accumulate(equity)
    worst = int(np.argmax(peaks - equity))
    low, high = frame["Low"].to_numpy(), frame["High"].to_numpy()  # the real prices: the frame is not scaled
    scale = float(unit)
    apart = dict.fromkeys((TOUCHED_BUY, OPEN_BUY, TOUCHED_TP, OPEN_TP), 0)
    for trade in (*closed, *still_open):
        level = trade.tag
        bought = round(trade.entry_price / scale, 2)
        apart[OPEN_BUY] += bought < level
        apart[TOUCHED_BUY] += bought == level == low[trade.entry_bar]
        if trade in closed:
            target = float(rules.price_up(Decimal(f"{level:.2f}") * (1 + cfg.sell_offset_pct / 100)))
            sold = round(trade.exit_price / scale, 2)
            apart[OPEN_TP] += sold > target
            apart[TOUCHED_TP] += sold == target == high[trade.exit_bar]
    fees = sum(trade._commissions for trade in closed) + sum(
        abs(trade.size) * trade.entry_price * float(rules.maker_fee) for trade in still_open
    )
    return seconds, Figures(
        fills=2 * len(closed) + len(still_open),
        round_trips=len(closed),
        realized_pnl=_money(sum(trade.pl for trade in closed)),
        equity_end=_money(stats["Equity Final [$]"]),
        max_drawdown=_money(peaks[worst] - equity[worst]),
        max_drawdown_pct=_money((peaks[worst] - equity[worst]) / peaks[worst] * 100),
        fees=_money(fees),
        # its "Buy & Hold Return": from the first bar's close to the last close, without a fee
        buy_and_hold=_money(float(initial_quote) * stats["Buy & Hold Return [%]"] / 100),
        apart=apart,
    )


def _money(value: float) -> Decimal:
    return Decimal(f"{value:.8f}")


def compare_with_peer(paths: list[Path], levels: int, candles: int | None, runs: int) -> None:
    """Both engines on the same candles, `runs` times each, alternating so that the machine's load falls alike on
    both; each from the files, loading included. Prints the times and the results side by side."""
    cfg = config(levels)
    cash = Decimal(10_000)
    rows: dict[str, list[float]] = {"ours load": [], "ours run": [], "peer load": [], "peer run": []}
    mine: BacktestResult | None = None
    theirs: Figures | None = None
    for run in range(runs):
        started = time.perf_counter()
        series = load_series(paths)
        if candles is not None:
            series = head_of(series, candles)
        loaded = time.perf_counter()
        mine = run_backtest(series, cfg, market_rules(cfg.symbol), BacktestOptions(initial_quote=cash))
        rows["ours load"].append(loaded - started)
        rows["ours run"].append(time.perf_counter() - loaded)
        started = time.perf_counter()
        frame = peer_frame(paths, candles)
        rows["peer load"].append(time.perf_counter() - started)
        seconds, theirs = run_peer(frame, cfg, cash)
        rows["peer run"].append(seconds)
        log(
            f"peer run {run + 1}: ours {rows['ours load'][-1] + rows['ours run'][-1]:.2f} s, backtesting.py "
            f"{rows['peer load'][-1] + seconds:.2f} s"
        )
    assert mine is not None
    assert theirs is not None
    n = mine.candles
    median = {name: statistics.median(values) for name, values in rows.items()}
    ours_total = median["ours load"] + median["ours run"]
    peer_total = median["peer load"] + median["peer run"]
    load_average = os.getloadavg()
    print_table(
        f"the same grid in backtesting.py {_version('backtesting')} (pandas {_version('pandas')}), {n:,} candles"
        f"{'' if candles is None else ' (a slice: the first of the data)'}, median of {runs} runs each "
        f"(load average {load_average[0]:.2f} {load_average[1]:.2f} {load_average[2]:.2f} on {os.cpu_count()} cores)",
        ["seconds", "AresBot (trading.backtest, fast)", "backtesting.py (FractionalBacktest)", "ratio"],
        [
            ["loading the files", *(f"{median[k]:.2f}" for k in ("ours load", "peer load")), ""],
            [
                "the backtest",
                f"{median['ours run']:.2f}",
                f"{median['peer run']:.2f}",
                f"{median['peer run'] / median['ours run']:.1f}×",
            ],
            ["both", f"{ours_total:.2f}", f"{peer_total:.2f}", f"{peer_total / ours_total:.1f}×"],
            ["candles/s, loading included", f"{n / ours_total:,.0f}", f"{n / peer_total:,.0f}", ""],
        ],
    )
    mine_figures = ours(mine, series)

    def money(value: Decimal | None) -> str:
        return "—" if value is None else f"{value:,.2f}"

    print_table(
        "their results side by side (USDT; see the docstring for why they differ)",
        ["figure", "AresBot", "backtesting.py"],
        [
            ["fills", f"{mine_figures.fills:,}", f"{theirs.fills:,}"],
            ["round trips (closed by their take-profit)", f"{mine_figures.round_trips:,}", f"{theirs.round_trips:,}"],
            ["realized PnL", money(mine_figures.realized_pnl), money(theirs.realized_pnl)],
            ["final equity", money(mine_figures.equity_end), money(theirs.equity_end)],
            [
                "max drawdown (equity)",
                f"{money(mine_figures.max_drawdown)} ({mine_figures.max_drawdown_pct:.2f} %)",
                f"{money(theirs.max_drawdown)} ({theirs.max_drawdown_pct:.2f} %)",
            ],
            ["fees", money(mine_figures.fees), money(theirs.fees)],
            ["buy and hold", money(mine_figures.buy_and_hold), money(theirs.buy_and_hold)],
        ],
    )
    print_table(
        "fills that the other's model would not have made alike (each explained in the docstring)",
        ["fills", "AresBot", "backtesting.py"],
        [[what, f"{mine_figures.apart[what]:,}", "(never)"] for what in (SAME_CANDLE_BUY, SAME_CANDLE_TP)]
        + [[what, "(never)", f"{theirs.apart[what]:,}"] for what in (TOUCHED_BUY, OPEN_BUY, TOUCHED_TP, OPEN_TP)],
    )


def head_of(series: CandleSeries, candles: int) -> CandleSeries:
    cut = min(len(series), candles)
    return CandleSeries(
        series.open_ms[:cut],
        series.open[:cut],
        series.high[:cut],
        series.low[:cut],
        series.close[:cut],
        series.rows[:cut],
    )


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--levels", type=int, default=20)
    parser.add_argument(
        "--data", nargs="*", type=Path, help="candle files in time order, instead of the synthetic year"
    )
    parser.add_argument("--every-point-days", type=int, default=2)
    parser.add_argument("--peer-runs", type=int, default=5, help="runs of each engine in the comparison; 0: none")
    parser.add_argument("--peer-candles", type=int, help="compare on the first N candles only (default: all)")
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
            head = head_of(load_series(paths), args.every_point_days * 1440)
            cut = len(head)
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
        if args.peer_runs:
            if importlib.util.find_spec("backtesting") is None:
                log(
                    "backtesting.py is not installed here, so no comparison: python -m venv .venv/bench && "
                    ".venv/bench/bin/pip install --require-hashes -r requirements/bench.txt, then run this with "
                    ".venv/bench/bin/python"
                )
            else:
                compare_with_peer(paths, args.levels, args.peer_candles, args.peer_runs)


if __name__ == "__main__":
    main()
