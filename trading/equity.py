"""Equity along a backtest's price path: quote + base × price at every point of every candle, valued exactly.

The holdings change only where the engine ticked, so between two changes the equity is a fixed (quote, base)
valued along the candles' float columns: numpy finds where the highs, lows and the largest fall are, Decimal says
what they are. Used by trading.backtest; pure.
"""

from __future__ import annotations

import bisect
import math
from datetime import datetime, timedelta
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from exchanges.base import ZERO
from exchanges.paper.feeds import EPOCH, extremes_in_order
from exchanges.paper.series import CandleSeries


def path_columns(series: CandleSeries) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """The path's points as one float column (open, first extreme, second extreme, close per candle), and which
    candles go low first. Where the floats cannot tell which extreme is nearer the open, the Decimal rule decides,
    so that the column's order is candle_path's."""
    o, h, low, c = series.open, series.high, series.low, series.close
    below, above = o - low, h - o
    low_first = below < above
    for i in np.flatnonzero(np.abs(below - above) <= 1e-9 * np.abs(o)).tolist():
        candle = series.candle(i)
        low_first[i] = extremes_in_order(candle.open, candle.high, candle.low, candle.close)[0] == candle.low
    points = np.empty(4 * len(series), dtype=np.float64)
    points[0::4] = o
    points[1::4] = np.where(low_first, low, h)
    points[2::4] = np.where(low_first, h, low)
    points[3::4] = c
    return points, low_first


class PathEquity:
    """Quote + base × price at every point of the path, from the holdings after each tick. The holdings change only
    at ticked points, so the stretch between two changes is a fixed (quote, base) valued along the candle
    columns: numpy finds where the highs and lows are, Decimal says what they are."""

    def __init__(
        self,
        series: CandleSeries,
        holdings: list[tuple[int, Decimal, Decimal]],
        points: npt.NDArray[np.float64],
        low_first: npt.NDArray[np.bool_],
    ) -> None:
        self.series = series
        self.holdings = holdings
        self.starts = [h[0] for h in holdings]
        self.points = points
        self.low_first = low_first

    def price(self, point: int) -> Decimal:
        candle = self.series.candle(point // 4)
        k = point % 4
        if k == 0:
            return candle.open
        if k == 3:
            return candle.close
        first, second = (candle.low, candle.high) if self.low_first[point // 4] else (candle.high, candle.low)
        return first if k == 1 else second

    def held(self, point: int) -> tuple[Decimal, Decimal]:
        _, quote, base = self.holdings[bisect.bisect_right(self.starts, point) - 1]
        return quote, base

    def at_point(self, point: int) -> Decimal:
        quote, base = self.held(point)
        return quote + base * self.price(point)

    def _exact_max(self, lo: int, hi: int, sign: int) -> Decimal:
        """max (sign 1) or min (sign −1) of the path's prices over points [lo, hi), exactly: float rounding keeps
        order, so the exact extreme is among the points whose float equals the float extreme."""
        window = self.points[lo:hi]
        target = window.max() if sign > 0 else window.min()
        candidates = (lo + np.flatnonzero(window == target)).tolist()
        values = [self.price(int(p)) for p in candidates]
        return max(values) if sign > 0 else min(values)

    def max_drawdown(self) -> tuple[Decimal, Decimal]:
        """(largest fall of equity from an earlier high, that high)."""
        found = self._located_drawdown()
        return found if found is not None else self._drawdown_by_stretch()

    def _located_drawdown(self) -> tuple[Decimal, Decimal] | None:
        """One float pass over every point finds where the largest fall may end and where its high may be; Decimal
        computes those few points exactly. Float equity is within ~10⁻¹⁵ of the exact one, far inside the margin,
        so the exact answer is among the points the margin lets through. None when too many do (flat stretches):
        then `_drawdown_by_stretch` decides."""
        lengths = np.diff([*self.starts, len(self.points)])
        quote = np.repeat(np.array([float(q) for _, q, _ in self.holdings]), lengths)
        base = np.repeat(np.array([float(b) for _, _, b in self.holdings]), lengths)
        equity = quote + base * self.points
        peak = np.maximum.accumulate(equity)
        falls = peak - equity
        best = float(falls.max())
        margin = 2e-9 * float(np.abs(equity).max())
        if best <= margin:
            return None
        ends = np.flatnonzero(falls >= best - margin)
        if len(ends) > 64:
            return None
        worst, worst_peak = ZERO, ZERO
        for j in ends.tolist():
            tops = np.flatnonzero(equity[: j + 1] >= peak[j] - margin)
            if len(tops) > 64:
                return None
            high = max(self.at_point(i) for i in tops.tolist())
            fall = high - self.at_point(j)
            if fall > worst:
                worst, worst_peak = fall, high
        return worst, worst_peak

    def _drawdown_by_stretch(self) -> tuple[Decimal, Decimal]:
        """The same, stretch by stretch of fixed holdings, each one's extremes found in float and taken in Decimal."""
        total = len(self.points)
        bounds = [*self.starts[1:], total]
        peak: Decimal | None = None
        worst, worst_peak = ZERO, ZERO
        for (start, quote, base), stop in zip(self.holdings, bounds, strict=True):
            if stop <= start:
                continue
            if not base:
                values = [quote]
                lowest = highest = quote
                rise_fall = rise_peak = ZERO
            else:
                highest = quote + base * self._exact_max(start, stop, 1)
                lowest = quote + base * self._exact_max(start, stop, -1)
                fall, fall_from = self._largest_fall(start, stop)
                rise_fall, rise_peak = base * fall, quote + base * fall_from
                values = [highest, lowest]
            if peak is not None and peak - lowest > worst:
                worst, worst_peak = peak - lowest, peak
            if rise_fall > worst:
                worst, worst_peak = rise_fall, rise_peak
            peak = max(values) if peak is None else max(peak, *values)
        return worst, worst_peak

    def _largest_fall(self, lo: int, hi: int) -> tuple[Decimal, Decimal]:
        """(max over j of (the highest price up to j − price j), that highest price), over points [lo, hi),
        exactly."""
        window = self.points[lo:hi]
        running = np.maximum.accumulate(window)
        falls = running - window
        best = falls.max()
        if best <= 0:
            return ZERO, ZERO
        # Float differences are off by a few ulps at most: the j within a generous margin are checked in Decimal.
        margin = 1e-9 * float(running.max())
        near = np.flatnonzero(falls >= best - margin)
        if len(near) > 64:
            near = near[np.argsort(falls[near], kind="stable")[-64:]]
        result = (ZERO, ZERO)
        for j in sorted(near.tolist()):
            high = self._exact_max(lo, lo + j + 1, 1)
            if high - self.price(lo + j) > result[0]:
                result = (high - self.price(lo + j), high)
        return result

    def curve(self, end_ms: npt.NDArray[np.int64], points: int) -> list[tuple[datetime, Decimal]]:
        n = len(self.series)
        step = max(1, math.ceil(n / max(points, 1)))
        picks = [*range(step - 1, n - 1, step), n - 1]
        return [(EPOCH + timedelta(milliseconds=int(end_ms[i])), self.at_point(4 * i + 3)) for i in picks]
