"""The Exchange for an account: CCXT for real exchanges, the paper exchange (on its database book) for paper
accounts. The Django side of the exchanges package: it reads settings and Redis, and is handed the account as an
AccountSpec whose credentials are already revealed (ExchangeAccount.exchange_spec()).

In an engine host, the prices of CCXT exchanges (and of the live feeds of paper accounts) are shared by its engines
within a round (trading/runtime/prices.py).

Outbound IP: Binance limits request weight per IP. `settings.EXCHANGE_OUTBOUND_IP` names the address this worker's
requests leave from; unset, every worker sharing the Redis counts against one bucket, "shared" — the safe
assumption (nodes behind one NAT do share an IP; nodes that do not merely get less than they could).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import Any

from django.conf import settings

from aresbot.redis import get_redis
from exchanges.backoff import Backoff
from exchanges.base import Exchange, ExchangeError, MarketRules
from exchanges.ccxt.client import make_client
from exchanges.ccxt.exchange import CcxtExchange
from exchanges.ccxt.feed import LiveTickerFeed
from exchanges.ccxt.limits import plan_for
from exchanges.ccxt.ratelimit import SharedRateLimiter
from exchanges.clock import Clock, SystemClock
from exchanges.markets import binance_spot_markets
from exchanges.paper.exchange import PaperExchange
from exchanges.paper.feeds import PriceFeed, feed_from_spec
from exchanges.paper.sources import PriceSource
from exchanges.paper.store import DbPaperStore, book_key
from trading.runtime.prices import shared
from trading.runtime.spec import AccountSpec

PUBLIC = "public"  # the account label of unsigned market-data clients (their limits are per IP anyway)


def outbound_ip() -> str:
    return str(getattr(settings, "EXCHANGE_OUTBOUND_IP", "") or "shared")


@cache
def shared_limiter() -> SharedRateLimiter:
    return SharedRateLimiter(get_redis())


def ccxt_exchange_for(
    account: AccountSpec,
    *,
    limiter: SharedRateLimiter | None = None,
    backoff: Backoff | None = None,
) -> CcxtExchange:
    """The CCXT adapter of a real (non-paper) account, rate limited through Redis per account and IP."""
    if account.is_paper:
        raise ValueError(f"account {account.name!r} is a paper account")
    limiter = limiter or shared_limiter()
    client = make_client(
        account.exchange,
        api_key=account.api_key,
        secret=account.secret,
        password=account.passphrase,
        testnet=account.testnet,
        limiter=limiter,
    )
    client.aresbot_plan = plan_for(
        account.exchange,
        testnet=account.testnet,
        account=str(account.pk),
        ip=outbound_ip(),
        rate_limit_ms=float(client.rateLimit),
    )
    return shared(CcxtExchange(client, testnet=account.testnet, backoff=backoff))


def public_exchange(
    exchange_id: str,
    *,
    testnet: bool = False,
    limiter: SharedRateLimiter | None = None,
    backoff: Backoff | None = None,
) -> CcxtExchange:
    """An unsigned adapter for market data (prices, markets), sharing the IP's rate limits."""
    limiter = limiter or shared_limiter()
    client = make_client(exchange_id, testnet=testnet, limiter=limiter)
    client.aresbot_plan = plan_for(
        exchange_id, testnet=testnet, account=PUBLIC, ip=outbound_ip(), rate_limit_ms=float(client.rateLimit)
    )
    return shared(CcxtExchange(client, testnet=testnet, backoff=backoff))


def paper_feed(spec: Mapping[str, Any]) -> PriceFeed:
    """A feed from its stored spec; a live ticker goes through the CCXT adapter (shared limits, retries)."""
    if spec.get("kind") == "ticker":
        exchange = public_exchange(str(spec.get("exchange", "binance")))
        return LiveTickerFeed(exchange, str(spec["symbol"]), min_interval=float(spec.get("min_interval", 1)))
    return feed_from_spec(spec)


def price_feed_spec(account: AccountSpec, symbol: str, now: datetime) -> dict[str, Any]:
    """The feed a paper account's book stores for `symbol` when it first trades it, from the account's price
    source: the live ticker of its exchange, or its data set replayed from `now` on."""
    return (account.prices or PriceSource()).feed_spec(symbol, now)


def paper_exchange_for(
    account: AccountSpec, *, clock: Clock, feed_specs: Mapping[str, Mapping[str, Any]]
) -> PaperExchange:
    """The paper exchange on the account's database book. A symbol whose feed follows a live exchange trades by
    that exchange's current rules when they can be loaded (else the rules shipped with AresBot)."""
    store = DbPaperStore(book_key(account.pk), account.paper_balances)
    feeds: dict[str, PriceFeed] = {}
    markets = dict(binance_spot_markets())
    for symbol, wanted in feed_specs.items():
        spec = store.ensure_feed_spec(symbol, wanted)
        feed = feeds[symbol] = paper_feed(spec)
        if isinstance(feed, LiveTickerFeed):
            markets[symbol] = followed_market_rules(feed.exchange, symbol)
    return PaperExchange(store, feeds=feeds, clock=clock, markets=markets)


def followed_market_rules(exchange: CcxtExchange, symbol: str) -> MarketRules:
    """The rules a paper book trades `symbol` by when its prices follow `exchange`: the exchange's current ones,
    or when they cannot be loaded the ones shipped with AresBot (ExchangeError when it has none for it)."""
    try:
        return exchange.market(symbol)
    except ExchangeError:
        shipped = binance_spot_markets().get(symbol)
        if shipped is None:
            raise
        return shipped


def build_exchange(
    account: AccountSpec,
    *,
    clock: Clock | None = None,
    feed_specs: Mapping[str, Mapping[str, Any]] | None = None,
) -> Exchange:
    """The Exchange an engine trading on `account` talks to. `feed_specs` (symbol → feed spec, see
    exchanges.paper.feeds.feed_from_spec) is for paper accounts: where their prices come from, usually
    `price_feed_spec` of the account's price source."""
    if account.is_paper:
        return paper_exchange_for(account, clock=clock or SystemClock(), feed_specs=feed_specs or {})
    return ccxt_exchange_for(account)
