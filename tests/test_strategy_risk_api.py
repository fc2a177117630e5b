"""GET /api/strategies/{id}/risk: a strategy's standing against its risk limits, by the engine's own rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from strategies.api import detail
from tests.factories import make_order, make_paper_account, make_position, make_strategy

D = Decimal
# 10:00 in Europe/Berlin (UTC+2 in summer): the local day started at 22:00 UTC the day before.
NOW = datetime(2026, 6, 2, 8, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def berlin(settings, monkeypatch):
    settings.TIME_ZONE = "Europe/Berlin"
    monkeypatch.setattr(detail, "now", lambda: NOW)


@pytest.fixture
def grid(alice):
    return make_strategy(
        alice,
        make_paper_account(alice),
        daily_loss_limit=D("10"),
        max_consecutive_losses=2,
        cooldown_minutes=30,
        max_positions=4,
    )


def closed(strategy, at: datetime, pnl: str) -> None:
    entry = make_order(strategy, "buy", "100", "1")
    make_position(
        entry,
        opened_at=at - timedelta(minutes=5),
        exit_order=make_order(strategy, "sell", "101", "1"),
        closed_at=at,
        exit_price=D("101"),
        sold_quantity=D("1"),
        realized_pnl=D(pnl),
    )


def risk(client, strategy) -> dict:
    r = client.get(f"/api/strategies/{strategy.pk}/risk")
    assert r.status_code == 200, r.content
    return r.json()


def test_a_fresh_strategy_has_used_none_of_its_limits(alice_client, grid):
    body = risk(alice_client, grid)
    assert body == {
        "time_zone": "Europe/Berlin",
        "day_started_at": "2026-06-01T22:00:00.000Z",
        "realized_today": "0",
        "daily_loss_used": "0",
        "daily_loss_limit": "10",
        "daily_limit_reached": False,
        "daily_resumes_at": None,
        "consecutive_losses": 0,
        "max_consecutive_losses": 2,
        "cooldown_minutes": 30,
        "cooldown_until": None,
        "open_positions": 0,
        "active_buys": 0,
        "max_positions": 4,
        "paused": [],
    }


def test_the_daily_loss_counts_from_local_midnight_and_gains_offset_losses(alice_client, grid):
    closed(grid, datetime(2026, 6, 1, 21, 59, tzinfo=UTC), "-50")  # yesterday, Berlin time
    closed(grid, datetime(2026, 6, 1, 22, 30, tzinfo=UTC), "-6")
    closed(grid, datetime(2026, 6, 2, 7, 0, tzinfo=UTC), "2.5")
    body = risk(alice_client, grid)
    assert (body["realized_today"], body["daily_loss_used"], body["daily_limit_reached"]) == ("-3.5", "3.5", False)
    # The last exit gained: the losing run ended.
    assert body["consecutive_losses"] == 0


def test_reaching_the_daily_limit_pauses_buys_until_local_midnight(alice_client, grid):
    closed(grid, datetime(2026, 6, 2, 1, 0, tzinfo=UTC), "-4")
    closed(grid, datetime(2026, 6, 2, 2, 0, tzinfo=UTC), "3")
    closed(grid, datetime(2026, 6, 2, 3, 0, tzinfo=UTC), "-9")
    body = risk(alice_client, grid)
    assert (body["daily_loss_used"], body["daily_limit_reached"]) == ("10", True)
    assert body["daily_resumes_at"] == "2026-06-02T22:00:00.000Z"
    assert body["paused"] and body["paused"][0].startswith("daily loss limit: realized -10")


def test_a_losing_streak_starts_a_cooldown_after_the_latest_loss(alice_client, grid):
    closed(grid, datetime(2026, 6, 2, 7, 40, tzinfo=UTC), "-1")
    assert (risk(alice_client, grid)["consecutive_losses"], risk(alice_client, grid)["cooldown_until"]) == (1, None)
    closed(grid, datetime(2026, 6, 2, 7, 45, tzinfo=UTC), "-1")
    body = risk(alice_client, grid)
    assert (body["consecutive_losses"], body["cooldown_until"]) == (2, "2026-06-02T08:15:00.000Z")
    assert any(reason.startswith("cooldown: last 2 exits lost") for reason in body["paused"])


def test_an_ended_cooldown_is_not_shown(alice_client, grid):
    closed(grid, datetime(2026, 6, 2, 7, 0, tzinfo=UTC), "-1")
    closed(grid, datetime(2026, 6, 2, 7, 10, tzinfo=UTC), "-1")
    body = risk(alice_client, grid)
    assert (body["consecutive_losses"], body["cooldown_until"], body["paused"]) == (2, None, [])


def test_the_streak_counts_exits_of_earlier_days(alice_client, grid):
    closed(grid, datetime(2026, 5, 30, 12, 0, tzinfo=UTC), "-1")
    closed(grid, datetime(2026, 5, 31, 12, 0, tzinfo=UTC), "-1")
    assert risk(alice_client, grid)["consecutive_losses"] == 2


def test_open_lots_and_resting_buys_count_against_max_positions(alice_client, grid):
    make_position(make_order(grid, "buy", "100", "1"))
    make_order(grid, "buy", "99", "1", status="open")
    make_order(grid, "sell", "102", "1", status="open")
    body = risk(alice_client, grid)
    assert (body["open_positions"], body["active_buys"], body["max_positions"]) == (1, 1, 4)


def test_without_limits_nothing_is_counted_against_them(alice_client, alice):
    strategy = make_strategy(alice, make_paper_account(alice))
    body = risk(alice_client, strategy)
    assert (body["daily_loss_limit"], body["max_consecutive_losses"], body["paused"]) == (None, None, [])


def test_someone_elses_strategy_answers_like_a_missing_one(alice_client, bob):
    theirs = make_strategy(bob, make_paper_account(bob))
    assert alice_client.get(f"/api/strategies/{theirs.pk}/risk").status_code == 404
    assert alice_client.get("/api/strategies/999999/risk").status_code == 404


def test_the_risk_answer_is_in_the_schema(alice_client):
    schema = alice_client.get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/strategies/{id}/risk"]["get"]
    assert "RiskState" in operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
