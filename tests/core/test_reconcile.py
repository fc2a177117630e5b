"""Reconcile and sync against an exchange that answers as real ones do: late, partly, or not at all.

The paper exchange is exact; `Troubled` puts the ways a real exchange differs between it and the engine: a lookup
that misses an order for a while (not visible yet, or lost by the exchange), an answer lost after the order was
taken, totals without the list of trades, a "filled" said before the last trade is listed, a cancel that must name
the order's market. Each test says what the journal and the exchange must show afterwards.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal as D

import pytest

from exchanges.base import (
    ExchangeError,
    InvalidOrder,
    OrderNotFound,
    OrderRequest,
    OrderState,
    OrderStatus,
    OrderType,
    RequestTimeout,
    Side,
    place_each,
)
from exchanges.paper.exchange import PaperExchange
from exchanges.paper.faults import Fault, FaultInjector
from tests.core.harness import START, Harness
from trading.core.types import Role

SYMBOL = "BTC/USDT"


class Troubled:
    """The paper exchange behind the troubles a real exchange has. Every call is counted by name."""

    def __init__(self, inner: PaperExchange, *, visibility_delay: float = 0, totals_only: bool = False) -> None:
        self.inner = inner
        self.order_visibility_delay = timedelta(seconds=visibility_delay)
        self.totals_only = totals_only
        self.without_average = False  # with totals_only: no average price either
        self.hidden_until: dict[str, datetime] = {}  # lookups miss these orders until then
        self.answer_lost: set[str] = set()  # taken by the exchange, then the answer times out
        self.rejections: dict[str, str] = {}  # refused with this message
        self.last_trade_late: set[str] = set()  # once filled, said filled once before its last trade is listed
        self.calls: Counter[str] = Counter()

    def market(self, symbol: str):
        return self.inner.market(symbol)

    def fetch_price(self, symbol: str) -> D:
        self.calls["fetch_price"] += 1
        return self.inner.fetch_price(symbol)

    def fetch_balance(self):
        self.calls["fetch_balance"] += 1
        return self.inner.fetch_balance()

    def place_order(self, request: OrderRequest) -> OrderState:
        self.calls["place_order"] += 1
        if request.client_order_id in self.rejections:
            raise InvalidOrder(self.rejections[request.client_order_id])
        state = self.inner.place_order(request)
        if request.client_order_id in self.answer_lost:
            raise RequestTimeout(f"{request.client_order_id}: no answer (the exchange took it)")
        return self._answer(state)

    def place_orders(self, requests: Sequence[OrderRequest]) -> list[OrderState | ExchangeError]:
        return place_each(self, requests)

    def cancel_order(self, symbol: str, client_order_id: str) -> OrderState:
        self.calls["cancel_order"] += 1
        if symbol != SYMBOL:
            raise OrderNotFound(f"no order {client_order_id} on {symbol}")  # orders are found per market
        return self._answer(self.inner.cancel_order(symbol, client_order_id))

    def fetch_order(
        self, symbol: str, *, client_order_id: str | None = None, exchange_order_id: str | None = None
    ) -> OrderState:
        self.calls["fetch_order"] += 1
        if client_order_id is not None and self._hidden(client_order_id):
            raise OrderNotFound(f"order {client_order_id} does not exist")
        state = self.inner.fetch_order(symbol, client_order_id=client_order_id, exchange_order_id=exchange_order_id)
        return self._answer(state)

    def fetch_open_orders(self, symbol: str) -> list[OrderState]:
        self.calls["fetch_open_orders"] += 1
        states = self.inner.fetch_open_orders(symbol)
        return [self._answer(s) for s in states if not self._hidden(s.client_order_id)]

    def _hidden(self, client_order_id: str) -> bool:
        until = self.hidden_until.get(client_order_id)
        return until is not None and self.inner.clock.now() < until

    def _answer(self, state: OrderState) -> OrderState:
        if state.client_order_id in self.last_trade_late and state.status is OrderStatus.FILLED:
            self.last_trade_late.discard(state.client_order_id)
            state = replace(state, trades=state.trades[:-1])
        if self.totals_only:
            state = replace(state, trades=(), average_price=None if self.without_average else state.average_price)
        return state


def troubled(h: Harness, **kwargs: object) -> Troubled:
    """Put a Troubled exchange between `h`'s engine and its paper exchange."""
    exchange = Troubled(h.exchange, **kwargs)  # type: ignore[arg-type]
    h.exchange = exchange  # type: ignore[assignment]
    h.engine = h.new_engine()
    return exchange


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


def fills_of(h: Harness, client_order_id: str) -> list[tuple[str, D, D, D, str, datetime]]:
    fills = [f for (cid, _), f in h.journal.fills.items() if cid == client_order_id]
    assert all(f.side is h.journal.orders[client_order_id].side for f in fills)
    return [(f.trade_id, f.amount, f.price, f.fee, f.fee_currency, f.executed_at) for f in fills]


def move_while_nobody_looks(h: Harness, price: str, then_wait: float) -> None:
    """The price moves one second from now; the engine looks again `then_wait` seconds after that."""
    h.clock.advance(1)
    h.feed.set(price)
    h.clock.advance(then_wait)


# --- fills told as totals, or told late --------------------------------------------------------------------------
def test_an_exchange_that_reports_totals_only_books_each_new_part_as_one_fill_at_the_exchanges_time():
    faults = FaultInjector()
    h = Harness("30000", faults=faults, grid_levels=1)
    troubled(h, totals_only=True)
    h.start()
    faults.add("fetch_price", Fault.PARTIAL_FILL)
    move_while_nobody_looks(h, "29690", then_wait=30)  # half fills at 00:00:01, the engine looks at 00:00:31
    h.engine.tick()
    move_while_nobody_looks(h, "29680", then_wait=30)  # the rest fills at 00:00:32
    h.engine.tick()
    assert fills_of(h, "ab7-1") == [
        ("total-0.00033", D("0.00033"), D("29700.00"), D("0.00980100"), "USDT", at(1)),
        ("total-0.00067", D("0.00034"), D("29700.00"), D("0.01009800"), "USDT", at(32)),
    ]
    buy = h.journal.orders["ab7-1"]
    assert (buy.status, buy.filled, buy.cost, buy.fee) == (OrderStatus.FILLED, D("0.00067"), D("19.899"), D("0.019899"))
    assert (buy.last_fill_at, buy.closed_at) == (at(32), at(62))
    [lot] = h.open_lots()
    assert (lot.quantity, lot.entry_cost) == (D("0.00067"), D("19.899"))


def test_a_fill_at_a_better_price_than_the_limit_is_booked_at_the_exchanges_average():
    h = Harness("30000", grid_levels=1)
    troubled(h, totals_only=True)
    h.start()
    for moved_to in ("29650", "30100"):  # the buy fills while nobody runs, then the price passes its target
        h.clock.advance(60)
        h.feed.set(moved_to)
    h.restart()  # the take-profit, placed at 29997 while the price is 30100, fills at once at 30100
    [closed] = h.closed_lots()
    [(_trade_id, amount, price, *_rest)] = fills_of(h, closed.exit_client_order_id or "")
    assert (amount, price) == (D("0.00067"), D("30100"))
    assert closed.exit_price == D("30100")


def test_without_an_average_price_a_total_is_booked_at_the_orders_price():
    h = Harness("30000", grid_levels=1)
    exchange = troubled(h, totals_only=True)
    exchange.without_average = True
    h.start()
    h.step("29650")
    assert [(amount, price) for _, amount, price, *_ in fills_of(h, "ab7-1")] == [(D("0.00067"), D("29700.00"))]


def test_an_order_said_filled_before_its_last_trade_is_listed_stays_open_until_it_is():
    faults = FaultInjector()
    h = Harness("30000", faults=faults, grid_levels=1)
    exchange = troubled(h)
    h.start()
    faults.add("fetch_price", Fault.PARTIAL_FILL)
    h.step("29690")  # half of it
    exchange.last_trade_late.add("ab7-1")
    h.step("29680")  # the rest fills; the exchange says filled but lists one trade of two
    buy = h.journal.orders["ab7-1"]
    assert (buy.status, buy.filled) == (OrderStatus.PARTIALLY_FILLED, D("0.00033"))
    assert h.open_lots() == []
    h.step("29680")
    assert h.journal.orders["ab7-1"].status is OrderStatus.FILLED
    assert [lot.quantity for lot in h.open_lots()] == [D("0.00067")]


def test_each_new_part_of_a_partly_filled_order_is_booked():
    faults = FaultInjector()
    h = Harness("30000", faults=faults, grid_levels=1)
    troubled(h)
    h.start()
    faults.add("fetch_price", Fault.PARTIAL_FILL)
    h.step("29690")  # half: 0.00033
    faults.add("fetch_price", Fault.PARTIAL_FILL)
    h.step("29680")  # half of the rest: 0.00017; still partially filled, so only the amount tells
    buy = h.journal.orders["ab7-1"]
    assert (buy.status, buy.filled) == (OrderStatus.PARTIALLY_FILLED, D("0.00050"))
    assert len(fills_of(h, "ab7-1")) == 2


# --- orders changed or canceled behind the engine ----------------------------------------------------------------
def test_an_order_canceled_by_hand_is_journaled_canceled_and_its_level_bought_again():
    h = Harness("30000")
    exchange = troubled(h)
    h.start()
    exchange.cancel_order(SYMBOL, "ab7-1")
    status = h.step("30000")
    canceled = h.journal.orders["ab7-1"]
    assert (canceled.status, canceled.closed_at) == (OrderStatus.CANCELED, at(1))
    assert h.buy_prices() == [D("29700.00"), D("29400.00"), D("29100.00")]
    assert h.journal.orders["ab7-4"].price == D("29700.00")
    assert all(h.journal.orders[cid].closed_at is None for cid in ("ab7-2", "ab7-3", "ab7-4"))
    assert status.pending_buys == 3


def test_a_stop_cancels_every_buy_and_looks_up_one_that_was_canceled_meanwhile():
    h = Harness("30000")
    exchange = troubled(h)
    h.start()
    h.clock.advance(5)
    exchange.cancel_order(SYMBOL, "ab7-2")  # by hand, between two ticks
    status = h.engine.stop()
    assert status.state == "stopped"
    assert h.open_orders() == []
    assert [h.journal.orders[f"ab7-{i}"].status for i in (1, 2, 3)] == [OrderStatus.CANCELED] * 3
    assert {h.journal.orders[f"ab7-{i}"].closed_at for i in (1, 2, 3)} == {at(5)}


def test_an_order_that_vanished_from_the_exchange_is_written_off_and_the_others_still_synced():
    h = Harness("30000")
    exchange = troubled(h)
    h.start()
    exchange.hidden_until["ab7-1"] = at(10**6)  # the exchange no longer knows it
    h.step("29350")  # ab7-2 at 29400 fills in the same move
    gone = h.journal.orders["ab7-1"]
    assert (gone.status, gone.error, gone.closed_at) == (
        OrderStatus.LOST,
        "open in the journal, unknown to the exchange",
        at(1),
    )
    assert [lot.entry_client_order_id for lot in h.open_lots()] == ["ab7-2"]


# --- what each tick costs --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("totals_only", [False, True], ids=["same-answer", "fresh-answer"])
def test_a_quiet_tick_asks_for_the_price_and_the_open_orders_and_writes_nothing(totals_only):
    h = Harness("30000")
    exchange = troubled(h, totals_only=totals_only)  # fresh-answer: a new but equal state every time
    h.start()
    saves, before = h.journal.saves, Counter(exchange.calls)
    for _ in range(3):
        h.step("30000")
    asked = exchange.calls - before
    asked.pop("fetch_balance", None)  # the harness compares balances every tick
    assert asked == Counter({"fetch_price": 3, "fetch_open_orders": 3})
    assert h.journal.saves == saves


def test_an_engine_with_nothing_resting_does_not_ask_for_open_orders_every_tick():
    h = Harness("30000", order_size_quote=D(5))  # below the minimum notional: every level is skipped
    exchange = troubled(h)
    h.start()
    before = exchange.calls["fetch_open_orders"]
    for _ in range(3):
        h.step("30000")
    assert exchange.calls["fetch_open_orders"] == before


def test_an_open_order_with_our_prefix_that_the_journal_does_not_know_is_left_alone_with_a_note():
    h = Harness("30000")
    exchange = troubled(h)
    h.start()
    exchange.inner.place_order(OrderRequest("ab7-99", SYMBOL, Side.BUY, OrderType.LIMIT, D("0.001"), D(25000)))
    status = h.step("30000")
    assert "unknown open order ab7-99 on the exchange: not in the journal, left alone" in status.notes
    assert "ab7-99" in {o.client_order_id for o in h.open_orders(Side.BUY)}
    assert "ab7-99" not in h.journal.orders


# --- sends with no known outcome -----------------------------------------------------------------------------------
def test_an_order_that_never_arrived_is_written_off_exactly_when_the_exchange_would_show_it():
    faults = FaultInjector()
    h = Harness("30000", faults=faults)
    troubled(h, visibility_delay=5)
    faults.add("place_order", Fault.NETWORK)
    h.start()  # ab7-1: no answer; ab7-2 and ab7-3 are not sent after it
    assert h.journal.orders["ab7-2"].error == "ab7-2 not sent: an earlier order's outcome is unknown"
    h.clock.set(at(4.999))
    h.engine.tick()
    assert h.journal.orders["ab7-1"].status is OrderStatus.PENDING  # it may still show up
    h.clock.set(at(5))
    h.engine.tick()
    lost = h.journal.orders["ab7-1"]
    assert (lost.status, lost.error, lost.closed_at) == (OrderStatus.LOST, "the exchange never received it", at(5))
    assert h.buy_prices() == [D("29700.00"), D("29400.00"), D("29100.00")]


def test_every_order_past_its_visibility_delay_is_written_off_in_one_reconcile():
    faults = FaultInjector()
    h = Harness("30000", faults=faults)
    troubled(h, visibility_delay=5)
    faults.add("place_order", Fault.NETWORK)
    h.start()  # ab7-1 pending
    faults.add("place_order", Fault.NETWORK)
    h.clock.set(at(1))
    h.engine.tick()  # ab7-1 waits; ab7-4 (29400) pending too, ab7-5 not sent
    assert [h.journal.orders[c].status for c in ("ab7-1", "ab7-4")] == [OrderStatus.PENDING] * 2
    h.clock.set(at(10))
    h.engine.tick()
    assert [(h.journal.orders[c].status, h.journal.orders[c].closed_at) for c in ("ab7-1", "ab7-4")] == [
        (OrderStatus.LOST, at(10)),
        (OrderStatus.LOST, at(10)),
    ]


def test_fills_of_other_orders_are_booked_while_one_waits_out_its_visibility_delay():
    faults = FaultInjector()
    h = Harness("30000", faults=faults)
    troubled(h, visibility_delay=30)
    faults.add("place_order", Fault.NETWORK)
    h.start()  # ab7-1 (29700) pending for 30 s
    h.step("30000")  # ab7-4 at 29400 and ab7-5 at 29100 placed
    h.step("29350")  # ab7-4 fills
    assert h.journal.orders["ab7-1"].status is OrderStatus.PENDING
    assert [lot.entry_client_order_id for lot in h.open_lots()] == ["ab7-4"]


def test_a_pending_order_that_filled_before_anyone_looked_is_booked_not_written_off():
    h = Harness("30000", grid_levels=1)
    exchange = troubled(h)
    exchange.answer_lost.add("ab7-1")
    h.start()
    move_while_nobody_looks(h, "29650", then_wait=5)
    h.engine.tick()
    assert h.journal.orders["ab7-1"].status is OrderStatus.FILLED
    assert [lot.entry_client_order_id for lot in h.open_lots()] == ["ab7-1"]


def test_a_rejection_is_journaled_with_its_reason_cut_to_500_characters():
    h = Harness("30000", grid_levels=1)
    exchange = troubled(h)
    exchange.rejections["ab7-1"] = "x" * 600
    h.start()
    rejected = h.journal.orders["ab7-1"]
    assert rejected.status is OrderStatus.REJECTED
    assert rejected.error == ("InvalidOrder: " + "x" * 600)[:500]


# --- orders that surface after they were written off ---------------------------------------------------------------
def write_off_late_order(h: Harness, exchange: Troubled, client_order_id: str, surfaces_at: float) -> None:
    """`client_order_id` reaches the exchange but its answer is lost, and lookups miss it until `surfaces_at`."""
    exchange.answer_lost.add(client_order_id)
    exchange.hidden_until[client_order_id] = at(surfaces_at)


def test_a_buy_written_off_that_surfaces_beside_other_buys_is_adopted():
    h = Harness("30000")
    exchange = troubled(h, visibility_delay=5)
    write_off_late_order(h, exchange, "ab7-2", surfaces_at=10)
    h.start()  # ab7-1 rests, ab7-2 pending, ab7-3 not sent
    h.clock.set(at(6))
    h.engine = h.new_engine()
    h.engine.start(first_tick=False)  # a reconcile only: ab7-2 is written off, nothing placed
    assert h.journal.orders["ab7-2"].status is OrderStatus.LOST
    h.clock.set(at(11))
    status = h.restart()
    assert h.journal.orders["ab7-2"].status is OrderStatus.OPEN
    assert h.buy_prices() == [D("29700.00"), D("29400.00"), D("29100.00")]
    assert not any("surfaced late" in note for note in status.notes)


def test_a_stop_that_finds_no_engine_running_cancels_a_buy_that_surfaced_late():
    h = Harness("30000", grid_levels=1)
    exchange = troubled(h, visibility_delay=5)
    write_off_late_order(h, exchange, "ab7-1", surfaces_at=10)
    h.start()
    h.clock.set(at(6))
    h.engine = h.new_engine()
    h.engine.start(first_tick=False)
    assert h.journal.orders["ab7-1"].status is OrderStatus.LOST
    h.clock.set(at(11))
    h.engine = h.new_engine()
    h.engine.start(first_tick=False)  # a stop without a running engine: reconcile, then cancel
    h.engine.stop()
    assert h.open_orders() == []
    assert h.journal.orders["ab7-1"].status is OrderStatus.CANCELED


def test_a_buy_written_off_and_placed_again_is_canceled_when_it_surfaces():
    h = Harness("30000")
    exchange = troubled(h, visibility_delay=5)
    write_off_late_order(h, exchange, "ab7-1", surfaces_at=30)
    h.start()
    h.step("30000", seconds=6)  # ab7-1 written off; its level is bought again under a new id
    assert h.journal.orders["ab7-1"].status is OrderStatus.LOST
    h.clock.set(at(31))
    status = h.engine.tick()
    assert "order ab7-1, written off as lost, surfaced late: canceled" in status.notes
    assert h.journal.orders["ab7-1"].status is OrderStatus.CANCELED
    assert h.buy_prices() == [D("29700.00"), D("29400.00"), D("29100.00")]  # each level once


def sell_late_take_profit(h: Harness, exchange: Troubled) -> None:
    """The buy fills; its take-profit ab7-2 reaches the exchange unseen until 00:00:30, and is written off."""
    write_off_late_order(h, exchange, "ab7-2", surfaces_at=30)
    h.start()
    h.step("29650")
    assert h.journal.orders["ab7-2"].status is OrderStatus.PENDING
    h.clock.set(at(7))
    h.engine.tick()
    assert h.journal.orders["ab7-2"].status is OrderStatus.LOST


def test_a_take_profit_written_off_that_surfaces_becomes_its_lots_exit_again():
    h = Harness("30000", grid_levels=1)
    exchange = troubled(h, visibility_delay=5)
    sell_late_take_profit(h, exchange)
    # Its lot was freed for a new exit, which the exchange refused: ab7-2 still holds the coins.
    retried = [o for o in h.orders(OrderStatus.REJECTED) if o.role is Role.TAKE_PROFIT]
    assert retried
    assert all("InsufficientFunds" in o.error for o in retried)
    h.clock.set(at(31))
    # With nothing resting, only a reconcile looks at the exchange's open orders: here the next start.
    status = h.restart()
    assert h.journal.orders["ab7-2"].status is OrderStatus.OPEN
    assert not any("surfaced late" in note for note in status.notes)
    status = h.step("29650")
    assert status.pending_sells == 1
    assert status.paused == ()  # the lot has its exit: no new take-profit is tried (and refused)
    assert len([o for o in h.orders(OrderStatus.REJECTED) if o.role is Role.TAKE_PROFIT]) == len(retried)
    assert [o.client_order_id for o in h.open_orders(Side.SELL)] == ["ab7-2"]


def test_a_take_profit_written_off_that_surfaces_is_journaled_as_its_lots_exit():
    h = Harness("30000", grid_levels=1)
    exchange = troubled(h, visibility_delay=5)
    sell_late_take_profit(h, exchange)
    h.clock.set(at(31))
    h.restart()
    [lot] = h.open_lots()
    assert lot.exit_client_order_id == "ab7-2"  # else the next start tries to sell the lot a second time


def test_a_take_profit_written_off_and_replaced_is_canceled_when_it_surfaces():
    h = Harness("30000", grid_levels=1, balances={"USDT": "10000", "BTC": "0.01"})
    exchange = troubled(h, visibility_delay=5)
    sell_late_take_profit(h, exchange)  # with coins to spare, the new take-profit ab7-3 rests
    h.clock.set(at(31))
    status = h.engine.tick()
    assert "order ab7-2, written off as lost, surfaced late: canceled" in status.notes
    assert h.journal.orders["ab7-2"].status is OrderStatus.CANCELED
    [lot] = h.open_lots()
    assert lot.exit_client_order_id == "ab7-3"
    assert [o.client_order_id for o in h.open_orders(Side.SELL)] == ["ab7-3"]


def test_a_take_profit_that_surfaces_after_its_lot_was_stopped_out_is_canceled():
    h = Harness("30000", grid_levels=1, stop_loss_pct=D(2), balances={"USDT": "10000", "BTC": "0.01"})
    exchange = troubled(h, visibility_delay=5)
    sell_late_take_profit(h, exchange)
    h.step("29000")  # the stop: ab7-3 canceled, the lot sold at market
    [closed] = h.closed_lots()
    assert closed.exit_reason == "stop_loss"
    h.clock.set(at(31))
    status = h.engine.tick()
    assert "order ab7-2, written off as lost, surfaced late: canceled" in status.notes
    assert h.journal.orders["ab7-2"].status is OrderStatus.CANCELED
    assert h.open_orders(Side.SELL) == []


def test_a_take_profit_that_never_arrived_frees_its_lot_for_a_new_one_also_across_a_restart():
    faults = FaultInjector()
    h = Harness("30000", faults=faults, grid_levels=1)
    h.start()
    faults.add("place_order", Fault.NETWORK)
    h.step("29650")  # the buy fills; its take-profit ab7-2 gets no answer
    h.engine = h.new_engine()
    h.engine.start(first_tick=False)  # reconcile only: ab7-2 never arrived
    assert h.journal.orders["ab7-2"].status is OrderStatus.LOST
    [lot] = h.lots()
    assert lot.exit_client_order_id is None
    h.restart()
    assert [(o.client_order_id, o.price) for o in h.open_orders(Side.SELL)] == [("ab7-3", D("29997.00"))]


# --- lots that close --------------------------------------------------------------------------------------------
def test_past_the_closed_lots_it_keeps_in_memory_the_engine_still_counts_all_of_todays_gains():
    h = Harness("30000", grid_levels=1)
    h.start()
    for _ in range(501):  # one more round trip than the engine keeps closed lots for its risk rules
        h.step("29650")
        status = h.step("29997.01")
    closed = h.closed_lots()
    assert len(closed) == 501
    assert status.realized_pnl_today == sum(lot.realized_pnl or 0 for lot in closed) > 501 * D("0.15")
