"""A paper strategy whose price source hangs holds up nothing but itself.

Its live ticker is a real HTTP request to a server on the loopback interface that accepts it and does not answer.
The paper exchange reads prices before it locks the account's book, so while that request hangs the API lists and
stops the strategy, a strategy on another paper account trades, and a second strategy on the same paper account
(the same book) trades too: on SQLite nothing holds the database's write lock, on MariaDB nothing holds the book's
row. Real runners (lease, pulse, fence) in threads, the real database and Redis, real sockets.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from rest_framework.test import APIClient

from exchanges.ccxt.client import forget_markets, use_transport
from exchanges.models import PaperBookRecord
from exchanges.paper.store import DbPaperStore, book_key
from strategies.choices import DesiredState
from strategies.models import Strategy
from tests.ccxt.binance_server import FakeBinanceServer
from tests.ccxt.fake_binance import FakeBinance
from tests.factories import make_paper_account, make_strategy
from tests.processes import wait_until
from tests.runtime.threaded import RunnerThread, still_feed, still_strategy
from trading.runtime.runner import StrategyRunner

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TICKER = ("GET", "/api/v3/ticker/24hr")


@pytest.fixture
def hanging_binance(settings: Any) -> Iterator[FakeBinanceServer]:
    """Binance on loopback: markets load, every ticker request hangs until release()."""
    settings.EXCHANGE_OUTBOUND_IP = "test-hang"
    server = FakeBinanceServer(FakeBinance(), hold=[TICKER]).start()
    forget_markets()
    with use_transport(lambda exchange_id, testnet: server.adapter()):
        yield server
    server.stop()
    forget_markets()


def running(strategy: Strategy) -> Strategy:
    Strategy.objects.filter(pk=strategy.pk).update(desired_state=DesiredState.RUNNING)
    strategy.refresh_from_db()
    return strategy


def matched_since(strategy: Strategy, since: datetime) -> bool:
    """Has an engine locked, matched and written the strategy's paper book for its symbol after `since`?"""
    done = PaperBookRecord.objects.get(key=book_key(strategy.account_id)).matched_until.get(strategy.symbol)
    return done is not None and datetime.fromisoformat(done) > since


def test_a_hanging_price_source_holds_up_neither_the_api_nor_other_strategies(
    alice: User, alice_client: APIClient, redis_client: Any, hanging_binance: FakeBinanceServer
) -> None:
    live = make_paper_account(alice, "live prices")
    store = DbPaperStore(book_key(live.pk), live.paper_balances)
    store.ensure_feed_spec("BTC/USDT", {"kind": "ticker", "exchange": "binance", "symbol": "BTC/USDT"})
    store.ensure_feed_spec("ETH/USDT", {**still_feed(), "start_price": "2000"})
    settings = {"grid_levels": 3, "loop_interval": Decimal("0.5")}
    hung = running(make_strategy(alice, live, "hung", **settings))
    same_book = running(make_strategy(alice, live, "same book", symbol="ETH/USDT", **settings))
    other_account = still_strategy(alice, name="other account")

    def runner(strategy: Strategy) -> StrategyRunner:
        return StrategyRunner(strategy.pk, f"job-{strategy.pk}", client=redis_client)

    with (
        RunnerThread(runner(hung)) as hung_run,
        RunnerThread(runner(same_book)),
        RunnerThread(runner(other_account)),
    ):
        wait_until(lambda: hanging_binance.held, 30, "the hung strategy's ticker request to reach the server")
        since = datetime.now(UTC)
        answers: dict[str, Any] = {}

        def use_the_api() -> None:
            try:
                answers["running"] = alice_client.get("/api/strategies/running")
                answers["stop"] = alice_client.post(f"/api/strategies/{hung.pk}/stop")
            finally:
                connection.close()

        threading.Thread(target=use_the_api, daemon=True).start()
        wait_until(lambda: "stop" in answers, 2, "the API to list and stop the strategy whose price source hangs")
        assert answers["running"].status_code == 200
        assert hung.pk in [row["id"] for row in answers["running"].json()]
        assert answers["stop"].status_code == 200
        assert Strategy.objects.get(pk=hung.pk).desired_state == DesiredState.STOPPED
        wait_until(
            lambda: matched_since(other_account, since) and matched_since(same_book, since),
            10,
            "the strategies on another paper account and on the same book to trade",
        )
        assert hanging_binance.held == 1  # all of the above happened while the request hung
        hanging_binance.release()
        assert hung_run.result() == "stopped"  # the engine stops once its price source answers
