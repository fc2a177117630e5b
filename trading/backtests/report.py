"""A backtest's result as a person at a terminal reads it (`manage.py backtest`): a summary table, a progress line
while it runs, and the JSON and CSV files it writes, whose fills, gaps and equity curve are those the API gives of a
stored backtest (trading.backtests.results). Money as exact decimal strings, never floats; times ISO 8601, UTC.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from exchanges.base import plain_number
from trading.backtest import BacktestResult
from trading.backtests import results

# lot_pnl: on the fill that closed a lot, the lot's realized PnL (quote, net of both fees)
FILL_COLUMNS = (*results.FILL_FIELDS, "lot_pnl")

_LABELS = (
    ("symbol", "Market"),
    ("mode", "Mode"),
    ("start", "From"),
    ("end", "To"),
    ("candles", "Candles"),
    ("candles_ticked", "Candles ticked"),
    ("gaps", "Gaps in the data"),
    ("orders", "Orders"),
    ("fills", "Fills"),
    ("grid_cycles", "Grid cycles (take-profits)"),
    ("closed_positions", "Closed positions"),
    ("open_positions", "Open positions at the end"),
    ("realized_pnl", "Realized PnL"),
    ("unrealized_pnl", "Unrealized PnL"),
    ("total_pnl", "Total PnL"),
    ("fees_quote", "Fees"),
    ("equity_start", "Equity at the start"),
    ("equity_end", "Equity at the end"),
    ("max_drawdown", "Max drawdown"),
    ("max_drawdown_pct", "Max drawdown %"),
    ("capital_peak", "Capital used at peak"),
    ("time_in_market_seconds", "Time in market"),
    ("buy_and_hold_pnl", "Buy and hold PnL"),
    ("last_price", "Last price"),
)
_IN_QUOTE = {
    "realized_pnl",
    "unrealized_pnl",
    "total_pnl",
    "fees_quote",
    "equity_start",
    "equity_end",
    "max_drawdown",
    "capital_peak",
    "buy_and_hold_pnl",
}


def summary_table(result: BacktestResult) -> str:
    """The summary as two aligned columns, money with its currency."""
    summary = result.summary()
    rows = []
    for key, label in _LABELS:
        value = summary[key]
        if key in _IN_QUOTE:
            value = f"{value} {result.quote}"
        elif key == "time_in_market_seconds":
            value = _duration(int(value))
        rows.append((label, str(value)))
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in rows) + "\n"


def fill_rows(result: BacktestResult) -> list[dict[str, Any]]:
    """Every fill in time order (as the API lists a stored backtest's), and on the fill that closed a lot the lot's
    realized PnL."""
    closing = {
        lot.exit_client_order_id: lot.realized_pnl
        for lot in result.closed_positions
        if lot.exit_client_order_id and lot.realized_pnl is not None
    }
    rows = results.fills_view(results.fill_rows(result))
    last_fill = {row["client_order_id"]: i for i, row in enumerate(rows)}
    for i, row in enumerate(rows):
        pnl = closing.get(row["client_order_id"])
        row["lot_pnl"] = plain_number(pnl) if pnl is not None and last_fill[row["client_order_id"]] == i else ""
    return rows


def result_document(result: BacktestResult, **extra: Any) -> dict[str, Any]:
    """The result as one JSON-ready document: `extra` (parameters, data set…), the summary, the gaps, the equity
    curve and every fill."""
    return {
        **extra,
        "summary": result.summary(),
        "gaps": results.gaps(result),
        "equity_curve": results.equity_curve(result),
        "fills": fill_rows(result),
    }


def write_json(path: Path, document: dict[str, Any]) -> None:
    write_atomic(path, json.dumps(document, indent=1) + "\n")


def write_fills_csv(path: Path, result: BacktestResult) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, FILL_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(fill_rows(result))
    write_atomic(path, buffer.getvalue())


def write_atomic(path: Path, text: str) -> None:
    """`text` into `path` whole or not at all: a temporary file beside it, renamed over it."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _duration(seconds: int) -> str:
    days, rest = divmod(seconds, 86400)
    return f"{days}d {timedelta(seconds=rest)}" if days else str(timedelta(seconds=rest))


@dataclass
class ProgressLine:
    """`(done, total)` reports as a progress bar with percent, candles per second and ETA: redrawn in place on a
    terminal (at most every `redraw_seconds`), else a plain line every `every_seconds` (a log file or a pipe gets
    no carriage returns). The last report, done = total, is always shown."""

    write: Callable[[str], None]
    flush: Callable[[], None]
    label: str
    tty: bool
    every_seconds: float = 5.0
    redraw_seconds: float = 0.1
    width: int = 30
    monotonic: Callable[[], float] = time.monotonic
    _started: float = field(default=0.0, init=False)
    _last: float = field(default=float("-inf"), init=False)
    _drawn: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        self._started = self.monotonic()

    def __call__(self, done: int, total: int) -> None:
        now = self.monotonic()
        finished = done >= total
        wait = self.redraw_seconds if self.tty else self.every_seconds
        if not finished and now - self._last < wait:
            return
        self._last = now
        line = self.text(done, total, now - self._started)
        self.write(f"\r{line}\x1b[K" if self.tty else f"{line}\n")
        self._drawn = True
        self.flush()

    def text(self, done: int, total: int, elapsed: float) -> str:
        share = done / total if total else 1.0
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (total - done) / rate if rate > 0 else None
        filled = int(self.width * share)
        bar = "#" * filled + "." * (self.width - filled)
        eta_text = "--:--:--" if eta is None else str(timedelta(seconds=round(eta)))
        return (
            f"{self.label} [{bar}] {share * 100:5.1f}%  {done:,}/{total:,} candles  {rate:,.0f} candles/s  "
            f"ETA {eta_text}"
        )

    def close(self) -> None:
        """End the line a terminal bar was drawn on, so that what follows starts on its own."""
        if self.tty and self._drawn:
            self.write("\n")
            self.flush()
        self._drawn = False
