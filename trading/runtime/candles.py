"""The candles of a strategy's market for its price chart, from where the account's prices come from.

- A real exchange account: the exchange's candles, through the CCXT adapter (unsigned, under the shared Redis rate
  limiter, one attempt: a person is waiting), kept in Redis for CANDLES_CACHE_SECONDS under
  `candles:{exchange}[:testnet]:{symbol}:{timeframe}:{limit}`, so that a page of charts polling every few seconds
  costs the exchange one request per market and timeframe.
- A paper account with live prices: the same, from the exchange its prices follow.
- A paper account replaying a data set: the candles the replay has played up to now (exchanges.paper.charts), on
  the book's own replay once the account has traded the symbol (its start and speed are stored with the book),
  else on the replay that would start now.

Asking an exchange is network I/O: never inside a database transaction (CandlesUnavailable instead, a caller's bug).
When the exchange cannot answer, CandlesUnavailable names it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import redis

from aresbot.errors import InvalidField, ServiceUnavailable
from aresbot.redis import get_redis
from exchanges import registry
from exchanges.base import ExchangeError, plain_number
from exchanges.paper.charts import played_candles
from exchanges.paper.feeds import EPOCH, Candle
from exchanges.paper.sources import PriceSource
from trading.runtime.marketdata import feed_spec_for, replay, replay_name
from trading.runtime.markets import answering_exchange, in_transaction

logger = logging.getLogger(__name__)

# The timeframes a chart may ask for: what Binance offers up to a day, and every CCXT exchange names alike.
TIMEFRAMES: dict[str, timedelta] = {
    name: timedelta(seconds=seconds)
    for name, seconds in (
        ("1m", 60),
        ("3m", 180),
        ("5m", 300),
        ("15m", 900),
        ("30m", 1800),
        ("1h", 3600),
        ("2h", 7200),
        ("4h", 14400),
        ("6h", 21600),
        ("12h", 43200),
        ("1d", 86400),
    )
}
DEFAULT_TIMEFRAME = "1m"
MAX_CANDLES = 1000  # Binance's most per request
DEFAULT_CANDLES = 200
CANDLES_KEY = "candles:{venue}:{symbol}:{timeframe}:{limit}"
CANDLES_CACHE_SECONDS = 5


class CandlesUnavailable(ServiceUnavailable):
    def __init__(self, venue: str, detail: str) -> None:
        super().__init__(f"The candles of {venue} could not be loaded ({detail}); try again shortly.")
        self.venue = venue


@dataclass(frozen=True)
class ChartCandle:
    time: datetime  # where it falls among the account's trades: the market's time, or when a replay played it
    candle: Candle  # on the market's clock


@dataclass(frozen=True)
class CandleChart:
    source: str  # "binance", "binance testnet", "data set BTCUSDT-1m-2022-05-05"
    timeframe: str
    candles: list[ChartCandle]


def candles_for(
    exchange_id: str,
    *,
    testnet: bool,
    prices: PriceSource | None,
    book: str,
    symbol: str,
    timeframe: str | None,
    limit: int,
    now: datetime,
) -> CandleChart:
    """The latest `limit` candles of `symbol` for an account on `exchange_id` (`prices`: a paper account's price
    source, `book`: its paper book's key), oldest first. `timeframe` None: the finest the source has.

    InvalidField("timeframe") when the source has no such candles; CandlesUnavailable when it cannot answer."""
    if exchange_id != registry.PAPER:
        return _exchange_chart(exchange_id, testnet, symbol, timeframe or DEFAULT_TIMEFRAME, limit)
    spec = feed_spec_for(book, symbol, prices, now)
    if spec.get("kind") == "ticker":
        followed = str(spec.get("exchange", "binance"))
        return _exchange_chart(followed, False, symbol, timeframe or DEFAULT_TIMEFRAME, limit)
    if spec.get("kind") != "replay":
        raise CandlesUnavailable(f"the price feed of {symbol}", f"a {spec.get('kind')} feed has no candles")
    return _replay_chart(spec, timeframe, limit, now)


# --- a replay -----------------------------------------------------------------------------------------------------
def _replay_chart(spec: Mapping[str, Any], timeframe: str | None, limit: int, now: datetime) -> CandleChart:
    # The book's replay, which may be another than the account names now (a change applies at the next start).
    name = replay_name(spec)
    try:
        feed = replay(str(spec["path"]), str(spec.get("start") or ""), str(spec.get("speed", 1)))
    except (OSError, ValueError) as exc:
        raise CandlesUnavailable(name, str(exc)) from exc
    fitting = [tf for tf, length in TIMEFRAMES.items() if length >= feed.interval and not length % feed.interval]
    chosen = timeframe or (fitting[0] if fitting else DEFAULT_TIMEFRAME)
    if chosen not in fitting:
        own = next((tf for tf, length in TIMEFRAMES.items() if length == feed.interval), str(feed.interval))
        raise InvalidField("timeframe", f"The {name} has {own} candles: use one of {', '.join(fitting)}.")
    played = played_candles(feed, now, TIMEFRAMES[chosen], limit)
    return CandleChart(name, chosen, [ChartCandle(p.played_at, p.candle) for p in played])


# --- an exchange ------------------------------------------------------------------------------------------------
def _exchange_chart(exchange_id: str, testnet: bool, symbol: str, timeframe: str, limit: int) -> CandleChart:
    venue = f"{exchange_id} testnet" if testnet else exchange_id
    key = CANDLES_KEY.format(
        venue=f"{exchange_id}:testnet" if testnet else exchange_id, symbol=symbol, timeframe=timeframe, limit=limit
    )
    candles = _cached(key)
    if candles is None:
        candles = _fetch(exchange_id, testnet, venue, symbol, timeframe, limit)
        try:
            get_redis().set(key, json.dumps([_row(c) for c in candles]), ex=CANDLES_CACHE_SECONDS)
        except redis.RedisError as exc:
            logger.warning("candles of %s not cached: %s", venue, exc)
    return CandleChart(venue, timeframe, [ChartCandle(c.open_time, c) for c in candles])


def _fetch(exchange_id: str, testnet: bool, venue: str, symbol: str, timeframe: str, limit: int) -> list[Candle]:
    if in_transaction():
        raise CandlesUnavailable(venue, "they must be loaded before a database transaction opens")
    try:
        exchange = answering_exchange(exchange_id, testnet=testnet)
        offered = exchange.timeframes()
        if timeframe not in offered:
            listed = ", ".join(tf for tf in TIMEFRAMES if tf in offered)
            raise InvalidField("timeframe", f"{venue} has no {timeframe} candles: use one of {listed}.")
        return exchange.fetch_candles(symbol, timeframe, limit)
    except (ExchangeError, redis.RedisError) as exc:
        raise CandlesUnavailable(venue, str(exc) or type(exc).__name__) from exc


def _row(candle: Candle) -> list[Any]:
    ms = (candle.open_time - EPOCH) // timedelta(milliseconds=1)
    prices = (candle.open, candle.high, candle.low, candle.close, candle.volume)
    return [ms, *(plain_number(v) for v in prices)]


def _cached(key: str) -> list[Candle] | None:
    try:
        raw = get_redis().get(key)
    except redis.RedisError as exc:
        logger.warning("candles cache unreadable: %s", exc)
        return None
    if not isinstance(raw, str):
        return None
    return [Candle(EPOCH + timedelta(milliseconds=row[0]), *(Decimal(v) for v in row[1:6])) for row in json.loads(raw)]
