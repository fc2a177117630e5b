"""The fence: an engine whose lease another job took sends nothing more, counted where it would arrive (the book).

The runner's pulse also notices a lost lease, but only every poll; between two polls the fence (a renew before
every order and cancel) is all that stands between a job that lost its strategy and a second engine trading the
same account. These tests give the pulse a 30 s poll, so the fence alone has to hold.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import pytest
import redis

from exchanges.base import ExchangeError, OrderRequest, OrderState, OrderType, Side
from tests.processes import wait_until
from tests.runtime.threaded import RunnerThread, book_orders, by_hand, lock_holder, still_strategy
from trading.models import Order
from trading.runtime import coordination as co
from trading.runtime.runner import FencedExchange, LeaseLost, StrategyRunner

pytestmark = pytest.mark.django_db(transaction=True)


def fenced_runner(strategy, client: redis.Redis) -> StrategyRunner:
    # A 60 s lease renewed by the pulse every 30 s: within the test, only the fence can find the lease gone.
    return StrategyRunner(strategy.pk, "job-old", client=client, lock_ttl=60, poll_interval=30)


def test_an_engine_whose_lease_was_taken_places_no_order(alice, redis_client, caplog):
    strategy = still_strategy(alice)
    with RunnerThread(fenced_runner(strategy, redis_client)) as run:
        wait_until(lambda: book_orders(strategy, status="open").count() == 3, 20, "the ladder on the book")
        redis_client.set(co.LOCK_KEY.format(id=strategy.pk), "job-new")
        # The owner cancels a buy by hand: the engine wants that level back, so it will try to place an order.
        nearest = book_orders(strategy, status="open").order_by("-price").first()
        assert nearest is not None
        by_hand(strategy).cancel_order("BTC/USDT", nearest.client_order_id)
        wait_until(lambda: run.ended() or book_orders(strategy).count() > 3, 20, "the engine to stop or send")
        assert book_orders(strategy).count() == 3  # nothing placed after the lease was taken
        # It did try: the order was journaled (write-ahead) and never sent.
        assert Order.objects.filter(strategy=strategy, status="pending", side="buy").count() == 1
        assert "lease" in run.result()
    assert "lease expired or taken by another job" in caplog.text  # the job's log says why it stopped
    assert lock_holder(redis_client, strategy) == "job-new"


def test_an_engine_whose_lease_was_taken_cancels_nothing_when_stopped(alice, redis_client):
    strategy = still_strategy(alice)
    with RunnerThread(fenced_runner(strategy, redis_client)) as run:
        wait_until(lambda: book_orders(strategy, status="open").count() == 3, 20, "the ladder on the book")
        redis_client.set(co.LOCK_KEY.format(id=strategy.pk), "job-new")
        co.raise_stop(redis_client, strategy.pk, ttl_seconds=60)  # a stop cancels the buys, if the lease allows
        wait_until(run.ended, 20, "the engine to end")
        # The buys now belong to the new holder: the old job canceled none of them.
        assert book_orders(strategy, status="open").count() == 3
        assert not book_orders(strategy, status="canceled").exists()
        assert "lease" in run.result()
    assert lock_holder(redis_client, strategy) == "job-new"


class _Recorder:
    """An inner exchange that records what reaches it, and answers with a marker."""

    def __init__(self) -> None:
        self.sent: list[tuple[object, ...]] = []

    def place_order(self, request: OrderRequest) -> OrderState:
        self.sent.append(("place", request))
        return "placed"  # type: ignore[return-value]

    def place_orders(self, requests: Sequence[OrderRequest]) -> list[OrderState | ExchangeError]:
        self.sent.append(("place many", *requests))
        return ["placed many"]  # type: ignore[list-item]

    def cancel_order(self, symbol: str, client_order_id: str) -> OrderState:
        self.sent.append(("cancel", symbol, client_order_id))
        return "canceled"  # type: ignore[return-value]

    def fetch_price(self, symbol: str) -> Decimal:
        return Decimal(30000)


def test_every_kind_of_send_passes_the_fence_first_and_reads_do_not():
    inner = _Recorder()
    checks: list[str] = []

    def fence() -> None:
        checks.append("renew")
        raise LeaseLost("taken by another job")

    exchange = FencedExchange(inner, fence)  # type: ignore[arg-type]
    request = OrderRequest("ab1-1", "BTC/USDT", Side.BUY, OrderType.LIMIT, Decimal("0.001"), Decimal(29000))
    with pytest.raises(LeaseLost):
        exchange.place_order(request)
    with pytest.raises(LeaseLost):
        exchange.place_orders([request])
    with pytest.raises(LeaseLost):
        exchange.cancel_order("BTC/USDT", "ab1-1")
    assert inner.sent == []
    assert checks == ["renew"] * 3
    assert exchange.fetch_price("BTC/USDT") == Decimal(30000)  # reads need no lease
    assert checks == ["renew"] * 3


def test_through_an_open_fence_every_send_reaches_the_exchange_as_it_was_made():
    inner = _Recorder()
    checks: list[str] = []
    exchange = FencedExchange(inner, lambda: checks.append("renew"))  # type: ignore[arg-type]
    request = OrderRequest("ab1-1", "BTC/USDT", Side.BUY, OrderType.LIMIT, Decimal("0.001"), Decimal(29000))
    assert exchange.place_order(request) == "placed"
    assert exchange.place_orders([request]) == ["placed many"]
    assert exchange.cancel_order("BTC/USDT", "ab1-1") == "canceled"
    assert inner.sent == [("place", request), ("place many", request), ("cancel", "BTC/USDT", "ab1-1")]
    assert checks == ["renew"] * 3
