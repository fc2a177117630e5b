"""A market's rules and its price now, from where an account's prices come from, for a person waiting (the grid
preview): the answer a strategy started now on that account would trade by.

- A real exchange account: the exchange's rules and last price, through the CCXT adapter (unsigned, under the
  shared rate limiter, one attempt).
- A paper account: the feed its book trades the symbol on (stored once it has traded it), else the one its price
  source would start now; live prices with the followed exchange's rules (or the shipped ones when those cannot be
  loaded, as the paper book does: trading.runtime.factory), a replay at the shipped rules.

Reading a price is network I/O for the first kind: never inside a database transaction. When the exchange (or a
replay in a gap) has no answer, PriceUnavailable names it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

import redis

from aresbot.errors import ServiceUnavailable
from exchanges import registry
from exchanges.base import ExchangeError, MarketRules
from exchanges.markets import binance_spot_markets
from exchanges.paper.feeds import CandleReplayFeed, PriceFeed, feed_from_spec, load_candles
from exchanges.paper.sources import PriceSource, dataset_by_file
from exchanges.paper.store import stored_feed_spec
from trading.runtime.factory import followed_market_rules
from trading.runtime.markets import answering_exchange, in_transaction


class PriceUnavailable(ServiceUnavailable):
    def __init__(self, venue: str, detail: str) -> None:
        super().__init__(f"The price of {venue} could not be read ({detail}); try again shortly.")
        self.venue = venue


@dataclass(frozen=True)
class MarketNow:
    origin: str  # where the price comes from: "binance", "binance testnet", "data set BTCUSDT-1m-2022-05-05"
    rules: MarketRules
    price: Decimal


def feed_spec_for(book: str, symbol: str, prices: PriceSource | None, now: datetime) -> dict[str, Any]:
    """The feed a paper book trades `symbol` on: the stored one, else the one its price source would start now."""
    return stored_feed_spec(book, symbol) or (prices or PriceSource()).feed_spec(symbol, now)


def replay_name(spec: Mapping[str, Any]) -> str:
    dataset = dataset_by_file(str(spec.get("path", "")))
    return f"data set {dataset.name if dataset is not None else spec.get('path')}"


@lru_cache(maxsize=16)
def replay(path: str, start: str, speed: str) -> CandleReplayFeed:
    """The replay of a stored feed spec, built once per process: its data set is a file that never changes."""
    return CandleReplayFeed(
        load_candles(path), start=datetime.fromisoformat(start) if start else None, speed=float(speed)
    )


def market_now(
    exchange_id: str, *, testnet: bool, prices: PriceSource | None, book: str, symbol: str, now: datetime
) -> MarketNow:
    """`symbol`'s rules and price now for an account on `exchange_id` (`prices`, `book`: a paper account's price
    source and book key). PriceUnavailable when they cannot be had."""
    if exchange_id != registry.PAPER:
        venue = f"{exchange_id} testnet" if testnet else exchange_id
        return _from_exchange(exchange_id, testnet, venue, symbol, paper=False)
    spec = feed_spec_for(book, symbol, prices, now)
    if spec.get("kind") == "ticker":
        followed = str(spec.get("exchange", "binance"))
        return _from_exchange(followed, False, followed, symbol, paper=True)
    origin = replay_name(spec) if spec.get("kind") == "replay" else f"a {spec.get('kind')} feed"
    rules = binance_spot_markets().get(symbol)
    if rules is None:
        raise PriceUnavailable(origin, f"AresBot ships no market rules for {symbol}")
    try:
        feed = _feed(spec)
        feed.observe(now)
        price = feed.price_at(now)
    except (ExchangeError, OSError, ValueError, LookupError) as exc:
        raise PriceUnavailable(origin, str(exc)) from exc
    return MarketNow(origin, rules, price)


def _feed(spec: Mapping[str, Any]) -> PriceFeed:
    if spec.get("kind") == "replay":
        return replay(str(spec["path"]), str(spec.get("start") or ""), str(spec.get("speed", 1)))
    return feed_from_spec(spec)


def _from_exchange(exchange_id: str, testnet: bool, venue: str, symbol: str, *, paper: bool) -> MarketNow:
    if in_transaction():
        raise PriceUnavailable(venue, "it must be read before a database transaction opens")
    try:
        exchange = answering_exchange(exchange_id, testnet=testnet)
        rules = followed_market_rules(exchange, symbol) if paper else exchange.market(symbol)
        price = exchange.fetch_price(symbol)
    except (ExchangeError, redis.RedisError) as exc:
        raise PriceUnavailable(venue, str(exc) or type(exc).__name__) from exc
    return MarketNow(venue, rules, price)
