"""Orders refused for insufficient funds wait for funds instead of being re-sent every tick (issue 9, item 6)."""

import itertools
import re
from datetime import datetime, timedelta
from decimal import Decimal as D

from exchanges.base import OrderStatus, Side
from tests.core.harness import Harness
from trading.core.types import EngineStatus, Role

NEXT_CHECK = re.compile(r"next check at (\S+)$")


def funds_wait(status: EngineStatus) -> str:
    [wait] = [p for p in status.paused if p.startswith("waiting for funds")]
    return wait


def next_check(status: EngineStatus) -> datetime:
    found = NEXT_CHECK.search(funds_wait(status))
    assert found is not None
    return datetime.fromisoformat(found.group(1))


def deposit(h: Harness, asset: str, amount: str) -> None:
    with h.store.session() as book:
        book.balance(asset).free += D(amount)


def test_a_thousand_ticks_without_enough_quote_send_a_handful_of_orders_and_the_status_says_why():
    h = Harness("30000", balances={"USDT": "5"})  # each buy needs 20 USDT and its fee
    statuses = [h.start()] + [h.step("30000") for _ in range(1000)]
    assert len(h.orders(OrderStatus.REJECTED)) <= 3  # the first tick's three buys; the old code sent 3,003
    assert h.open_orders() == []
    last = statuses[-1]
    # 0.00067 × 29700 and the fee at 0.1 %: what the paper exchange would lock
    assert funds_wait(last).startswith(
        "waiting for funds: need 19.918899 USDT for a buy of 0.00067 BTC at 29700, 5 USDT free; next check at "
    )
    # The checks back off: loop_interval (1 s) × 2ⁿ after the n-th, at most 5 minutes apart.
    checks = sorted({next_check(s) for s in statuses[1:]})
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(checks)]
    assert gaps[:9] == [4, 8, 16, 32, 64, 128, 256, 300, 300]
    assert len(checks) <= 12


def test_funds_that_arrive_end_the_wait_at_the_next_balance_read():
    h = Harness("30000", balances={"USDT": "5"})
    h.start()
    for _ in range(100):
        h.step("30000")
    assert next_check(h.step("30000")) - h.clock.now() > timedelta(seconds=20)
    deposit(h, "USDT", "100")
    h.step("30000")  # the balance check sees the free amount change
    status = h.step("30000")
    assert len(h.open_orders(Side.BUY)) == 3
    assert status.paused == ()
    assert len(h.orders(OrderStatus.REJECTED)) == 3  # none more: the balance was read before sending


def test_only_the_buys_the_free_balance_covers_are_sent_when_the_wait_ends():
    h = Harness("30000", balances={"USDT": "5"})
    h.start()
    for _ in range(20):
        h.step("30000")
    deposit(h, "USDT", "40.1")  # 45.1 free: two buys of 20.02
    h.step("30000")
    status = h.step("30000")
    assert len(h.open_orders(Side.BUY)) == 2
    # 45.1 − 19.918899 − 20.011992 left: not enough for the third level
    assert "need 19.807788 USDT for a buy of 0.00068 BTC at 29100, 5.169109 USDT free" in funds_wait(status)
    assert len(h.orders(OrderStatus.REJECTED)) == 3


def test_a_lot_that_closes_brings_quote_and_ends_the_wait_without_a_balance_check():
    h = Harness("30000", balances={"USDT": "25"}, balance_check_every=10_000)  # one buy's worth; no balance reads
    h.start()
    assert len(h.open_orders(Side.BUY)) == 1
    for _ in range(30):
        h.step("30000")
    h.step("29650")  # the buy fills: a lot and its take-profit
    for _ in range(30):
        h.step("29800")
    assert next_check(h.step("29800")) - h.clock.now() > timedelta(seconds=60)
    h.step("29997.01")  # the take-profit fills: quote comes in
    h.step("29800")
    assert len(h.open_orders(Side.BUY)) == 1  # the level bought again, without waiting out the minutes
    assert len(h.orders(OrderStatus.REJECTED)) == 2


def test_a_take_profit_refused_for_lack_of_base_is_not_resent_every_tick():
    h = Harness("30000", grid_levels=1)
    h.start()
    h.step("29650")  # the buy fills; its take-profit rests
    [tp] = [o for o in h.orders(OrderStatus.OPEN) if o.role is Role.TAKE_PROFIT]
    h.exchange.cancel_order("BTC/USDT", tp.client_order_id)  # canceled by hand, and the base withdrawn
    with h.store.session() as book:
        book.balance("BTC").free = D(0)
    for _ in range(300):
        status = h.step("29800")
    refused = [o for o in h.orders(OrderStatus.REJECTED) if o.role is Role.TAKE_PROFIT]
    assert len(refused) == 1  # the old code: one a tick, 300
    [note] = [n for n in status.notes if "take-profit at 29997.00 waits" in n]
    assert "waiting for funds: need 0.00067 BTC for a sell of 0.00067 BTC at 29997, 0 BTC free" in note
