"""Each process's copy of a paper book: quiet reads answered from it take no lock and write nothing, while every
change still takes the book's row lock and is committed before the exchange answers; a copy another process has
changed, or a failed session has touched, is never served."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from decimal import Decimal as D
from typing import Any, TypeVar

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext

from exchanges.base import OrderRequest, OrderStatus, OrderType, Side
from exchanges.clock import ManualClock
from exchanges.models import PaperBookRecord, PaperOrderRecord
from exchanges.paper.exchange import PaperExchange
from exchanges.paper.feeds import ManualFeed
from exchanges.paper.store import DbPaperStore
from tests.processes import Console
from tests.runtime.cluster import ROOT, worker_env

pytestmark = pytest.mark.django_db(transaction=True)  # the copy is kept only when a session really commits

SYMBOL = "BTC/USDT"
KEY = "account:7"
T = TypeVar("T")


def buy(cid: str, price: str = "29700.00") -> OrderRequest:
    return OrderRequest(cid, SYMBOL, Side.BUY, OrderType.LIMIT, D("0.001"), D(price))


def needs_mariadb() -> None:
    if connection.vendor == "sqlite":
        pytest.skip("needs MySQL/MariaDB: row locks, and other connections that wait on them")


def in_thread(action: Callable[[], T], timeout: float) -> T:
    """`action` on a connection of its own (another database session); TimeoutError when it has not ended."""
    result: list[Any] = []

    def run() -> None:
        try:
            with connection.cursor() as cursor:  # a read stuck behind the lock fails in seconds, not 50
                cursor.execute("SET SESSION innodb_lock_wait_timeout = 5")
            result.append(action())
        except BaseException as exc:
            result.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError(f"still waiting after {timeout:g} s")
    if isinstance(result[0], BaseException):
        raise result[0]
    return result[0]


class HeldLock:
    """Another session holding the book's row lock (SELECT … FOR UPDATE) until released."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.locked = threading.Event()
        self.release = threading.Event()
        self.thread = threading.Thread(target=self._hold, daemon=True)

    def _hold(self) -> None:
        try:
            with transaction.atomic():
                PaperBookRecord.objects.select_for_update().get(key=self.key)
                self.locked.set()
                self.release.wait(30)
        finally:
            connection.close()

    def __enter__(self) -> HeldLock:
        self.thread.start()
        assert self.locked.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.thread.join(10)


def test_quiet_reads_take_no_lock_and_write_nothing_while_an_order_waits_for_the_lock() -> None:
    needs_mariadb()
    clock = ManualClock()
    feed = ManualFeed(clock, "30000")
    exchange = PaperExchange(DbPaperStore(KEY, {"USDT": "1000"}), feeds={SYMBOL: feed}, clock=clock)
    exchange.place_order(buy("c1"))
    before = PaperBookRecord.objects.values("version", "updated_at", "matched_until").get(key=KEY)

    def quiet_tick() -> list[str]:
        clock.advance(1)
        with CaptureQueriesContext(connection) as queries:
            assert exchange.fetch_price(SYMBOL) == D("30000")
            assert [s.client_order_id for s in exchange.fetch_open_orders(SYMBOL)] == ["c1"]
            assert exchange.fetch_balance()["USDT"].locked == D("29.72970000")
        return [q["sql"] for q in queries.captured_queries]

    with HeldLock(KEY) as held:
        for _ in range(3):
            statements = in_thread(quiet_tick, timeout=4)
            assert statements and all(s.startswith("SELECT") and "FOR UPDATE" not in s for s in statements)
        placing = threading.Thread(target=lambda: in_thread(lambda: exchange.place_order(buy("c2")), timeout=20))
        placing.start()
        placing.join(1)
        assert placing.is_alive()  # an order waits for the book's lock
        assert not PaperOrderRecord.objects.filter(client_order_id="c2").exists()
        held.release.set()
        placing.join(20)
    assert PaperOrderRecord.objects.get(client_order_id="c2").status == "open"
    after = PaperBookRecord.objects.values("version", "updated_at", "matched_until").get(key=KEY)
    assert after["version"] == before["version"] + 1  # c2's write only: the quiet reads wrote nothing


def test_matching_progress_of_quiet_reads_is_written_down_now_and_then_without_a_new_version() -> None:
    clock = ManualClock()
    feed = ManualFeed(clock, "30000")
    exchange = PaperExchange(DbPaperStore(KEY, {"USDT": "1000"}), feeds={SYMBOL: feed}, clock=clock)
    exchange.place_order(buy("c1"))
    placed_at = clock.now()
    row = PaperBookRecord.objects.get(key=KEY)
    for _ in range(4):
        clock.advance(1)
        exchange.fetch_open_orders(SYMBOL)
    row.refresh_from_db()
    assert row.matched_until == {SYMBOL: placed_at.isoformat()}
    clock.advance(1)  # 5 s after the last write: DbPaperStore.CHECKPOINT
    exchange.fetch_open_orders(SYMBOL)
    version = row.version
    row.refresh_from_db()
    assert (row.matched_until, row.version) == ({SYMBOL: clock.now().isoformat()}, version)


def test_a_read_answers_from_the_book_another_process_changed_not_from_its_copy() -> None:
    clock = ManualClock()
    feed = ManualFeed(clock, "30000")
    a = PaperExchange(DbPaperStore(KEY, {"USDT": "1000"}), feeds={SYMBOL: feed}, clock=clock)
    b = PaperExchange(DbPaperStore(KEY), feeds={SYMBOL: feed}, clock=clock)
    a.place_order(buy("c1"))
    assert [s.client_order_id for s in b.fetch_open_orders(SYMBOL)] == ["c1"]
    clock.advance(1)
    a.cancel_order(SYMBOL, "c1")
    clock.advance(1)
    assert b.fetch_open_orders(SYMBOL) == []
    assert b.fetch_balance()["USDT"].locked == D(0)
    assert b.fetch_order(SYMBOL, client_order_id="c1").status is OrderStatus.CANCELED


def test_an_order_another_process_placed_fills_where_the_price_crossed_it_even_after_a_stale_price_read() -> None:
    clock = ManualClock()
    feed = ManualFeed(clock, "30000")
    a = PaperExchange(DbPaperStore(KEY, {"USDT": "1000"}), feeds={SYMBOL: feed}, clock=clock)
    b = PaperExchange(DbPaperStore(KEY), feeds={SYMBOL: feed}, clock=clock)
    assert b.fetch_open_orders(SYMBOL) == []  # b's copy: a book without orders
    clock.advance(1)
    a.place_order(buy("c1"))
    clock.advance(30)
    feed.set("29500")  # through the buy, while neither looks
    dipped = clock.now()
    clock.advance(30)
    feed.set("30100")
    assert b.fetch_price(SYMBOL) == D("30100")  # b's copy does not know c1 yet: the matching waits for a read
    state = b.fetch_order(SYMBOL, client_order_id="c1")
    assert (state.status, state.average_price, state.trades[0].timestamp) == (OrderStatus.FILLED, D("29700"), dipped)
    assert a.fetch_balance()["BTC"].free == D("0.001")


def test_a_session_that_fails_leaves_nothing_of_itself_in_the_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = ManualClock()
    feed = ManualFeed(clock, "30000")
    exchange = PaperExchange(DbPaperStore(KEY, {"USDT": "1000"}), feeds={SYMBOL: feed}, clock=clock)
    exchange.place_order(buy("c1"))

    def disk_full(*args: object, **kwargs: object) -> None:
        raise DatabaseError("disk full")

    monkeypatch.setattr(PaperOrderRecord.objects, "bulk_create", disk_full)
    with pytest.raises(DatabaseError):
        exchange.place_order(buy("c2"))
    monkeypatch.undo()
    clock.advance(1)
    assert [s.client_order_id for s in exchange.fetch_open_orders(SYMBOL)] == ["c1"]
    assert exchange.fetch_balance()["USDT"].locked == D("29.72970000")
    exchange.place_order(buy("c2"))  # the same id, now accepted: c2 was never on the book
    assert PaperOrderRecord.objects.filter(book__key=KEY).count() == 2


# --- processes -------------------------------------------------------------------------------------------------------
def book_process(name: str, orders: int, *extra: str) -> Console:
    argv = [sys.executable, "-m", "tests.paper.book_process", KEY, name, str(orders), *extra]
    return Console(argv, worker_env(os.environ.get("REDIS_URL", "")), cwd=ROOT)


def placed(console: Console) -> list[str]:
    return [line.split()[1] for line in console.lines if line.startswith("placed ")]


def assert_book_adds_up(usdt: D) -> None:
    """The balances are exactly what the open orders hold: no operation was lost or applied twice."""
    row = PaperBookRecord.objects.get(key=KEY)
    open_orders = PaperOrderRecord.objects.filter(book=row, status="open")
    assert D(row.balances["USDT"]["locked"]) == sum((o.locked for o in open_orders), D(0))
    assert D(row.balances["USDT"]["free"]) + D(row.balances["USDT"]["locked"]) == usdt


@pytest.mark.slow
def test_an_order_the_exchange_accepted_is_on_the_book_after_kill_9_of_its_process() -> None:
    needs_mariadb()
    DbPaperStore(KEY, {"USDT": "1000"})
    child = book_process("x", 20, "--hold")
    try:
        child.wait_for("placed x0", 60)
        os.killpg(child.proc.pid, signal.SIGKILL)  # at once, most likely in the middle of the next order
        child.finish(10)
    finally:
        child.kill()
    accepted = placed(child)
    assert accepted
    on_book = set(
        PaperOrderRecord.objects.filter(book__key=KEY, status="open").values_list("client_order_id", flat=True)
    )
    assert set(accepted) <= on_book
    assert_book_adds_up(D(1000))
    clock = ManualClock()
    successor = PaperExchange(DbPaperStore(KEY), feeds={SYMBOL: ManualFeed(clock, "30000")}, clock=clock)
    assert {s.client_order_id for s in successor.fetch_open_orders(SYMBOL)} == on_book


@pytest.mark.slow
def test_two_processes_on_one_book_apply_their_orders_one_after_the_other() -> None:
    needs_mariadb()
    DbPaperStore(KEY, {"USDT": "400"})  # 400 / 29.7297 per order: room for 13
    children = [book_process(name, 10) for name in ("a", "b")]
    try:
        for child in children:
            assert child.finish(120) == 0, child.text
    finally:
        for child in children:
            child.kill()
    accepted = placed(children[0]) + placed(children[1])
    assert len(accepted) == 13
    rows = PaperOrderRecord.objects.filter(book__key=KEY)
    assert sorted(rows.values_list("client_order_id", flat=True)) == sorted(accepted)
    assert_book_adds_up(D(400))
    assert PaperBookRecord.objects.get(key=KEY).version >= 13
