"""A strategy's orders and lots as its detail page reads them: filtered, paginated, valued, and only the owner's."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.factories import make_fill, make_order, make_paper_account, make_position, make_strategy
from trading.models import Order
from trading.runtime import coordination as co

D = Decimal


@pytest.fixture
def grid(alice):
    return make_strategy(alice, make_paper_account(alice), stop_loss_pct=D("5"), time_stop_hours=D("48"))


def engine_reports(redis_client, strategy, price: str) -> None:
    lease = co.Lease(redis_client, strategy.pk, f"job-{strategy.pk}", ttl_seconds=30)
    assert lease.acquire()
    lease.write_status({"status": "running", "current_price": price}, 60)


# --- orders ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def orders(grid):
    made = {
        status: make_order(grid, "buy", "29000", "0.001", status=status)
        for status in ("pending", "open", "partially_filled", "filled", "canceled", "rejected", "lost")
    }
    made["take_profit"] = make_order(grid, "sell", "29290", "0.001", status="open", parent=made["filled"])
    return made


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_orders_are_the_open_ones_by_default_newest_first(alice_client, grid, orders):
    listed = ids(alice_client.get(f"/api/strategies/{grid.pk}/orders"))
    expected = ["take_profit", "partially_filled", "open", "pending"]
    assert listed == [orders[name].pk for name in expected]
    take_profit = alice_client.get(f"/api/strategies/{grid.pk}/orders").json()["results"][0]
    assert take_profit["lot"] == orders["filled"].client_order_id
    assert (take_profit["role"], take_profit["price"], take_profit["amount"]) == ("take_profit", "29290", "0.001")


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("closed", ["lost", "rejected", "canceled", "filled"]),
        ("filled", ["filled"]),
        ("pending", ["pending"]),
        ("all", ["take_profit", "lost", "rejected", "canceled", "filled", "partially_filled", "open", "pending"]),
    ],
)
def test_orders_filter_by_status(alice_client, grid, orders, status, expected):
    listed = ids(alice_client.get(f"/api/strategies/{grid.pk}/orders?status={status}"))
    assert listed == [orders[name].pk for name in expected]


def test_an_unknown_order_status_is_a_400_naming_the_allowed_ones(alice_client, grid):
    r = alice_client.get(f"/api/strategies/{grid.pk}/orders?status=resting")
    assert r.status_code == 400
    assert r.json() == {
        "status": ["Must be one of open, closed, all, pending, partially_filled, filled, canceled, rejected, lost."]
    }


def test_orders_are_paginated(alice_client, grid):
    for _ in range(7):
        make_order(grid, status="open")
    first = alice_client.get(f"/api/strategies/{grid.pk}/orders?page_size=3").json()
    assert (first["count"], len(first["results"])) == (7, 3)
    last = alice_client.get(f"/api/strategies/{grid.pk}/orders?page_size=3&page=3").json()
    assert len(last["results"]) == 1
    assert alice_client.get(f"/api/strategies/{grid.pk}/orders?page_size=3&page=4").status_code == 404


def test_orders_take_a_fixed_number_of_queries(alice_client, grid, orders, django_assert_max_num_queries):
    for _ in range(20):
        make_order(grid, "sell", status="open", parent=orders["filled"])
    with django_assert_max_num_queries(4):
        assert len(ids(alice_client.get(f"/api/strategies/{grid.pk}/orders?status=all"))) == 28


@pytest.mark.parametrize("what", ["orders", "positions"])
def test_someone_elses_strategy_answers_like_a_missing_one(alice_client, bob, what):
    theirs = make_strategy(bob, make_paper_account(bob))
    make_order(theirs, status="open")
    foreign = alice_client.get(f"/api/strategies/{theirs.pk}/{what}")
    missing = alice_client.get(f"/api/strategies/{theirs.pk + 1000}/{what}")
    assert (foreign.status_code, foreign.json()) == (missing.status_code, missing.json())
    assert missing.status_code == 404


# --- positions --------------------------------------------------------------------------------------------------------


@pytest.fixture
def lots(grid):
    """Two open lots (one with a resting take-profit, one part sold by a stop in flight) and three closed ones."""
    now = timezone.now()
    entry = make_order(grid, "buy", "30000", "0.002")
    with_tp = make_position(
        entry, now - timedelta(hours=2), entry_cost=D("60"), entry_fee_quote=D("0.06"), quantity=D("0.002")
    )
    make_order(grid, "sell", "30300", "0.002", status="open", parent=entry)
    make_order(grid, "sell", "30400", "0.002", status="canceled", parent=entry)  # an earlier exit, done with
    entry2 = make_order(grid, "buy", "29000", "0.001")
    part_sold = make_position(
        entry2,
        now - timedelta(minutes=30),
        entry_cost=D("29"),
        entry_fee_quote=D("0.029"),
        quantity=D("0.001"),
        sold_quantity=D("0.0004"),
    )
    stop = make_order(grid, "sell", "0", "0.0006", status="partially_filled", parent=entry2, role="stop_loss")
    Order.objects.filter(pk=stop.pk).update(price=None, type="market")
    closed = []
    for i in range(3):
        buy = make_order(grid, "buy", "28000", "0.001")
        sell = make_order(grid, "sell", "28280", "0.001")
        make_fill(buy, now - timedelta(days=1, hours=i))
        make_fill(sell, now - timedelta(hours=10 + i))
        closed.append(
            make_position(
                buy,
                now - timedelta(days=1, hours=i),
                exit_order=sell,
                closed_at=now - timedelta(hours=10 + i),
                exit_price=D("28280"),
                sold_quantity=D("0.001"),
                realized_pnl=D("0.22372"),
                exit_reason="take_profit",
            )
        )
    return with_tp, part_sold, closed


def test_open_lots_are_valued_at_the_engines_price(alice_client, grid, lots, redis_client):
    with_tp, _, _ = lots
    engine_reports(redis_client, grid, "31000")
    body = alice_client.get(f"/api/strategies/{grid.pk}/positions").json()
    assert (body["current_price"], body["price_from"]) == ("31000", "status")
    first, second = body["open"]
    assert first["id"] == with_tp.pk
    assert (first["take_profit_price"], first["exit_role"], first["remaining"]) == ("30300", "take_profit", "0.002")
    # 0.002 × 31000 − (60 + 0.06) = 1.94
    assert first["unrealized_pnl"] == "1.94"
    assert first["stop_loss_price"] == "28500"  # 30000 × (1 − 5 %)
    assert 7190 <= first["age_seconds"] <= 7300
    assert datetime.fromisoformat(first["time_stop_at"]) == with_tp.opened_at + timedelta(hours=48)
    # The stop is selling it at market: no take-profit. Left: 0.0006 × 31000 − (29 + 0.029) × 0.6 = 18.6 − 17.4174
    assert (second["take_profit_price"], second["exit_role"], second["remaining"]) == (None, "stop_loss", "0.0006")
    assert second["unrealized_pnl"] == "1.1826"
    assert body["unrealized_pnl"] == "3.1226"


def test_without_an_engine_open_lots_are_valued_at_the_last_trade(alice_client, grid, lots, redis_client):
    body = alice_client.get(f"/api/strategies/{grid.pk}/positions").json()
    assert (body["current_price"], body["price_from"]) == ("28280", "last_fill")
    assert body["open"][0]["unrealized_pnl"] == "-3.5"  # 0.002 × 28280 − 60.06


def test_with_redis_unreachable_open_lots_are_still_shown(alice_client, grid, lots, redis_at_a_closed_port):
    r = alice_client.get(f"/api/strategies/{grid.pk}/positions")
    assert r.status_code == 200
    assert (r.json()["price_from"], len(r.json()["open"])) == ("last_fill", 2)


def test_with_no_price_at_all_nothing_is_valued(alice_client, grid, redis_client):
    make_position(make_order(grid, "buy", "30000", "0.001"))
    body = alice_client.get(f"/api/strategies/{grid.pk}/positions").json()
    assert (body["current_price"], body["unrealized_pnl"], body["open"][0]["unrealized_pnl"]) == (None, None, None)


def test_closed_lots_are_paginated_latest_first(alice_client, grid, lots, redis_client):
    _, _, closed = lots
    page = alice_client.get(f"/api/strategies/{grid.pk}/positions?page_size=2").json()["closed"]
    assert page["count"] == 3
    assert [row["id"] for row in page["results"]] == [closed[0].pk, closed[1].pk]
    assert page["next"].endswith("page=2&page_size=2")
    row = page["results"][0]
    assert (row["realized_pnl"], row["exit_reason"], row["exit_price"], row["held_seconds"]) == (
        "0.22372",
        "take_profit",
        "28280",
        14 * 3600,
    )
    second = alice_client.get(f"/api/strategies/{grid.pk}/positions?page_size=2&page=2").json()
    assert [row["id"] for row in second["closed"]["results"]] == [closed[2].pk]
    assert len(second["open"]) == 2  # the open lots come on every page
    assert alice_client.get(f"/api/strategies/{grid.pk}/positions?page=3&page_size=2").status_code == 404
    assert list(alice_client.get(f"/api/strategies/{grid.pk}/positions?page_size=0").json()) == ["page_size"]


def test_positions_take_a_fixed_number_of_queries(
    alice_client, grid, lots, redis_client, django_assert_max_num_queries
):
    for _ in range(10):
        entry = make_order(grid, "buy", "27000", "0.001")
        make_position(entry)
        make_order(grid, "sell", "27270", "0.001", status="open", parent=entry)
    with django_assert_max_num_queries(7):
        assert len(alice_client.get(f"/api/strategies/{grid.pk}/positions").json()["open"]) == 12
