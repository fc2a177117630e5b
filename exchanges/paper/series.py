"""Candle files as arrays: what the backtester scans (numpy) and the exact prices it trades on (Decimal).

A `CandleSeries` keeps each candle twice: as float64/int64 columns, only for finding where something may happen
(vectorised scans never decide a price), and as the row's original text, parsed into Decimal for the candles the
engine actually trades on (`candle(i)`). So a year of 1-minute candles loads in well under a second and every price
the engine sees is the file's own decimal.

Inputs, one or several files in time order (a month per file, as Binance's data dump ships them):
- Binance kline CSV (data-dump format): no header (newer dumps have one, skipped); open time, open, high, low,
  close, volume, …; open times in milliseconds, or microseconds (spot dumps since 2025), told apart by size;
- a CSV with a header naming timestamp (or open_time, time, date; ms or ISO 8601, UTC), open, high, low, close
  and optionally volume;
- JSON: a list of [ms, open, high, low, close, volume] lists (or of Binance-style dicts with openTime).

Bad data is refused with `CandleDataError` naming the file, the line (for JSON, the candle's place in the list)
and the reason: a malformed row (too few fields, not a number, a price not positive, a high below the open or
close, a low above them), or candles out of order or duplicated (within a file or across two files given one after
the other).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from exchanges.paper.feeds import EPOCH, Candle

_MICROSECOND_TIMESTAMPS = 10**14  # 10¹⁴ ms is the year 5138, 10¹⁴ µs 1973: the two units cannot be confused
_TIME_KEYS = ("timestamp", "open_time", "time", "date")


class CandleDataError(ValueError):
    """A candle file that cannot be replayed as it is: where (file, line) and why."""

    def __init__(self, file: str, line: int, reason: str, *, unit: str = "line") -> None:
        # JSON has no line per candle: there `line` counts candles, and the message says so.
        super().__init__(f"{file}, {unit} {line}: {reason}")
        self.file = file
        self.line = line
        self.reason = reason


@dataclass(frozen=True, slots=True)
class _Part:
    """Where a run of rows came from, for error messages after several files are joined."""

    file: str
    start: int  # index of its first row in the series
    first_line: int  # that row's line number in the file
    json: bool = False


@dataclass(eq=False)
class CandleSeries:
    """Candles in time order: the scan columns and, per candle, its exact prices (see the module docstring)."""

    open_ms: npt.NDArray[np.int64]
    open: npt.NDArray[np.float64]
    high: npt.NDArray[np.float64]
    low: npt.NDArray[np.float64]
    close: npt.NDArray[np.float64]
    rows: Sequence[str]  # each candle's "time,open,high,low,close[,volume,…]" as the data wrote them
    parts: tuple[_Part, ...] = ()

    def __len__(self) -> int:
        return len(self.rows)

    def candle(self, i: int) -> Candle:
        """Candle i with its prices as exact Decimals, parsed from the file's own text."""
        fields = self.rows[i].split(",", 6)
        return Candle(
            EPOCH + timedelta(milliseconds=int(self.open_ms[i])),
            Decimal(fields[1]),
            Decimal(fields[2]),
            Decimal(fields[3]),
            Decimal(fields[4]),
            Decimal(fields[5]) if len(fields) > 5 and fields[5].strip() else Decimal(0),
        )

    def where(self, i: int) -> tuple[str, int]:
        """(file, line) of candle i."""
        part = self._part(i)
        return part.file, part.first_line + (i - part.start)

    def error(self, i: int, reason: str) -> CandleDataError:
        part = self._part(i)
        return CandleDataError(*self.where(i), reason, unit="candle" if part.json else "line")

    def _part(self, i: int) -> _Part:
        return next(p for p in reversed(self.parts) if p.start <= i) if self.parts else _Part("<candles>", 0, 1)

    def between(self, start_ms: int, end_ms: int) -> CandleSeries | None:
        """The candles opening in [start_ms, end_ms), their files and lines kept for errors; None if there are none."""
        first, stop = (int(i) for i in np.searchsorted(self.open_ms, [start_ms, end_ms], side="left"))
        if first >= stop:
            return None
        if first == 0 and stop == len(self):
            return self
        parts = self.parts or (self._part(0),)
        ends = [p.start for p in parts[1:]] + [len(self)]
        kept = tuple(
            _Part(p.file, max(p.start - first, 0), p.first_line + max(first - p.start, 0), p.json)
            for p, part_end in zip(parts, ends, strict=True)
            if p.start < stop and part_end > first
        )
        return CandleSeries(
            self.open_ms[first:stop],
            self.open[first:stop],
            self.high[first:stop],
            self.low[first:stop],
            self.close[first:stop],
            self.rows[first:stop],
            kept,
        )

    @classmethod
    def from_candles(cls, candles: Sequence[Candle], name: str = "<candles>") -> CandleSeries:
        """A series from Candle records (tests, generated data); checked like a file."""
        times = np.array([(c.open_time - EPOCH) // timedelta(milliseconds=1) for c in candles], dtype=np.int64)
        rows = [
            f"{t},{c.open:f},{c.high:f},{c.low:f},{c.close:f},{c.volume:f}"
            for t, c in zip(times.tolist(), candles, strict=True)
        ]
        return _checked(times, rows, _Part(name, 0, 1, json=True))

    @classmethod
    def concat(cls, series: Sequence[CandleSeries]) -> CandleSeries:
        """Several series one after the other (files given in time order), checked across their borders."""
        if not series:
            raise ValueError("no candle data given")
        if len(series) == 1:
            return series[0]
        parts: list[_Part] = []
        rows: list[str] = []
        for s in series:
            parts.extend(_Part(p.file, p.start + len(rows), p.first_line, p.json) for p in s.parts)
            rows.extend(s.rows)
        joined = cls(
            open_ms=np.concatenate([s.open_ms for s in series]),
            open=np.concatenate([s.open for s in series]),
            high=np.concatenate([s.high for s in series]),
            low=np.concatenate([s.low for s in series]),
            close=np.concatenate([s.close for s in series]),
            rows=rows,
            parts=tuple(parts),
        )
        _check_order(joined)
        return joined


def load_series(paths: Sequence[Path | str]) -> CandleSeries:
    """One or several candle files (any of the three formats), in the order given, as one checked series."""
    if not paths:
        raise ValueError("no candle files given")
    return CandleSeries.concat([_load_one(Path(p)) for p in paths])


def _load_one(path: Path) -> CandleSeries:
    return parse_series(str(path), path.read_bytes())


def parse_series(name: str, data: bytes) -> CandleSeries:
    """One file's bytes (any of the three formats; JSON when the name ends in .json or the text opens with "["),
    checked as load_series checks a file; `name` is the file named in errors."""
    if name.endswith(".json") or data[:64].lstrip()[:1] == b"[":
        return _load_json(data, name)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CandleDataError(name, line, "not UTF-8 text (is it a zip archive? unpack it first)") from None
    lines = text.splitlines()
    if not lines:
        raise CandleDataError(name, 1, "the file has no candles")
    first = lines[0].lstrip("\ufeff")
    if first[:1].isdigit():
        return _load_binance(lines, data, name, first_line=1)
    header = [h.strip().lower() for h in first.split(",")]
    if "open" in header and "close" in header and not any(k in header for k in _TIME_KEYS):
        raise CandleDataError(name, 1, f"the header names no time column ({', '.join(_TIME_KEYS)})")
    if any(k in header for k in _TIME_KEYS) and "open" in header:
        numeric = len(lines) > 1 and lines[1].split(",", 1)[0].strip().isdigit()
        if numeric and header[0] in ("open_time", "timestamp") and header[1:5] == ["open", "high", "low", "close"]:
            # A Binance dump with its header line (the newer ones): the same columns, one line down.
            return _load_binance(lines[1:], data[data.index(b"\n") + 1 :], name, first_line=2)
        return _load_header_csv(text, name)
    raise CandleDataError(name, 1, "neither Binance klines (a number first) nor a header with open/high/low/close")


def _load_binance(lines: list[str], data: bytes, name: str, *, first_line: int) -> CandleSeries:
    if not lines:
        raise CandleDataError(name, first_line, "the file has no candles")
    columns = _plain_columns(data, len(lines))
    if columns is None:  # anything unusual (an exponent, a sign, a blank line): numpy's parser, and its errors
        try:
            table = np.loadtxt(lines, delimiter=",", usecols=(0, 1, 2, 3, 4), dtype=np.float64, ndmin=2)
        except ValueError:
            _find_malformed(lines, name, first_line)
            raise  # _find_malformed raises; this is for a reason numpy saw and the row check did not
        # Times below 2⁵³ (ms until the year 287,000; µs until 2255) come through float64 exactly.
        times = table[:, 0].astype(np.int64)
        if not np.array_equal(times, table[:, 0]):
            bad = int(np.flatnonzero(times != table[:, 0])[0])
            reason = f"open time {lines[bad].split(',')[0]!r} is not a whole number"
            raise CandleDataError(name, first_line + bad, reason)
        columns = (times, table[:, 1], table[:, 2], table[:, 3], table[:, 4])
    times = columns[0]
    if times.size and times.max() >= _MICROSECOND_TIMESTAMPS:
        times = times // 1000
    part = _Part(name, 0, first_line)
    return _finish(times, *columns[1:], lines, part)


_Columns = tuple[
    npt.NDArray[np.int64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
]


def _plain_columns(data: bytes, count: int) -> _Columns | None:
    """The first five fields of every line, when each is plain digits with at most one point (as Binance writes
    them), parsed with vector operations over the bytes: about twice numpy's loadtxt, which tokenizes all twelve
    fields of a line. None for anything else. A price of at most 15 digits is an exact integer over an exact power
    of ten in float64, so the one rounded division gives the double nearest to the decimal, as float() does."""
    b = np.frombuffer(data, np.uint8)
    ends = np.flatnonzero(b == 10)
    if data[-1:] != b"\n":
        ends = np.append(ends, len(b))
    if len(ends) != count:
        return None
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    line_end = ends - ((ends > starts) & (b[np.maximum(ends - 1, 0)] == 13))  # CRLF
    commas = np.flatnonzero(b == 44)
    if not len(commas):
        return None
    first = np.searchsorted(commas, starts)
    fields = np.searchsorted(commas, line_end) - first + 1
    if fields.min() < 5:
        return None
    last = len(b) - 1
    parsed: list[npt.NDArray[Any]] = []
    for k in range(5):
        start = starts if k == 0 else commas[first + k - 1] + 1
        end = np.where(fields > k + 1, commas[np.minimum(first + k, len(commas) - 1)], line_end)
        length = end - start
        if length.min() < 1 or length.max() > 24:
            return None
        mantissa = np.zeros(len(start), np.int64)
        digits = np.zeros(len(start), np.int64)
        point_at = np.full(len(start), -1, np.int64)
        for j in range(int(length.max())):
            inside = j < length
            char = b[np.minimum(start + j, last)]
            digit = inside & (char >= 48) & (char <= 57)
            point = inside & (char == 46)
            if not np.array_equal(digit | point, inside) or (point & (point_at >= 0)).any():
                return None
            point_at[point] = j
            mantissa = np.where(digit, mantissa * 10 + (char - 48), mantissa)
            digits += digit
        if digits.min() < 1 or digits.max() > (18 if k == 0 else 15):  # int64 times; prices exact in float64
            return None
        if k == 0:
            if (point_at >= 0).any():
                return None
            parsed.append(mantissa)
        else:
            decimals = np.where(point_at >= 0, length - point_at - 1, 0)
            parsed.append(mantissa.astype(np.float64) / 10.0**decimals)
    return (parsed[0], parsed[1], parsed[2], parsed[3], parsed[4])


def _find_malformed(lines: Sequence[str], name: str, first_line: int) -> None:
    for number, line in enumerate(lines, start=first_line):
        fields = line.split(",")
        if len(fields) < 5:
            raise CandleDataError(name, number, f"{len(fields)} fields, a candle needs at least 5 (time, O, H, L, C)")
        if not fields[0].strip().isdigit():
            raise CandleDataError(name, number, f"open time {fields[0]!r} is not a whole number of milliseconds")
        for label, value in zip(("open", "high", "low", "close"), fields[1:5], strict=True):
            try:
                float(value)
            except ValueError:
                raise CandleDataError(name, number, f"{label} {value!r} is not a number") from None


def _load_header_csv(text: str, name: str) -> CandleSeries:
    reader = csv.DictReader(io.StringIO(text))
    fields = [f.strip().lower() for f in reader.fieldnames or ()]
    reader.fieldnames = fields
    missing = [c for c in ("open", "high", "low", "close") if c not in fields]
    if missing:
        raise CandleDataError(name, 1, f"the header lacks {', '.join(missing)}")
    key = next(k for k in _TIME_KEYS if k in fields)
    times: list[int] = []
    rows: list[str] = []
    for number, row in enumerate(reader, start=2):
        values = [(row.get(c) or "").strip() for c in ("open", "high", "low", "close")]
        times.append(_parse_time(row.get(key) or "", name, number))
        for label, value in zip(("open", "high", "low", "close"), values, strict=True):
            _parse_decimal(value, label, name, number)
        rows.append(",".join([str(times[-1]), *values, (row.get("volume") or "0").strip()]))
    return _checked(np.array(times, dtype=np.int64), rows, _Part(name, 0, 2))


def _load_json(data: bytes, name: str) -> CandleSeries:
    try:
        raw: Any = json.loads(data, parse_float=str, parse_int=str)
    except json.JSONDecodeError as exc:
        raise CandleDataError(name, exc.lineno, f"not valid JSON: {exc.msg}") from None
    except UnicodeDecodeError:
        raise CandleDataError(name, 1, "not UTF-8 text") from None
    if not isinstance(raw, list):
        raise CandleDataError(name, 1, "expected a list of candles")
    times: list[int] = []
    rows: list[str] = []
    for index, item in enumerate(raw):
        where = index + 1  # JSON has no useful line per candle: the candle's position in the list, from 1
        if isinstance(item, dict):
            values = [item.get(k) for k in ("openTime", "open", "high", "low", "close")] + [item.get("volume", 0)]
        elif isinstance(item, list) and len(item) >= 5:
            values = [*item[:6], *([0] if len(item) < 6 else [])]
        else:
            reason = "a candle must be [ms, open, high, low, close, volume] or a dict"
            raise CandleDataError(name, where, reason, unit="candle")
        if values[0] is None or not str(values[0]).isdigit():
            reason = f"open time {values[0]!r} is not a whole number of milliseconds"
            raise CandleDataError(name, where, reason, unit="candle")
        times.append(int(str(values[0])))
        prices = [str(v) for v in values[1:6]]
        for label, value in zip(("open", "high", "low", "close"), prices, strict=False):
            _parse_decimal(value, label, name, where, unit="candle")
        rows.append(",".join([str(times[-1]), *prices]))
    series = _checked(np.array(times, dtype=np.int64), rows, _Part(name, 0, 1, json=True))
    return series


def _parse_time(raw: str, name: str, line: int) -> int:
    raw = raw.strip()
    if raw.isdigit():
        value = int(raw)
        return value // 1000 if value >= _MICROSECOND_TIMESTAMPS else value
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise CandleDataError(name, line, f"time {raw!r} is neither milliseconds nor ISO 8601") from None
    parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed
    return (parsed - EPOCH) // timedelta(milliseconds=1)


def _parse_decimal(value: str, label: str, name: str, line: int, *, unit: str = "line") -> Decimal:
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise CandleDataError(name, line, f"{label} {value!r} is not a number", unit=unit) from None
    if not number.is_finite():
        raise CandleDataError(name, line, f"{label} {value!r} is not a finite number", unit=unit)
    return number


def _checked(times: npt.NDArray[np.int64], rows: list[str], part: _Part) -> CandleSeries:
    if not rows:
        raise CandleDataError(part.file, part.first_line, "the file has no candles")
    table = np.array([r.split(",")[1:5] for r in rows], dtype=np.float64)
    return _finish(times, table[:, 0], table[:, 1], table[:, 2], table[:, 3], rows, part)


def _finish(
    times: npt.NDArray[np.int64],
    open_: npt.NDArray[np.float64],
    high: npt.NDArray[np.float64],
    low: npt.NDArray[np.float64],
    close: npt.NDArray[np.float64],
    rows: list[str],
    part: _Part,
) -> CandleSeries:
    series = CandleSeries(times, open_, high, low, close, rows, (part,))
    _check_prices(series)
    _check_order(series)
    return series


def _first(mask: npt.NDArray[np.bool_]) -> int | None:
    found = np.flatnonzero(mask)
    return int(found[0]) if found.size else None


def _check_prices(series: CandleSeries) -> None:
    o, h, low, c = series.open, series.high, series.low, series.close
    checks = [
        (~(np.isfinite(o) & np.isfinite(h) & np.isfinite(low) & np.isfinite(c)), "a price is not a finite number"),
        (low <= 0, "the low is not positive"),
        ((h < o) | (h < c), "the high is below the open or the close"),
        ((low > o) | (low > c), "the low is above the open or the close"),
    ]
    for mask, reason in checks:
        bad = _first(mask)
        if bad is not None:
            raise series.error(bad, f"{reason} ({series.rows[bad]})")


def _check_order(series: CandleSeries) -> None:
    steps = np.diff(series.open_ms)
    bad = _first(steps <= 0)
    if bad is None:
        return
    i = bad + 1
    at = EPOCH + timedelta(milliseconds=int(series.open_ms[i]))
    before = series.where(bad)
    if steps[bad] == 0:
        reason = f"a second candle opening at {at:%Y-%m-%d %H:%M:%S} UTC (duplicated; first at line {before[1]})"
    else:
        reason = f"opens at {at:%Y-%m-%d %H:%M:%S} UTC, before the candle above it (unsorted)"
        if series.where(i)[0] != before[0]:
            reason = f"opens at {at:%Y-%m-%d %H:%M:%S} UTC, before the last candle of {before[0]} (files out of order)"
    raise series.error(i, reason)
