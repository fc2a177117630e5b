"""The markets an account can trade, so a strategy's symbol is checked when it is saved, not in a worker later;
with each market's cap on open orders (Binance MAX_NUM_ORDERS), which a strategy's max_positions must not exceed.

- A real exchange account: the exchange's active spot markets (its testnet's when the account trades there).
- A paper account: those of its price source: the live exchange's markets, or the replayed data set's symbol.

An exchange's list is loaded through the CCXT adapter (an unsigned client under the shared Redis rate limiter, one
attempt, a short wait: a person is waiting for the answer) and kept in Redis under `markets:{exchange}` (or
`markets:{exchange}:testnet`) for MARKETS_CACHE_SECONDS, so the web processes ask each exchange about once an
hour; the adapter reloads its own rules on the same schedule. When the list cannot be loaded, MarketsUnavailable
says so: a symbol is never accepted unchecked.

Loading is network I/O, so it never happens inside a database transaction: there a cold cache is refused (a bug
in the caller) rather than holding the transaction across the request. The admin, whose forms validate inside a
transaction, loads first inside `remembered()`.
"""

from __future__ import annotations

import difflib
import json
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import redis
from django.db import transaction

from aresbot.errors import ServiceUnavailable
from aresbot.redis import get_redis
from exchanges import registry
from exchanges.base import ExchangeError, MarketRules, plain_number
from exchanges.markets import binance_spot_markets
from exchanges.paper.sources import DATASETS, PriceSource, PriceSourceKind

if TYPE_CHECKING:
    from exchanges.ccxt.exchange import CcxtExchange

logger = logging.getLogger(__name__)

MARKETS_KEY = "markets:{venue}"
CACHE_FORMAT = 2  # a cached list with each market's rules (format 1 held the open-order caps alone)
MARKETS_CACHE_SECONDS = 3600
LOAD_MAX_WAIT = 5.0  # seconds the request waits at most for the shared rate limit before answering 503


class MarketsUnavailable(ServiceUnavailable):
    """The market list of an exchange (or a data set) could not be had now; the symbol cannot be checked."""

    def __init__(self, venue: str, detail: str) -> None:
        super().__init__(f"The markets of {venue} could not be loaded ({detail}); try again shortly.")
        self.venue = venue


@dataclass(frozen=True)
class MarketSummary:
    """What a symbol picker shows of a market: its rules for prices and amounts, fees and open-order cap. A rule
    the exchange does not state in a form AresBot reads (significant-digit precision) is None."""

    symbol: str
    base: str
    quote: str
    tick_size: Decimal | None
    step_size: Decimal | None
    min_amount: Decimal | None
    min_notional: Decimal | None
    maker_fee: Decimal | None
    taker_fee: Decimal | None
    max_open_orders: int  # 0: none stated

    @classmethod
    def of(cls, rules: MarketRules) -> MarketSummary:
        return cls(
            rules.symbol,
            rules.base,
            rules.quote,
            rules.tick_size,
            rules.step_size,
            rules.min_amount,
            rules.min_notional,
            rules.maker_fee,
            rules.taker_fee,
            rules.max_open_orders,
        )

    def stored(self) -> dict[str, Any]:
        return {k: (plain_number(v) if isinstance(v, Decimal) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_stored(cls, raw: Mapping[str, Any]) -> MarketSummary:
        def number(key: str) -> Decimal | None:
            return None if raw.get(key) is None else Decimal(raw[key])

        return cls(
            str(raw["symbol"]),
            str(raw["base"]),
            str(raw["quote"]),
            number("tick_size"),
            number("step_size"),
            number("min_amount"),
            number("min_notional"),
            number("maker_fee"),
            number("taker_fee"),
            int(raw.get("max_open_orders") or 0),
        )


@dataclass(frozen=True)
class MarketList:
    venue: str  # "binance", "binance testnet", "data set BTCUSDT-1m-2022-05-05"
    symbols: frozenset[str]
    # symbol → the most open orders an account may have on it (Binance MAX_NUM_ORDERS); absent: none stated
    open_order_caps: Mapping[str, int] = field(default_factory=dict, compare=False)
    summaries: Mapping[str, MarketSummary] = field(default_factory=dict, compare=False)

    def open_order_cap(self, symbol: str) -> int:
        return self.open_order_caps.get(symbol, 0)

    def refusal(self, symbol: str) -> str | None:
        """Why `symbol` cannot be traded here (a message for the person who typed it), None when it can."""
        if symbol in self.symbols:
            return None
        if self.venue.startswith("data set"):
            listed = ", ".join(sorted(self.symbols))
            return f"Symbol {symbol} is not in {self.venue}, the account's price source: it has {listed}."
        close = difflib.get_close_matches(symbol, sorted(self.symbols), n=3, cutoff=0.75)
        hint = f" Did you mean {' or '.join(close)}?" if close else ""
        return f"Symbol {symbol} is not a market on {self.venue}.{hint}"


def markets_for(exchange_id: str, *, testnet: bool = False, prices: PriceSource | None = None) -> MarketList:
    """The markets of an account on `exchange_id`; `prices` is a paper account's price source."""
    if exchange_id != registry.PAPER:
        return exchange_markets(exchange_id, testnet=testnet)
    prices = prices or PriceSource()
    if prices.kind == PriceSourceKind.REPLAY:
        dataset = DATASETS.get(prices.dataset)
        if dataset is None:
            raise MarketsUnavailable(f"data set {prices.dataset}", "AresBot ships no data set of that name")
        # A replay trades by the rules shipped with AresBot (see trading.runtime.factory.paper_exchange_for).
        shipped = binance_spot_markets()
        caps = {s: shipped[s].max_open_orders for s in dataset.symbols if s in shipped}
        summaries = {s: MarketSummary.of(shipped[s]) for s in dataset.symbols if s in shipped}
        return MarketList(f"data set {dataset.name}", dataset.symbols, caps, summaries)
    return exchange_markets(prices.exchange)


def known_markets_for(
    exchange_id: str, *, testnet: bool = False, prices: PriceSource | None = None
) -> MarketList | None:
    """`markets_for` as far as it is known without asking the exchange (remembered, cached, shipped); else None."""
    if exchange_id == registry.PAPER and (prices or PriceSource()).kind == PriceSourceKind.REPLAY:
        try:
            return markets_for(exchange_id, prices=prices)
        except MarketsUnavailable:
            return None
    if exchange_id == registry.PAPER:
        exchange_id, testnet = (prices or PriceSource()).exchange, False
    venue = f"{exchange_id} testnet" if testnet else exchange_id
    memo = _remembered.get()
    found = memo.get(venue) if memo is not None else None
    if isinstance(found, MarketList):
        return found
    return _cached(exchange_id, testnet, venue)


# --- loading, cached ---------------------------------------------------------------------------------------------
_remembered: ContextVar[dict[str, MarketList | MarketsUnavailable] | None] = ContextVar("markets", default=None)


@contextmanager
def remembered() -> Iterator[None]:
    """Within the block every list is loaded once and its outcome remembered, failures too: load before a
    transaction opens, and the validation inside it reads the outcome instead of going to the network."""
    token = _remembered.set({})
    try:
        yield
    finally:
        _remembered.reset(token)


def exchange_markets(exchange_id: str, *, testnet: bool = False) -> MarketList:
    venue = f"{exchange_id} testnet" if testnet else exchange_id
    memo = _remembered.get()
    if memo is not None and venue in memo:
        found = memo[venue]
        if isinstance(found, MarketsUnavailable):
            raise found
        return found
    try:
        markets = _cached(exchange_id, testnet, venue) or _load(exchange_id, testnet, venue)
    except MarketsUnavailable as exc:
        if memo is not None:
            memo[venue] = exc
        raise
    if memo is not None:
        memo[venue] = markets
    return markets


def _cache_key(exchange_id: str, testnet: bool) -> str:
    return MARKETS_KEY.format(venue=f"{exchange_id}:testnet" if testnet else exchange_id)


def _cached(exchange_id: str, testnet: bool, venue: str) -> MarketList | None:
    try:
        raw = get_redis().get(_cache_key(exchange_id, testnet))
    except redis.RedisError as exc:
        logger.warning("markets cache unreadable, loading %s directly: %s", venue, exc)
        return None
    if not isinstance(raw, str):
        return None
    stored = json.loads(raw)
    if not isinstance(stored, dict) or stored.get("format") != CACHE_FORMAT:
        return None  # written by an earlier version, without the markets' rules: load them again
    return _market_list(venue, [MarketSummary.from_stored(m) for m in stored["markets"]])


def _market_list(venue: str, summaries: list[MarketSummary]) -> MarketList:
    by_symbol = {m.symbol: m for m in summaries}
    caps = {m.symbol: m.max_open_orders for m in summaries if m.max_open_orders}
    return MarketList(venue, frozenset(by_symbol), caps, by_symbol)


def in_transaction() -> bool:
    """Whether a database transaction is open here (then no exchange may be asked: see the module docstring)."""
    # The blocks a test case wraps each test in stand for the autocommit a request runs in: they do not count.
    return any(not getattr(block, "_from_testcase", False) for block in transaction.get_connection().atomic_blocks)


def answering_exchange(exchange_id: str, *, testnet: bool = False) -> CcxtExchange:
    """An unsigned CCXT adapter for a person waiting on the answer: under the shared rate limiter, which it waits
    for at most LOAD_MAX_WAIT, and one attempt per request (their errors are for the caller to report)."""
    # Imported here: CCXT costs ~0.4 s to import, and most processes never ask an exchange anything.
    from exchanges.backoff import Backoff
    from exchanges.ccxt.ratelimit import SharedRateLimiter
    from trading.runtime.factory import public_exchange

    limiter = SharedRateLimiter(get_redis(), max_wait=LOAD_MAX_WAIT)
    return public_exchange(exchange_id, testnet=testnet, limiter=limiter, backoff=Backoff(attempts=1))


def _load(exchange_id: str, testnet: bool, venue: str) -> MarketList:
    if in_transaction():
        # Waiting on an exchange here would hold every lock the transaction took (issue: a locked SQLite file).
        raise MarketsUnavailable(venue, "they must be loaded before a database transaction opens")
    try:
        exchange = answering_exchange(exchange_id, testnet=testnet)
        exchange.load_markets()
        markets: dict[str, Any] = exchange.client.markets or {}
    except (ExchangeError, redis.RedisError) as exc:
        raise MarketsUnavailable(venue, str(exc) or type(exc).__name__) from exc
    summaries = [
        _summary(market, exchange.client.precisionMode)
        for _, market in sorted(markets.items())
        if market.get("spot", True) is not False and market.get("active") is not False
    ]
    if not summaries:
        raise MarketsUnavailable(venue, "the exchange listed no spot market")
    stored = {"format": CACHE_FORMAT, "markets": [m.stored() for m in summaries]}
    try:
        get_redis().set(_cache_key(exchange_id, testnet), json.dumps(stored), ex=MARKETS_CACHE_SECONDS)
    except redis.RedisError as exc:
        logger.warning("markets of %s not cached: %s", venue, exc)
    return _market_list(venue, summaries)


def _summary(market: Mapping[str, Any], precision_mode: int) -> MarketSummary:
    from exchanges.ccxt.orders import market_rules_from_ccxt, open_order_cap

    try:
        return MarketSummary.of(market_rules_from_ccxt(market, precision_mode))
    except ExchangeError:
        # A market whose rules AresBot cannot read is still a market: listed, and its symbol accepted.
        symbol, base, quote = str(market["symbol"]), str(market.get("base", "")), str(market.get("quote", ""))
        return MarketSummary(symbol, base, quote, None, None, None, None, None, None, open_order_cap(market))
