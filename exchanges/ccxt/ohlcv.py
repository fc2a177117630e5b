"""Historical candles from an exchange, through the CCXT adapter, into a local cache that later runs reuse.

    series = download_ohlcv(public_exchange("binance"), "BTC/USDT", "1m", since, until, cache_dir=Path(...))

- Requests: CCXT's `fetch_ohlcv`, a page of the exchange's page limit at a time, `since` moving past the last
  candle of each page; the span ends at `until` or where a page comes back empty or does not move forward. Each
  request goes through the adapter (`CcxtExchange.call`: the shared Redis rate limiter in the client, errors as the
  core's classes) and is retried on the retryable ones with the adapter's backoff.
- Candles are the exchange's: a gap stays a gap (the backtest reports it), none is ever made up, and the candle
  still forming when the download runs is left out (its close is not known yet; it is fetched by a later run).
- Cache: `{cache_dir}/{exchange}/{BASE-QUOTE}/{timeframe}/{YYYY-MM}.csv`, one file per calendar month (UTC) in the
  Binance data-dump column order (open time in ms, open, high, low, close, volume; no header), so
  exchanges.paper.series.load_series reads it like any dump file, and beside it `{YYYY-MM}.json` with the spans of
  that month already asked for (`covered`, [from, to) in ms). A span asked for holds every candle the exchange
  has in it, so within it a missing candle is a real gap, not a hole in the cache: a complete month is never
  asked for again, and a run fetches only the spans of its request the cache does not cover.
- Writes are atomic (a temporary file in the same folder, then rename; the CSV before the JSON: a crash between the
  two leaves candles the index does not count yet, fetched again and merged by open time next run). A month is
  written once all its missing spans are fetched: an error mid-download leaves the months before it cached and no
  month half-written. A lock file per month keeps two downloads of one market from losing each other's spans.

CCXT hands prices over as floats; `dec` (exchanges.ccxt.orders) gives back the exchange's decimal text, exact for
any price of up to 15 significant digits, which covers what exchanges quote.
"""

from __future__ import annotations

import calendar
import fcntl
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from exchanges.backoff import retry_read
from exchanges.base import FatalExchangeError, MarketRules
from exchanges.ccxt.exchange import CcxtExchange
from exchanges.ccxt.orders import dec
from exchanges.clock import Clock, SystemClock
from exchanges.paper.feeds import EPOCH
from exchanges.paper.series import CandleSeries, load_series

Progress = Callable[[int, int], None]  # (candles done, candles expected), as trading.backtest reports its own
DEFAULT_PAGE_LIMIT = 500  # when CCXT does not say the exchange's own (Binance spot: 1000)
_DAY_MS = 86_400_000
# A candle counts as closed this long after its end: this machine's clock may run ahead of the exchange's, and an
# exchange may amend its last candle for a moment after the minute turns. A cached candle is never fetched again.
SETTLE_MS = 10_000
_SYMBOL_PART = re.compile(r"[^A-Za-z0-9._-]+")

Span = tuple[int, int]  # [from, to) in ms since the epoch


def download_ohlcv(
    exchange: CcxtExchange,
    symbol: str,
    timeframe: str,
    since: datetime,
    until: datetime | None = None,
    *,
    cache_dir: Path,
    progress: Progress | None = None,
    clock: Clock | None = None,
    page_limit: int | None = None,
) -> CandleSeries:
    """The candles of `symbol` opening from `since` (inclusive) to `until` (exclusive; None: now) at `timeframe`,
    from the cache where it has them and from `exchange` for the rest (see the module docstring).

    ValueError names a bad argument: a timeframe the exchange does not offer (or longer than a day), a symbol it
    does not list, `since` not before `until`, or a span in which the exchange has no candle at all. Exchange
    errors (after the retries) come out as the core's ExchangeError classes. `progress(done, expected)` counts
    candle intervals (a gap's count as done once passed), so it reaches `expected` whatever the data lacks."""
    step = timeframe_ms(exchange, timeframe)
    now_ms = _ms((clock or SystemClock()).now()) - SETTLE_MS
    start = -(-_ms(since) // step) * step  # the first candle opening at or after `since`
    # The candle open at `now` (less SETTLE_MS) is still forming: the span ends where it begins, however far
    # `until` reaches.
    end = min(_ms(until) if until is not None else now_ms, now_ms // step * step)
    if start >= end:
        what = f"until {until.isoformat()}" if until is not None else "now (less the candle still forming)"
        raise ValueError(f"since {since.isoformat()} must be before {what}: no {timeframe} candle lies between")
    cache = MonthCache(cache_dir, venue_of(exchange), symbol, timeframe)
    expected = (end - start) // step
    plan = [(month, cache.missing(month, span)) for month, span in _months(start, end)]
    done = expected - sum((b - a) // step for _, spans in plan for a, b in spans)
    if progress is not None:
        progress(done, expected)

    def report(base: int, a: int) -> Callable[[int], None]:
        def reached(at: int) -> None:
            if progress is not None:
                progress(base + (at - a) // step, expected)

        return reached

    if done < expected:
        market_rules(exchange, symbol)  # an unknown symbol is a clear error before the first page
        limit = page_limit or page_limit_of(exchange)
        for month, spans in plan:
            if not spans:
                continue
            rows: list[list[Any]] = []
            fetched: list[Span] = []
            for a, b in spans:
                reached = _fetch_span(exchange, symbol, timeframe, step, limit, (a, b), rows, report(done, a))
                fetched.append((a, reached))
                done += (b - a) // step
            cache.store(month, rows, fetched)
    if progress is not None:
        progress(expected, expected)
    series = cache.load(start, end)
    if series is None:
        raise ValueError(
            f"{exchange.exchange_id} has no {symbol} {timeframe} candle from {_at(start):%Y-%m-%d %H:%M} to "
            f"{_at(end):%Y-%m-%d %H:%M} UTC"
        )
    return series


def market_rules(exchange: CcxtExchange, symbol: str) -> MarketRules:
    """`symbol`'s rules on `exchange`, from the markets the adapter loads (and shares in the process); ValueError
    when the exchange does not list it."""
    try:
        return exchange.market(symbol)
    except FatalExchangeError as exc:
        raise ValueError(f"symbol {symbol!r}: {exc}") from None


def timeframe_ms(exchange: CcxtExchange, timeframe: str) -> int:
    """The length of a `timeframe` candle in ms; ValueError unless the exchange offers it and it divides a day
    (longer candles do not fall into month files evenly, and weeks and months do not have a fixed length)."""
    lengths = {t: _parse_timeframe(exchange, t) for t in exchange.timeframes()}
    usable = sorted((t for t, ms in lengths.items() if _DAY_MS % ms == 0), key=lengths.__getitem__)
    if timeframe not in usable:
        raise ValueError(
            f"timeframe {timeframe!r}: {exchange.exchange_id} candles can be downloaded at {', '.join(usable)}"
        )
    return _parse_timeframe(exchange, timeframe)


def page_limit_of(exchange: CcxtExchange) -> int:
    """The most candles the exchange returns per request, as CCXT's feature table states it for spot markets."""
    features = getattr(exchange.client, "features", None) or {}
    spot = features.get("spot") or {}
    found = (spot.get("fetchOHLCV") or {}).get("limit") if isinstance(spot, dict) else None
    return int(found) if isinstance(found, int | float) and found > 0 else DEFAULT_PAGE_LIMIT


def venue_of(exchange: CcxtExchange) -> str:
    """The cache folder of an exchange: its CCXT id, `-testnet` on a testnet (whose candles are its own)."""
    return f"{exchange.exchange_id}-testnet" if exchange.testnet else exchange.exchange_id


def _parse_timeframe(exchange: CcxtExchange, timeframe: str) -> int:
    return int(exchange.client.parse_timeframe(timeframe) * 1000)


def _fetch_span(
    exchange: CcxtExchange,
    symbol: str,
    timeframe: str,
    step: int,
    limit: int,
    span: Span,
    into: list[list[Any]],
    reached: Callable[[int], None],
) -> int:
    """Append the exchange's candles opening in `span` to `into`, a page per request, oldest first; return where
    the exchange's answers reach. An empty page means the exchange has no candle from `since` up to now (Binance's
    answer, and what CCXT makes of candles older than `since`, which it filters out): the rest of the span is a
    gap, covered. A page that does not move forward (an exchange CCXT does not filter, ignoring `since`) leaves
    the rest uncovered, to be asked for again."""
    cursor, end = span
    while cursor < end:
        page = retry_read(
            partial(exchange.call, partial(exchange.client.fetch_ohlcv, symbol, timeframe, since=cursor, limit=limit)),
            backoff=exchange.backoff,
            sleep=exchange.sleep,
            rng=exchange.rng,
        )
        times = [int(row[0]) for row in page]
        if not times:
            return end  # nothing from `cursor` on: the rest of the span is a gap
        if max(times) < cursor:
            return cursor
        into.extend(list(row) for row, t in zip(page, times, strict=True) if cursor <= t < end)
        cursor = max(times) + step
        reached(min(cursor, end))
    return end


def _months(start: int, end: int) -> Iterator[tuple[str, Span]]:
    """(YYYY-MM, the part of [start, end) in that month) for each calendar month the span touches."""
    at = _at(start)
    year, month = at.year, at.month
    while True:
        first = _ms(datetime(year, month, 1, tzinfo=UTC))
        if first >= end:
            return
        days = calendar.monthrange(year, month)[1]
        after = first + days * _DAY_MS
        yield f"{year:04d}-{month:02d}", (max(start, first), min(end, after))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


class MonthCache:
    """The month files of one market and timeframe (see the module docstring)."""

    def __init__(self, root: Path, venue: str, symbol: str, timeframe: str) -> None:
        market = _SYMBOL_PART.sub("-", symbol).strip("-")
        self.folder = Path(root) / venue / market / timeframe

    def csv(self, month: str) -> Path:
        return self.folder / f"{month}.csv"

    def index(self, month: str) -> Path:
        return self.folder / f"{month}.json"

    def covered(self, month: str) -> list[Span]:
        try:
            raw = json.loads(self.index(month).read_text(encoding="utf-8"))
            return _merged([(int(a), int(b)) for a, b in raw["covered"]])
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return []  # no index, or one this code cannot read: the month is fetched again

    def missing(self, month: str, span: Span) -> list[Span]:
        """The parts of `span` (within `month`) that no earlier download asked the exchange for."""
        return _minus(span, self.covered(month))

    def store(self, month: str, rows: Sequence[Sequence[Any]], spans: Sequence[Span]) -> None:
        """Add the candles fetched for `spans` of `month` to its file, and `spans` to what it covers."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with self._locked(month):
            covered = self.covered(month)
            by_time = dict(self._rows(month))
            for row in rows:
                by_time[int(row[0])] = _line(row)
            lines = [by_time[t] for t in sorted(by_time)]
            _write_atomic(self.csv(month), "".join(f"{line}\n" for line in lines))
            index = {"covered": [list(s) for s in _merged([*covered, *spans])]}
            _write_atomic(self.index(month), json.dumps(index) + "\n")

    def load(self, start: int, end: int) -> CandleSeries | None:
        """The cached candles opening in [start, end), as one checked series; None when there are none."""
        parts: list[CandleSeries] = []
        for month, _ in _months(start, end):
            if not self.csv(month).exists() or not self.csv(month).stat().st_size:
                continue  # never fetched, or the exchange had no candle in what was asked of it
            part = load_series([self.csv(month)]).between(start, end)
            if part is not None:
                parts.append(part)
        return CandleSeries.concat(parts) if parts else None

    def _rows(self, month: str) -> Iterator[tuple[int, str]]:
        """(open time, line) of each candle in the month's file."""
        try:
            text = self.csv(month).read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        for line in text.splitlines():
            yield int(line.split(",", 1)[0]), line

    @contextmanager
    def _locked(self, month: str) -> Iterator[None]:
        with (self.folder / f".{month}.lock").open("a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)


def _line(row: Sequence[Any]) -> str:
    prices = [dec(value) for value in row[1:6]]
    if any(p is None for p in prices[:4]):
        raise FatalExchangeError(f"the exchange gave a candle without its prices: {list(row)!r}")
    return ",".join([str(int(row[0])), *(format(p, "f") if p is not None else "0" for p in prices)])


def _write_atomic(path: Path, text: str) -> None:
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _merged(spans: Sequence[Span]) -> list[Span]:
    out: list[Span] = []
    for a, b in sorted(s for s in spans if s[0] < s[1]):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _minus(span: Span, covered: Sequence[Span]) -> list[Span]:
    out: list[Span] = []
    a, b = span
    for c, d in _merged(covered):
        if d <= a or c >= b:
            continue
        if c > a:
            out.append((a, c))
        a = max(a, d)
    if a < b:
        out.append((a, b))
    return out


def _ms(when: datetime) -> int:
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when  # a naive time is taken as UTC
    return (when - EPOCH) // timedelta(milliseconds=1)


def _at(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=ms)
