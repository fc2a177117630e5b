"""The ORM journal: the engine's orders, fills and lots land in Order/Fill/Position, and a new engine resumes
from them alone."""

import logging
from decimal import Decimal as D
from importlib import import_module

import pytest
from django.apps import apps as django_apps

from exchanges.base import OrderStatus, Side
from exchanges.paper.faults import Fault, FaultInjector
from tests.core.harness import START, Harness
from tests.factories import make_paper_account, make_strategy
from trading.core.types import FillRecord
from trading.journal import OrmJournal
from trading.models import EngineState, Fill, Order, Position

pytestmark = pytest.mark.django_db


@pytest.fixture
def strategy(alice):
    return make_strategy(alice, make_paper_account(alice), grid_levels=3)


def harness(strategy, **kw):
    return Harness("30000", journal=OrmJournal(strategy.pk), strategy_id=strategy.pk, **kw)


def test_a_round_trip_is_recorded_in_orders_fills_and_positions(strategy):
    h = harness(strategy)
    h.start()
    h.step("29650")
    h.step("29997.01")
    entry = Order.objects.get(client_order_id=f"ab{strategy.pk}-1")
    assert (entry.role, entry.status, entry.price, entry.filled) == ("grid_buy", "filled", D("29700.00"), D("0.00067"))
    tp = Order.objects.get(role="take_profit")
    assert tp.parent_id == entry.pk
    assert (tp.status, tp.price, tp.average_price) == ("filled", D("29997.00"), D("29997.00"))
    fills = list(Fill.objects.order_by("executed_at"))
    assert [(f.side, f.price, f.amount, f.fee, f.fee_currency) for f in fills] == [
        ("buy", D("29700.00"), D("0.00067"), D("0.01989900"), "USDT"),
        ("sell", D("29997.00"), D("0.00067"), D("0.02009799"), "USDT"),
    ]
    assert all(f.trade_id and f.strategy_id == strategy.pk for f in fills)
    position = Position.objects.get()
    assert position.entry_order_id == entry.pk
    assert position.exit_order_id == tp.pk
    assert (position.quantity, position.entry_price, position.exit_price) == (D("0.00067"), D("29700"), D("29997"))
    assert position.realized_pnl == D("0.15899301")
    assert position.exit_reason == "take_profit"
    assert position.closed_at is not None
    assert EngineState.objects.get(strategy=strategy).anchor_price == D("30000")
    # the level was bought again: three grid buys rest, all journaled
    assert Order.objects.filter(role="grid_buy", status="open").count() == 3


def test_a_new_engine_resumes_from_the_database_without_placing_anything_twice(strategy):
    h = harness(strategy)
    h.start()
    h.step("29650")  # one lot with a resting take-profit, two buys
    before = sorted((o.side, o.price) for o in h.open_orders())
    h.journal = OrmJournal(strategy.pk)  # a new process: nothing in memory
    status = h.restart()
    assert (status.pending_buys, status.pending_sells, status.position_count) == (2, 1, 1)
    assert sorted((o.side, o.price) for o in h.open_orders()) == before
    assert Order.objects.count() == 4
    [lot] = h.engine.positions.open.values()
    assert lot.exit_client_order_id == Order.objects.get(role="take_profit").client_order_id
    h.step("29997.01")
    assert Position.objects.get().realized_pnl == D("0.15899301")
    assert (
        Order.objects.get(role="grid_buy", price=D("29700.00"), status="open").client_order_id == f"ab{strategy.pk}-5"
    )


def test_an_order_whose_answer_was_lost_is_adopted_by_a_restarted_engine(strategy):
    faults = FaultInjector()
    h = harness(strategy, faults=faults, grid_levels=1)
    faults.add("place_order", Fault.TIMEOUT_AFTER)
    h.start()
    assert Order.objects.get().status == "pending"
    h.journal = OrmJournal(strategy.pk)
    h.restart()
    order = Order.objects.get()
    assert (order.status, order.exchange_order_id) == ("open", "P1")
    assert len(h.open_orders(Side.BUY)) == 1


def test_a_fill_saved_twice_is_booked_once(strategy):
    h = harness(strategy, grid_levels=1)
    h.start()
    fill = FillRecord(f"ab{strategy.pk}-1", "P1-1", Side.BUY, D("29700.00"), D("0.00067"), D("0.019899"), "USDT", START)
    OrmJournal(strategy.pk).save(fills=[fill])
    OrmJournal(strategy.pk).save(fills=[fill])
    assert Fill.objects.count() == 1


def test_each_fill_is_logged_once_when_it_is_booked(strategy, caplog):
    caplog.set_level(logging.INFO, logger="trading.journal")
    h = harness(strategy)
    h.start()
    h.step("29650")
    h.step("29997.01")
    sid = strategy.pk
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("INFO", f"strategy {sid}: buy filled: 0.00067 BTC/USDT at 29700, fee 0.019899 USDT"),
        ("INFO", f"strategy {sid}: sell filled: 0.00067 BTC/USDT at 29997, fee 0.02009799 USDT"),
    ]
    caplog.clear()
    h.journal = OrmJournal(strategy.pk)  # a new process reconciles the same orders: nothing is booked twice
    h.restart()
    fill = Fill.objects.filter(side="buy").get()
    again = FillRecord(f"ab{sid}-1", str(fill.trade_id), Side.BUY, fill.price, fill.amount, fill.fee, "USDT", START)
    OrmJournal(strategy.pk).save(fills=[again])
    assert caplog.records == []


def test_daily_loss_survives_a_restart(strategy):
    h = harness(strategy, grid_levels=1, stop_loss_pct=D(2), daily_loss_limit=D("0.4"))
    h.start()
    h.step("29650")
    assert h.step("29105.99").paused
    h.journal = OrmJournal(strategy.pk)
    status = h.restart()
    assert status.paused
    assert status.paused[0].startswith("daily loss limit")
    assert Order.objects.filter(status=OrderStatus.OPEN, side="buy").count() == 0


def test_dust_left_by_a_buy_fee_in_base_is_kept_in_the_database_and_sold_after_a_restart(strategy):
    h = harness(strategy, buy_fee_in_base=True)
    h.start()
    h.step("29650")
    h.step("29997.01")
    first = Position.objects.get()
    assert (first.quantity, first.sold_quantity) == (D("0.00066933"), D("0.00066"))
    assert first.realized_pnl is not None
    assert D("0.156") < first.realized_pnl < D("0.157")  # charged the cost of what it sold
    h.journal = OrmJournal(strategy.pk)  # a new process: the dust is found in the database
    status = h.restart()
    assert h.engine.positions.dust_quantity == D("0.00000933")
    assert any(note.startswith("dust: 0.00000933 BTC") for note in status.notes), status.notes
    h.step("29650")
    first.refresh_from_db()
    second = Position.objects.get(closed_at=None)
    assert (first.quantity, second.quantity) == (D("0.00066"), D("0.00067866"))
    paid = sum((f.price * f.amount for f in Fill.objects.filter(side="buy")), D(0))
    assert first.entry_cost + first.entry_fee_quote + second.entry_cost + second.entry_fee_quote == paid
    assert Order.objects.get(role="take_profit", status="open").amount == D("0.00067")


def test_an_orders_stored_totals_are_the_sums_of_its_fills_after_partial_fills_and_a_restart(strategy):
    faults = FaultInjector()
    h = harness(strategy, faults=faults, grid_levels=1, order_size_quote=D(40), sell_offset_pct=D(3))
    h.start()
    faults.add("fetch_price", Fault.PARTIAL_FILL)
    h.step("29690")  # the buy (0.00134) fills half
    h.journal = OrmJournal(strategy.pk)  # a new process resumes from the stored totals of the half-filled buy
    h.restart()
    h.step("29650")  # the rest fills: one lot of the whole buy
    faults.add("fetch_price", Fault.PARTIAL_FILL)
    h.step("30600")  # the take-profit fills half
    h.step("30600")  # and the rest
    orders = list(Order.objects.filter(fills__isnull=False).distinct())
    assert sorted(Fill.objects.filter(order=o).count() for o in orders) == [2, 2]
    for order in orders:
        fills = list(order.fills.all())
        cost = sum((f.price * f.amount for f in fills), D(0))
        assert order.filled == sum((f.amount for f in fills), D(0)) == order.amount
        assert order.cost == cost
        assert order.fee == sum((f.fee for f in fills), D(0))
        assert order.average_price == (cost / order.filled).quantize(D("1e-18"))
    position = Position.objects.get()
    buy = Order.objects.get(pk=position.entry_order_id)
    assert (position.quantity, position.entry_cost) == (buy.filled, buy.cost)
    assert position.closed_at is not None


def test_the_migration_that_added_cost_sets_each_orders_totals_from_its_fills(strategy):
    h = harness(strategy, grid_levels=1)
    h.start()
    h.step("29650")
    Order.objects.update(filled=0, cost=0, fee=0, fee_currency="", average_price=None)  # as before the migration
    import_module("trading.migrations.0003_order_cost").totals_from_fills(django_apps, None)
    buy = Order.objects.get(role="grid_buy", status="filled")
    assert (buy.filled, buy.cost, buy.fee, buy.fee_currency) == (D("0.00067"), D("19.899"), D("0.019899"), "USDT")
    assert buy.average_price == D("29700")
    assert Order.objects.get(role="take_profit").filled == 0  # no fills: nothing to set
