"""The candles a replay has played so far: a paper account's price chart, as its market looked up to now.

A replay (exchanges.paper.feeds.CandleReplayFeed) runs the data's candles on the data's clock, `speed` times faster
than the wall clock. Its chart shows them grouped into candles of a timeframe that is a whole multiple of the
data's interval, aligned to whole timeframes since the epoch as the exchanges align theirs, and only as far as the
replay has got at wall time `at`: every candle it has played, and the one it is in so far — its path up to now
(the open, then the extremes the path has reached; `candle_path`) and its volume in proportion to the time played.

Each candle keeps its own time in the data and is given the wall time at which the replay played its first part:
the paper account's trades are stamped with wall time, so that is where they fall on the chart.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal

from exchanges.paper.feeds import EPOCH, Candle, CandleReplayFeed, candle_path


@dataclass(frozen=True, slots=True)
class PlayedCandle:
    played_at: datetime  # the wall time its first part was played
    candle: Candle  # on the data's clock, opening at the start of its timeframe


def played_candles(feed: CandleReplayFeed, at: datetime, timeframe: timedelta, limit: int) -> list[PlayedCandle]:
    """The latest `limit` candles of `timeframe` the replay has played by wall time `at`, oldest first.

    ValueError when `timeframe` is not a whole multiple of the data's interval."""
    if timeframe < feed.interval or timeframe % feed.interval:
        raise ValueError(f"the timeframe must be a whole multiple of the data's {feed.interval} candles")
    now = feed.market_time(at)
    grouped: dict[int, tuple[datetime, Candle]] = {}  # bucket → (the open of its first data candle, the candle)
    candles = feed.candles
    for index, candle in enumerate(candles):
        if candle.open_time > now:
            break
        end = candle.open_time + feed.interval
        if index + 1 < len(candles):
            end = min(end, candles[index + 1].open_time)  # a short candle ends at the next one's open
        part = candle if end <= now else _played_part(candle, end - candle.open_time, now)
        bucket = (candle.open_time - EPOCH) // timeframe
        before = grouped.get(bucket)
        if before is None:
            grouped[bucket] = (candle.open_time, replace(part, open_time=EPOCH + bucket * timeframe))
        else:
            grouped[bucket] = (before[0], _merged(before[1], part))
    return [
        PlayedCandle(feed.played_at(first_open), candle)
        for first_open, candle in (grouped[key] for key in sorted(grouped)[-limit:])
    ]


def _played_part(candle: Candle, duration: timedelta, now: datetime) -> Candle:
    reached = [price for when, price in candle_path(candle, duration) if when <= now]
    played = Decimal((now - candle.open_time) // timedelta(microseconds=1)) / (duration // timedelta(microseconds=1))
    places = candle.volume.as_tuple().exponent  # the data's own precision
    quantum = Decimal(1).scaleb(places) if isinstance(places, int) else Decimal(1)
    volume = (candle.volume * played).quantize(quantum, ROUND_DOWN)
    return Candle(candle.open_time, candle.open, max(reached), min(reached), reached[-1], volume)


def _merged(first: Candle, then: Candle) -> Candle:
    return Candle(
        first.open_time,
        first.open,
        max(first.high, then.high),
        min(first.low, then.low),
        then.close,
        first.volume + then.volume,
    )
