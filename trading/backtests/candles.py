"""A data set's candles merged into at most N bars, for a chart: the SPA draws a backtest's fills on them."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np

from exchanges.base import plain_number
from exchanges.paper.feeds import EPOCH
from exchanges.paper.series import CandleSeries

MAX_BARS = 5000
DEFAULT_BARS = 500


def _ms(at: datetime) -> int:
    return (at - EPOCH) // timedelta(milliseconds=1)


def _price(row: str, field: int) -> str:
    return plain_number(Decimal(row.split(",", 6)[field]))


def merged_bars(
    series: CandleSeries, max_bars: int, start: datetime | None = None, end: datetime | None = None
) -> list[dict[str, Any]]:
    """The candles opening in [start, end] in at most `max_bars` bars of equally many candles: each the first
    open, the highest high, the lowest low and the last close of its candles (the exact prices of the data), at the
    time of its first candle."""
    open_ms = series.open_ms
    first = int(np.searchsorted(open_ms, _ms(start), side="left")) if start is not None else 0
    stop = int(np.searchsorted(open_ms, _ms(end), side="right")) if end is not None else len(series)
    if stop <= first:
        return []
    step = math.ceil((stop - first) / max_bars)
    rows = series.rows
    bars = []
    for s in range(first, stop, step):
        e = min(s + step, stop)
        top = s + int(np.argmax(series.high[s:e]))
        bottom = s + int(np.argmin(series.low[s:e]))
        bars.append(
            {
                "time": (EPOCH + timedelta(milliseconds=int(open_ms[s]))).isoformat().replace("+00:00", "Z"),
                "open": _price(rows[s], 1),
                "high": _price(rows[top], 2),
                "low": _price(rows[bottom], 3),
                "close": _price(rows[e - 1], 4),
            }
        )
    return bars
