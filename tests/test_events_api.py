"""The events API: a strategy's timeline and the caller's feed with its unread count and read mark."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from tests.factories import make_paper_account, make_strategy
from trading.events import EventKind, event, record_events
from trading.models import StrategyEvent

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def grid(alice):
    return make_strategy(alice, make_paper_account(alice))


@pytest.fixture
def bobs_grid(bob):
    strategy = make_strategy(bob, make_paper_account(bob, name="bob paper"), name="bob grid")
    record_events(strategy.pk, [event(EventKind.STARTED, T0, node="bob-node")])
    return strategy


def timeline(strategy):
    record_events(
        strategy.pk,
        [
            event(EventKind.STARTED, T0, node="n1", job="j1"),
            event(EventKind.LADDER_PLACED, T0 + timedelta(seconds=1), symbol="BTC/USDT", anchor=D("30000")),
            event(
                EventKind.BUY_FILLED,
                T0 + timedelta(minutes=5),
                symbol="BTC/USDT",
                price=D("29700.00"),
                amount=D("0.00067"),
            ),
            event(
                EventKind.TAKE_PROFIT_FILLED,
                T0 + timedelta(minutes=9),
                symbol="BTC/USDT",
                price=D("29997"),
                amount=D("0.00067"),
                lot_pnl=D("0.15899301"),
                quote="USDT",
            ),
        ],
    )
    for second in range(3):
        record_events(strategy.pk, [event(EventKind.ERROR, T0 + timedelta(minutes=10, seconds=second), key="e:X")])


def test_a_strategys_events_come_newest_first_with_their_facts_and_an_english_summary(alice_client, grid):
    timeline(grid)
    body = alice_client.get(f"/api/strategies/{grid.pk}/events").json()
    assert body["count"] == 5
    kinds = [e["kind"] for e in body["results"]]
    assert kinds == ["error", "take_profit_filled", "buy_filled", "ladder_placed", "started"]
    error, sold = body["results"][0], body["results"][1]
    assert (error["count"], error["severity"], error["summary"].endswith("(×3)")) == (3, "error", True)
    assert sold["data"]["lot_pnl"] == "0.15899301"
    assert sold["summary"] == "Take-profit sold 0.00067 BTC/USDT at 29997, PnL 0.15899301 USDT"


def test_the_timeline_filters_by_kind_and_time_and_pages(alice_client, grid):
    timeline(grid)
    url = f"/api/strategies/{grid.pk}/events"
    fills = alice_client.get(url, {"kind": ["buy_filled", "take_profit_filled"]}).json()
    assert [e["kind"] for e in fills["results"]] == ["take_profit_filled", "buy_filled"]
    window = alice_client.get(url, {"since": "2026-03-01T12:01:00Z", "until": "2026-03-01T12:09:00Z"}).json()
    assert [e["kind"] for e in window["results"]] == ["buy_filled"]
    first = alice_client.get(url, {"page_size": 2}).json()
    assert first["count"] == 5 and len(first["results"]) == 2 and first["next"]


def test_a_kind_that_does_not_exist_is_a_400_naming_the_kinds(alice_client, grid):
    r = alice_client.get(f"/api/strategies/{grid.pk}/events", {"kind": "exploded"})
    assert r.status_code == 400
    assert "buy_filled" in r.json()["kind"][0]
    assert alice_client.get(f"/api/strategies/{grid.pk}/events", {"kind": ""}).status_code == 200  # not given
    r = alice_client.get(f"/api/strategies/{grid.pk}/events", {"since": "yesterday"})
    assert r.status_code == 400 and "since" in r.json()


def test_the_feed_counts_unread_events_and_the_read_mark_only_moves_forward(alice_client, grid, bobs_grid):
    timeline(grid)
    feed = alice_client.get("/api/events").json()
    assert (feed["count"], feed["unread"]) == (5, 5)  # Bob's event is in neither
    newest_first = [e["id"] for e in feed["results"]]
    r = alice_client.post("/api/events/read", {"up_to": newest_first[2]}, format="json")
    assert r.status_code == 200 and r.json() == {"last_read_id": newest_first[2], "unread": 2}
    assert alice_client.get("/api/events").json()["unread"] == 2
    alice_client.post("/api/events/read", {"up_to": newest_first[4]}, format="json")  # older: no step back
    assert alice_client.get("/api/events").json()["unread"] == 2
    assert alice_client.post("/api/events/read", {}, format="json").json()["unread"] == 0
    assert alice_client.post("/api/events/read", {"up_to": -1}, format="json").status_code == 400
    assert alice_client.post("/api/events/read", {"up_to": 2**63}, format="json").status_code == 400


def test_alice_sees_none_of_bobs_events(alice_client, grid, bobs_grid):
    assert alice_client.get(f"/api/strategies/{bobs_grid.pk}/events").status_code == 404
    assert alice_client.get("/api/events").json()["count"] == 0
    assert alice_client.get("/api/events", {"strategy": bobs_grid.pk}).json()["count"] == 0
    # Reading up to Bob's newest id marks nothing of Bob's read for him, and shows Alice nothing.
    bobs_id = StrategyEvent.objects.get(strategy=bobs_grid).pk
    assert alice_client.post("/api/events/read", {"up_to": bobs_id}, format="json").json()["unread"] == 0


def test_the_feed_reads_a_page_in_a_fixed_number_of_queries(alice_client, grid, django_assert_max_num_queries):
    timeline(grid)
    with django_assert_max_num_queries(8):
        assert alice_client.get("/api/events").status_code == 200
