"""Price feeds for the paper exchange and the backtester.

A feed is a deterministic function of time, so every process that trades the same paper account sees the same
price at the same moment, and the paper exchange can match resting orders over the path the price took while no
engine was looking:

- `observe(t)`: bring the feed up to time t. The only method that may wait on the outside world (a live ticker's
  HTTP request, its rate limiter): the paper exchange calls it before it locks its book, never inside;
- `price_at(t)`: the price at time t (t no later than the last `observe`), from what the feed holds;
- `path(after, until)`: the points of the path with after < time <= until, in time order, from what it holds.

Feeds: `ManualFeed` (tests set prices), `SteppedFeed` (a path handed over point by point: the backtester),
`RandomWalkFeed` (seeded, keyed by time step), `CandleReplayFeed` (candle files replayed from an anchor time at a
speed factor) and `TickerFeed` (live public ticker via CCXT).

Intra-candle path of a replayed candle lasting D (its interval I, or less when the next candle opens sooner) and
opening at t: open at t, the extreme nearer the open at t + D/3, the other extreme at t + 2D/3, the close at
t + D − 1 ms (`candle_path`, the one place the rule is written; the backtester reuses it). When the open lies
exactly halfway, a rising candle (close >= open) goes to its low first and a falling one to its high first, so that
the last extreme is the one the close is nearer to. The nearer extreme first is the usual backtest convention
(O→L→H→C / O→H→L→C): the price is assumed to take the shorter way before the longer.

Gaps: a replay has a gap where the data has no candle, that is from the end of a candle's interval (open + I) to
the next candle's open, when that comes later. The exchange was down then (Binance's 1-hour data has no candle
from 2018-02-08 01:00 to 2018-02-09 09:28 UTC): the feed has no price there and raises ExchangeUnavailable, so
the paper exchange is down as long. I is the usual spacing of the candles (the most frequent one), unless given.
"""

from __future__ import annotations

import bisect
import csv
import itertools
import json
import math
import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

from exchanges.base import ExchangeUnavailable
from exchanges.clock import Clock

Point = tuple[datetime, Decimal]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


class PriceFeed(Protocol):
    def observe(self, at: datetime) -> None:
        """Bring the feed up to `at`; may block on I/O, so never call it inside a database transaction.
        ExchangeUnavailable when the market has no price at `at` (a gap in replayed data)."""
        ...

    def price_at(self, at: datetime) -> Decimal: ...

    def path(self, after: datetime, until: datetime) -> list[Point]: ...


def _micros(at: datetime) -> int:
    return (at - EPOCH) // _US


def _from_micros(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


class ManualFeed:
    """Prices set by hand (tests): each `set` adds a point at the clock's current time."""

    def __init__(self, clock: Clock, price: Decimal | str | None = None) -> None:
        self._clock = clock
        self._times: list[int] = []
        self._prices: list[Decimal] = []
        if price is not None:
            self.set(price)

    def set(self, price: Decimal | str) -> None:
        at = _micros(self._clock.now())
        if self._times and at <= self._times[-1]:
            # Two prices at one instant would make the path ambiguous; a test must move its clock first.
            raise ValueError("advance the clock before setting another price")
        self._times.append(at)
        self._prices.append(Decimal(price))

    def observe(self, at: datetime) -> None:
        pass  # the test has set the prices already

    def price_at(self, at: datetime) -> Decimal:
        if not self._prices:
            raise LookupError("ManualFeed has no price yet")
        i = bisect.bisect_right(self._times, _micros(at)) - 1
        return self._prices[max(i, 0)]

    def path(self, after: datetime, until: datetime) -> list[Point]:
        lo = bisect.bisect_right(self._times, _micros(after))
        hi = bisect.bisect_right(self._times, _micros(until))
        return [(_from_micros(self._times[i]), self._prices[i]) for i in range(lo, hi)]


class SteppedFeed:
    """A price path handed over point by point, by whoever owns the clock (the backtester walking candle paths):
    `step(at, price)` adds the next point. Unlike ManualFeed it forgets the points the exchange has matched
    (`path` is asked for each stretch once, in order), so a year of points costs no memory; and `down(until)` makes
    the market unavailable, as in a gap of the data, until the next point."""

    def __init__(self) -> None:
        self._points: list[Point] = []
        self._down: str | None = None

    def step(self, at: datetime, price: Decimal) -> None:
        if self._points and at <= self._points[-1][0]:
            raise ValueError(f"the path only moves forward: {at.isoformat()} after {self._points[-1][0].isoformat()}")
        self._points.append((at, price))
        self._down = None

    def down(self, why: str) -> None:
        self._down = why

    def observe(self, at: datetime) -> None:
        if self._down is not None:
            raise ExchangeUnavailable(self._down)

    def price_at(self, at: datetime) -> Decimal:
        self.observe(at)
        for when, price in reversed(self._points):
            if when <= at:
                return price
        raise LookupError("SteppedFeed has no price yet")

    def path(self, after: datetime, until: datetime) -> list[Point]:
        points = self._points
        lo = 0
        while lo < len(points) and points[lo][0] <= after:
            lo += 1
        hi = lo
        while hi < len(points) and points[hi][0] <= until:
            hi += 1
        found = points[lo:hi]
        # The exchange never asks for what lies before `after` again; the last point stays, for price_at.
        if lo > 1:
            del points[: lo - 1]
        return found


class RandomWalkFeed:
    """A seeded random walk on the tick grid: one step every `step_seconds` from `start`.

    Step k's move is drawn from a generator seeded by (seed, k // 1024), so any process computes the same path
    without sharing state; each move is ±`volatility_pct` % of the price at most, in whole ticks.
    """

    BLOCK = 1024

    def __init__(
        self,
        *,
        start_price: Decimal,
        start: datetime,
        tick: Decimal,
        seed: int = 0,
        step_seconds: float = 1.0,
        volatility_pct: Decimal = Decimal("0.1"),
    ) -> None:
        if start_price <= 0 or tick <= 0 or step_seconds <= 0 or volatility_pct < 0:
            raise ValueError("start_price, tick and step_seconds must be positive, volatility_pct not negative")
        self.tick = tick
        self.seed = seed
        self._start = _micros(start)
        self._step = int(step_seconds * 1_000_000)
        self._scale = float(volatility_pct) / 100
        self._blocks: dict[int, list[int]] = {}  # block → prices in ticks of its steps
        self._first = max(int(start_price / tick), 1)

    def _block(self, b: int) -> list[int]:
        found = self._blocks.get(b)
        if found is not None:
            return found
        if b == 0:
            return self._compute(0, self._first)
        if b - 1 not in self._blocks:
            # Fill the chain forwards from the last block known, so a long gap costs no deep recursion.
            known = max((k for k in self._blocks if k < b), default=-1)
            for earlier in range(known + 1, b):
                self._block(earlier)
        return self._compute(b, self._blocks[b - 1][-1])

    def _compute(self, b: int, start: int) -> list[int]:
        rng = random.Random(f"aresbot-walk:{self.seed}:{b}")  # noqa: S311 (a simulation, not a secret)
        prices: list[int] = []
        price = start
        for k in range(b * self.BLOCK, (b + 1) * self.BLOCK):
            move = rng.uniform(-1.0, 1.0)  # drawn even at k = 0 so that block 0 has the layout of every other
            if k > 0:
                price = max(price + round(price * self._scale * move), 1)
            prices.append(price)
        if len(self._blocks) > 256:  # bound the memory of a long run; blocks are cheap to recompute in order
            for key in sorted(self._blocks)[:-64]:
                del self._blocks[key]
        self._blocks[b] = prices
        return prices

    def _price_of_step(self, k: int) -> Decimal:
        return self._block(k // self.BLOCK)[k % self.BLOCK] * self.tick

    def _step_of(self, at: datetime) -> int:
        return (_micros(at) - self._start) // self._step

    def observe(self, at: datetime) -> None:
        pass  # computed, not read from anywhere

    def price_at(self, at: datetime) -> Decimal:
        return self._price_of_step(max(self._step_of(at), 0))

    def path(self, after: datetime, until: datetime) -> list[Point]:
        first = max(self._step_of(after) + 1, 0)
        last = self._step_of(until)
        return [(_from_micros(self._start + k * self._step), self._price_of_step(k)) for k in range(first, last + 1)]


@dataclass(frozen=True, slots=True)
class Candle:
    open_time: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal = Decimal(0)


def low_first(open_: Decimal, high: Decimal, low: Decimal, close: Decimal) -> bool:
    """Whether a candle's path visits its low before its high: the extreme nearer the open comes first; with the
    open exactly halfway, a rising candle (close >= open) goes low first (see the module docstring)."""
    below, above = open_ - low, high - open_
    return below < above or (below == above and close >= open_)


def extremes_in_order(open_: Decimal, high: Decimal, low: Decimal, close: Decimal) -> tuple[Decimal, Decimal]:
    return (low, high) if low_first(open_, high, low, close) else (high, low)


def candle_path(candle: Candle, duration: timedelta) -> list[Point]:
    """The four points of one candle lasting `duration`, in the documented order (see the module docstring)."""
    t = candle.open_time
    first, second = extremes_in_order(candle.open, candle.high, candle.low, candle.close)
    return [
        (t, candle.open),
        (t + duration / 3, first),
        (t + duration * 2 / 3, second),
        # A candle of a few milliseconds still closes after its high and low: times never go back.
        (max(t + duration - timedelta(milliseconds=1), t + duration * 2 / 3), candle.close),
    ]


def usual_interval(candles: Sequence[Candle]) -> timedelta:
    """The most frequent spacing of consecutive candles (in time order): their interval, whatever gaps or short
    candles the data has. One minute for a single candle."""
    spacings = Counter(b.open_time - a.open_time for a, b in itertools.pairwise(candles))
    return spacings.most_common(1)[0][0] if spacings else timedelta(minutes=1)


class CandleReplayFeed:
    """Candles replayed as a price path. With `start`, the first candle's open is mapped to `start` and data time
    runs `speed` times faster than wall time; without it, candles play at their own timestamps.

    A candle lasts its interval, or until the next candle's open when that comes sooner, so the path only moves
    forward; between the end of a candle's interval and a later next open the data has a gap, where the feed
    raises ExchangeUnavailable (see the module docstring)."""

    def __init__(
        self,
        candles: Sequence[Candle],
        *,
        start: datetime | None = None,
        speed: float = 1.0,
        interval: timedelta | None = None,
    ) -> None:
        if not candles:
            raise ValueError("no candles to replay")
        if speed <= 0:
            raise ValueError("speed must be positive")
        ordered = sorted(candles, key=lambda c: c.open_time)
        for a, b in itertools.pairwise(ordered):
            if a.open_time == b.open_time:
                raise ValueError(f"two candles open at {a.open_time.isoformat()}: one candle per open time")
        self.interval = interval or usual_interval(ordered)
        self.candles: tuple[Candle, ...] = tuple(ordered)
        self._origin = _micros(ordered[0].open_time)
        self._anchor = _micros(start) if start is not None else self._origin
        self._speed = Fraction(str(speed))
        self._times: list[int] = []
        self._prices: list[Decimal] = []
        self._gap_starts: list[int] = []  # data time, as the points
        self._gap_ends: list[int] = []
        for candle, after in zip(ordered, [*ordered[1:], None], strict=True):
            end = candle.open_time + self.interval
            if after is not None and after.open_time < end:
                end = after.open_time
            elif after is not None and after.open_time > end:
                self._gap_starts.append(_micros(end))
                self._gap_ends.append(_micros(after.open_time))
            for at, price in candle_path(candle, end - candle.open_time):
                self._times.append(_micros(at))
                self._prices.append(price)

    def _data_time(self, at: datetime) -> int:
        return self._origin + math.floor((_micros(at) - self._anchor) * self._speed)

    def _wall_time(self, data_us: int) -> datetime:
        # Rounded up, and the speed kept as an exact fraction, so that a point's wall time maps back onto the
        # point itself: path(…, until=that time) always includes it.
        return _from_micros(self._anchor + math.ceil((data_us - self._origin) / self._speed))

    def market_time(self, at: datetime) -> datetime:
        """The time in the data (the replayed market's clock) at wall time `at`."""
        return _from_micros(self._data_time(at))

    def played_at(self, market_time: datetime) -> datetime:
        """The wall time at which the replay reaches `market_time` of the data."""
        return self._wall_time(_micros(market_time))

    def gap_at(self, at: datetime) -> tuple[datetime, datetime] | None:
        """(start, end) in data time of the gap the replay is in at wall time `at`, or None."""
        data = self._data_time(at)
        i = bisect.bisect_right(self._gap_starts, data) - 1
        if i < 0 or data >= self._gap_ends[i]:
            return None
        return _from_micros(self._gap_starts[i]), _from_micros(self._gap_ends[i])

    def observe(self, at: datetime) -> None:
        gap = self.gap_at(at)
        if gap is not None:
            start, end = gap
            raise ExchangeUnavailable(
                f"exchange unavailable: the replayed data has no candles from {start:%Y-%m-%d %H:%M:%S} to "
                f"{end:%Y-%m-%d %H:%M:%S} UTC (an outage); trading resumes at "
                f"{self._wall_time(_micros(end)):%Y-%m-%d %H:%M:%S} UTC"
            )

    def price_at(self, at: datetime) -> Decimal:
        self.observe(at)  # no price inside a gap, not even a stale one
        i = bisect.bisect_right(self._times, self._data_time(at)) - 1
        return self._prices[max(i, 0)]

    def path(self, after: datetime, until: datetime) -> list[Point]:
        lo = bisect.bisect_right(self._times, self._data_time(after))
        hi = bisect.bisect_right(self._times, self._data_time(until))
        return [(self._wall_time(self._times[i]), self._prices[i]) for i in range(lo, hi)]

    @property
    def end(self) -> datetime:
        """Wall time of the last point of the replay."""
        return self._wall_time(self._times[-1])


class PolledPriceFeed:
    """The latest price of a live market, read at most every `min_interval`. It has no history, so `path` is just
    the latest point: paper fills happen at the prices seen, not between. Only `observe` reads (over the network);
    `price_at` and `path` answer with the price it read last."""

    def __init__(self, read: Callable[[], Decimal], *, min_interval: float = 1.0) -> None:
        self._read = read
        self._min_interval = timedelta(seconds=min_interval)
        self._last: Point | None = None

    def observe(self, at: datetime) -> None:
        if self._last is None or at - self._last[0] >= self._min_interval:
            self._last = (at, self._read())

    def price_at(self, at: datetime) -> Decimal:
        if self._last is None:
            raise LookupError("observe() the live market before asking for its price")
        return self._last[1]

    def path(self, after: datetime, until: datetime) -> list[Point]:
        return [(until, self.price_at(until))]


class TickerFeed(PolledPriceFeed):
    """The live last price from an exchange's public ticker through a plain CCXT client, for dry runs with internet
    access (the runtime's paper accounts use exchanges.ccxt.feed.LiveTickerFeed, with the shared rate limits)."""

    def __init__(self, exchange_id: str, symbol: str, *, min_interval: float = 1.0) -> None:
        import ccxt  # imported lazily: costly, and only dry runs need it

        self.symbol = symbol
        client = getattr(ccxt, exchange_id)({"enableRateLimit": True})
        super().__init__(lambda: Decimal(str(client.fetch_ticker(symbol)["last"])), min_interval=min_interval)


# --- candle files ------
def _ms(value: str | int) -> datetime:
    return EPOCH + timedelta(milliseconds=int(value))


def _timestamp(raw: str) -> datetime:
    raw = raw.strip()
    if raw.isdigit():
        return _ms(raw)
    parsed = datetime.fromisoformat(raw)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def load_binance_klines_csv(path: Path) -> list[Candle]:
    """Binance data-dump klines: no header; open_time(ms), open, high, low, close, volume, …"""
    candles = []
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.reader(fh):
            if not row or not row[0].strip().isdigit():
                continue  # newer dumps carry a header line
            candles.append(Candle(_ms(row[0]), *(Decimal(v) for v in row[1:6])))
    return candles


def load_ohlcv_csv(path: Path) -> list[Candle]:
    """A CSV with a header naming timestamp (ms or ISO time, UTC), open, high, low, close and volume."""
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        key = next(k for k in ("timestamp", "open_time", "time", "date") if k in (reader.fieldnames or ()))
        return [
            Candle(
                _timestamp(row[key]),
                Decimal(row["open"]),
                Decimal(row["high"]),
                Decimal(row["low"]),
                Decimal(row["close"]),
                Decimal(row.get("volume") or 0),
            )
            for row in reader
        ]


def load_json_candles(path: Path) -> list[Candle]:
    """JSON: a list of [ms, open, high, low, close, volume] lists, or of Binance-style dicts with openTime."""
    with path.open(encoding="utf-8") as fh:
        rows: list[Any] = json.load(fh, parse_float=Decimal)
    candles = []
    for row in rows:
        if isinstance(row, dict):
            values = [row["openTime"], row["open"], row["high"], row["low"], row["close"], row.get("volume", 0)]
        else:
            values = list(row[:6])
        candles.append(Candle(_ms(values[0]), *(Decimal(str(v)) for v in values[1:6])))
    return candles


DATA_DIR = Path(__file__).resolve().parents[1] / "data"  # exchanges/data


def load_candles(path: Path | str) -> list[Candle]:
    """Any of the three formats, told apart by suffix and first line. A relative path that does not exist here
    names a file shipped in exchanges/data (e.g. "replay/BTCUSDT-1m-2022-05-05.csv"), so a stored feed spec
    keeps working when the installation moves."""
    path = Path(path)
    if not path.is_absolute() and not path.exists():
        path = DATA_DIR / path
    if path.suffix == ".json":
        return load_json_candles(path)
    with path.open(encoding="utf-8") as fh:
        first = fh.readline()
    return load_binance_klines_csv(path) if first[:1].isdigit() else load_ohlcv_csv(path)


# --- specs: how a paper book remembers its feed ------
def feed_from_spec(spec: Mapping[str, Any]) -> PriceFeed:
    """Build a feed from its JSON description, so every process trading a paper account builds the same one.

    {"kind": "random_walk", "start_price": "30000", "start": ISO time, "tick": "0.01", "seed": 1,
     "step_seconds": 1, "volatility_pct": "0.1"}
    {"kind": "replay", "path": "file.csv", "start": ISO time, "speed": 60}
    {"kind": "ticker", "exchange": "binance", "symbol": "BTC/USDT"}
    """
    kind = spec.get("kind")
    if kind == "random_walk":
        return RandomWalkFeed(
            start_price=Decimal(str(spec["start_price"])),
            start=_timestamp(str(spec["start"])),
            tick=Decimal(str(spec["tick"])),
            seed=int(spec.get("seed", 0)),
            step_seconds=float(spec.get("step_seconds", 1)),
            volatility_pct=Decimal(str(spec.get("volatility_pct", "0.1"))),
        )
    if kind == "replay":
        start = spec.get("start")
        return CandleReplayFeed(
            load_candles(spec["path"]),
            start=_timestamp(str(start)) if start else None,
            speed=float(spec.get("speed", 1)),
        )
    if kind == "ticker":
        return TickerFeed(str(spec.get("exchange", "binance")), str(spec["symbol"]))
    raise ValueError(f"unknown feed kind {kind!r}: use random_walk, replay or ticker")
