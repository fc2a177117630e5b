"""Building the Exchange of an account: CCXT with shared limits for real exchanges, testnet from the account's
flag, markets once per process; paper accounts follow a real exchange's live prices while fills stay simulated."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from accounts.models import ExchangeAccount
from exchanges.base import OrderRequest, OrderStatus, OrderType, Side
from exchanges.ccxt.client import ensure_markets, make_client
from exchanges.ccxt.exchange import CcxtExchange
from exchanges.ccxt.feed import LiveTickerFeed
from exchanges.clock import ManualClock
from exchanges.models import PaperBookRecord
from exchanges.paper.exchange import PaperExchange
from tests.ccxt.fake_binance import API_KEY, API_SECRET, Reply
from tests.factories import make_account, make_paper_account
from trading.runtime.factory import build_exchange
from trading.runtime.spec import AccountSpec


@pytest.fixture
def new_binance_account(alice, transport, scope, settings):
    """Alice's Binance account, its limiter keys under this test's outbound-IP label (`scope`)."""
    settings.EXCHANGE_OUTBOUND_IP = scope

    def make(**fields) -> ExchangeAccount:
        return make_account(alice, "binance", "binance", api_key=API_KEY, api_secret=API_SECRET, **fields)

    return make


def test_a_binance_account_gets_the_ccxt_adapter_with_its_keys_and_shared_limits(
    new_binance_account, transport, scope, redis_client
):
    account = new_binance_account()
    exchange = build_exchange(account.exchange_spec())
    assert isinstance(exchange, CcxtExchange)
    assert exchange.fetch_balance()["USDT"].free == D("10000")
    assert transport.sent("GET", "/api/v3/account")[0].host == "api.binance.com"
    assert int(redis_client.get(f"ratelimit:binance:ip:{scope}:sum")) == 20 + 20  # exchangeInfo + account
    assert redis_client.exists(f"ratelimit:binance:{account.pk}:orders:10s") == 0
    exchange.place_order(OrderRequest("ab1-1", "BTC/USDT", Side.BUY, OrderType.LIMIT, D("0.001"), D("29000")))
    assert int(redis_client.get(f"ratelimit:binance:{account.pk}:orders:10s:sum")) == 1


def test_a_testnet_account_talks_to_the_testnet(new_binance_account, transport, scope, redis_client):
    account = new_binance_account(testnet=True)
    build_exchange(account.exchange_spec()).fetch_balance()
    assert {r.host for r in transport.requests} == {"testnet.binance.vision"}
    assert redis_client.exists(f"ratelimit:binance-testnet:ip:{scope}:sum") == 1


def test_markets_load_once_per_process_and_refresh_on_schedule(transport):
    first = CcxtExchange(make_client("binance"))
    second = CcxtExchange(make_client("binance"))
    first.market("BTC/USDT")
    second.market("ETH/BTC")
    assert len(transport.sent("GET", "/api/v3/exchangeInfo")) == 1
    client = make_client("binance")
    ensure_markets(client, testnet=False, ttl=3600, monotonic=lambda: 1e12)  # an hour and more later
    assert len(transport.sent("GET", "/api/v3/exchangeInfo")) == 2


def test_a_failed_market_refresh_keeps_the_markets_already_loaded(transport):
    CcxtExchange(make_client("binance")).market("BTC/USDT")
    transport.script("GET", "/api/v3/exchangeInfo", Reply(503, {"code": -1001, "msg": "Internal error"}))
    client = make_client("binance")
    ensure_markets(client, testnet=False, ttl=0)
    assert "BTC/USDT" in client.markets


def test_refreshed_markets_bring_new_rules(transport):
    exchange = CcxtExchange(make_client("binance"), markets_ttl=0)
    assert exchange.market("BTC/USDT").tick_size == D("0.01")
    btc = next(s for s in transport.exchange_info["symbols"] if s["symbol"] == "BTCUSDT")
    btc["filters"][0] = {**btc["filters"][0], "tickSize": "0.10000000"}
    assert exchange.market("BTC/USDT").tick_size == D("0.1")


@pytest.mark.django_db
def test_a_paper_account_follows_live_binance_prices_while_fills_stay_simulated(alice, transport, scope, settings):
    settings.EXCHANGE_OUTBOUND_IP = scope
    account = make_paper_account(alice)
    clock = ManualClock(datetime(2022, 5, 5, tzinfo=UTC))
    spec = {"kind": "ticker", "exchange": "binance", "symbol": "BTC/USDT"}
    exchange = build_exchange(account.exchange_spec(), clock=clock, feed_specs={"BTC/USDT": spec})
    assert isinstance(exchange, PaperExchange)
    assert isinstance(exchange.feeds["BTC/USDT"], LiveTickerFeed)
    assert exchange.fetch_price("BTC/USDT") == D("30000")
    exchange.place_order(OrderRequest("ab1-1", "BTC/USDT", Side.BUY, OrderType.LIMIT, D("0.001"), D("29000")))
    transport.prices["BTCUSDT"] = D("28900")
    clock.advance(2)
    state = exchange.fetch_order("BTC/USDT", client_order_id="ab1-1")
    assert state.status is OrderStatus.FILLED
    assert transport.sent("POST", "/api/v3/order") == []  # the live exchange saw price reads only
    assert {r.api_key for r in transport.requests} == {None}


@pytest.mark.django_db
def test_the_first_process_to_trade_a_symbol_decides_the_paper_books_feed():
    """So every later process, and the engine after a failover, sees the same prices."""
    account = AccountSpec(pk=5, name="paper", exchange="paper", paper_balances={"USDT": "100"})
    clock = ManualClock()
    walk = {"kind": "random_walk", "start_price": "30000", "start": clock.now().isoformat(), "tick": "0.01", "seed": 1}
    first = build_exchange(account, clock=clock, feed_specs={"BTC/USDT": walk})
    second = build_exchange(account, clock=clock, feed_specs={"BTC/USDT": {**walk, "seed": 2}})
    clock.advance(600)
    assert first.fetch_price("BTC/USDT") == second.fetch_price("BTC/USDT")
    assert PaperBookRecord.objects.get(key="account:5").feeds["BTC/USDT"]["seed"] == 1


def test_an_account_spec_never_shows_its_credentials():
    account = AccountSpec(pk=1, name="main", exchange="binance", api_key="key-123", secret="secret-456")
    for text in (repr(account), str(account), f"{account}"):
        assert "key-123" not in text and "secret-456" not in text
        assert "api_key='***'" in text and "passphrase=''" in text
