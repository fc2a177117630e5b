"""Price feeds for the paper exchange and the backtester.

A feed is a deterministic function of time, so every process that trades the same paper account sees the same
price at the same moment, and the paper exchange can match resting orders over the path the price took while no
engine was looking:

- `price_at(t)`: the price at time t;
- `path(after, until)`: the points of the path with after < time <= until, in time order.

Feeds: `ManualFeed` (tests set prices), `RandomWalkFeed` (seeded, keyed by time step), `CandleReplayFeed`
(candle files replayed from an anchor time at a speed factor) and `TickerFeed` (live public ticker via CCXT).

Intra-candle path of a replayed candle of interval I opening at t: open at t, then for a rising candle
(close >= open) low at t + I/3 and high at t + 2I/3, for a falling one high first then low; close at t + I − 1 ms.
The path visits the extreme nearer the open first, as the usual backtest convention (O→L→H→C / O→H→L→C).
"""

from __future__ import annotations

import bisect
import csv
import json
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

from exchanges.clock import Clock

Point = tuple[datetime, Decimal]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


class PriceFeed(Protocol):
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

    def price_at(self, at: datetime) -> Decimal:
        if not self._prices:
            raise LookupError("ManualFeed has no price yet")
        i = bisect.bisect_right(self._times, _micros(at)) - 1
        return self._prices[max(i, 0)]

    def path(self, after: datetime, until: datetime) -> list[Point]:
        lo = bisect.bisect_right(self._times, _micros(after))
        hi = bisect.bisect_right(self._times, _micros(until))
        return [(_from_micros(self._times[i]), self._prices[i]) for i in range(lo, hi)]


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


def candle_path(candle: Candle, interval: timedelta) -> list[Point]:
    """The four points of one candle, in the documented order (see the module docstring)."""
    t = candle.open_time
    first, second = (candle.low, candle.high) if candle.close >= candle.open else (candle.high, candle.low)
    return [
        (t, candle.open),
        (t + interval / 3, first),
        (t + interval * 2 / 3, second),
        (t + interval - timedelta(milliseconds=1), candle.close),
    ]


class CandleReplayFeed:
    """Candles replayed as a price path. With `start`, the first candle's open is mapped to `start` and data time
    runs `speed` times faster than wall time; without it, candles play at their own timestamps."""

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
        if interval is None:
            interval = candles[1].open_time - candles[0].open_time if len(candles) > 1 else timedelta(minutes=1)
        self.interval = interval
        self._origin = _micros(candles[0].open_time)
        self._anchor = _micros(start) if start is not None else self._origin
        self._speed = Fraction(str(speed))
        self._times: list[int] = []
        self._prices: list[Decimal] = []
        for candle in candles:
            for at, price in candle_path(candle, interval):
                self._times.append(_micros(at))
                self._prices.append(price)

    def _data_time(self, at: datetime) -> int:
        return self._origin + math.floor((_micros(at) - self._anchor) * self._speed)

    def _wall_time(self, data_us: int) -> datetime:
        # Rounded up, and the speed kept as an exact fraction, so that a point's wall time maps back onto the
        # point itself: path(…, until=that time) always includes it.
        return _from_micros(self._anchor + math.ceil((data_us - self._origin) / self._speed))

    def price_at(self, at: datetime) -> Decimal:
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


class TickerFeed:
    """The live last price from an exchange's public ticker through CCXT, for dry runs with internet access.

    It has no history, so `path` is just the latest point: paper fills happen at the prices seen, not between.
    """

    def __init__(self, exchange_id: str, symbol: str, *, min_interval: float = 1.0) -> None:
        import ccxt  # imported lazily: costly, and only dry runs need it

        self.symbol = symbol
        self._client = getattr(ccxt, exchange_id)({"enableRateLimit": True})
        self._min_interval = timedelta(seconds=min_interval)
        self._last: Point | None = None

    def price_at(self, at: datetime) -> Decimal:
        if self._last is None or at - self._last[0] >= self._min_interval:
            ticker = self._client.fetch_ticker(self.symbol)
            self._last = (at, Decimal(str(ticker["last"])))
        return self._last[1]

    def path(self, after: datetime, until: datetime) -> list[Point]:
        return [(until, self.price_at(until))]


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
