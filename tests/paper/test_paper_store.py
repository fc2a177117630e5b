"""The paper book in the database: shared by processes, continued after a restart, one operation at a time."""

import threading
from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.db import connection

from exchanges.base import InsufficientFunds, OrderRequest, OrderStatus, OrderType, Side
from exchanges.clock import ManualClock
from exchanges.models import PaperBookRecord, PaperOrderRecord
from exchanges.paper.exchange import PaperExchange
from exchanges.paper.feeds import ManualFeed, RandomWalkFeed
from exchanges.paper.store import DbPaperStore

SYMBOL = "BTC/USDT"


def buy(cid, price="29700.00", amount="0.001"):
    return OrderRequest(cid, SYMBOL, Side.BUY, OrderType.LIMIT, D(amount), D(price))


@pytest.mark.django_db
def test_a_new_process_continues_from_the_same_book_and_books_fills_made_meanwhile():
    clock = ManualClock()
    feed = ManualFeed(clock, "30000")
    first = PaperExchange(DbPaperStore("account:1", {"USDT": "1000"}), feeds={SYMBOL: feed}, clock=clock)
    first.place_order(buy("c1"))
    for price in ("29500", "30100"):  # the price dips through the buy while no process runs
        clock.advance(30)
        feed.set(price)
    second = PaperExchange(DbPaperStore("account:1", {"USDT": "999999"}), feeds={SYMBOL: feed}, clock=clock)
    state = second.fetch_order(SYMBOL, client_order_id="c1")
    assert (state.status, state.average_price, state.trades[0].timestamp) == (
        OrderStatus.FILLED,
        D("29700.00"),
        clock.now() - timedelta(seconds=30),
    )
    balances = second.fetch_balance()
    assert balances["BTC"].free == D("0.001")
    assert balances["USDT"].total == D("1000") - D("29.7") - D("0.0297")  # the first balances, not the second's
    row = PaperBookRecord.objects.get(key="account:1")
    assert row.balances["BTC"] == {"free": "0.001", "locked": "0"}
    assert PaperOrderRecord.objects.get(client_order_id="c1").status == "filled"


@pytest.mark.django_db
def test_two_strategies_on_one_paper_account_share_its_balance():
    clock = ManualClock()
    feed = ManualFeed(clock, "30000")
    a = PaperExchange(DbPaperStore("account:2", {"USDT": "40"}), feeds={SYMBOL: feed}, clock=clock)
    b = PaperExchange(DbPaperStore("account:2"), feeds={SYMBOL: feed}, clock=clock)
    a.place_order(buy("a1"))
    with pytest.raises(InsufficientFunds):
        b.place_order(buy("b1"))
    b.cancel_order(SYMBOL, "a1")
    b.place_order(buy("b1"))
    assert a.fetch_balance()["USDT"].locked == D("29.72970000")


@pytest.mark.mysql
@pytest.mark.django_db(transaction=True)
def test_concurrent_orders_from_two_workers_never_overspend():
    if connection.vendor == "sqlite":
        # The test database is SQLite in memory with a shared cache, where a second writer fails at once
        # ("table is locked") instead of waiting; the row lock this test is about needs MySQL/MariaDB.
        pytest.skip("needs MySQL/MariaDB")
    clock = ManualClock()
    feed = RandomWalkFeed(start_price=D("30000"), start=clock.now(), tick=D("0.01"), volatility_pct=D(0))
    DbPaperStore("account:3", {"USDT": "400"})  # 400 / 29.7297 per order: room for 13
    accepted: list[str] = []
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        exchange = PaperExchange(DbPaperStore("account:3"), feeds={SYMBOL: feed}, clock=clock)
        try:
            for i in range(10):
                try:
                    exchange.place_order(buy(f"{name}{i}"))
                    accepted.append(f"{name}{i}")
                except InsufficientFunds:
                    pass
        except BaseException as exc:  # surfaced below: a thread's failure must fail the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(accepted) == 13
    row = PaperBookRecord.objects.get(key="account:3")
    assert D(row.balances["USDT"]["locked"]) == 13 * D("29.72970000")
    assert D(row.balances["USDT"]["free"]) + D(row.balances["USDT"]["locked"]) == D("400")
    assert PaperOrderRecord.objects.filter(book=row).count() == 13
