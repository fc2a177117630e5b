"""Every strategy parameter at its boundaries, through the API (the admin parity lives in test_admin.py)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from rest_framework.test import APIClient

from aresbot.redis import get_redis
from strategies.models import Strategy
from tests.factories import make_order, make_paper_account, make_position, make_strategy
from trading.models import Order, Position


@pytest.fixture
def account(alice):
    return make_paper_account(alice)


def payload(account, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "btc grid",
        "account": account.id,
        "symbol": "BTC/USDT",
        "grid_levels": 5,
        "buy_offset_pct": "1",
        "sell_offset_pct": "1.5",
        "order_size_quote": "25",
        "reprice_threshold_pct": "2",
        "loop_interval": "1",
        "max_positions": 10,
        "cooldown_minutes": 0,
    }
    data.update(overrides)
    return data


# (field, lowest accepted, just below, highest accepted, just above)
BOUNDARIES = [
    ("grid_levels", 1, 0, 100, 101),
    ("buy_offset_pct", "0.01", "0.0099", "50", "50.0001"),
    ("sell_offset_pct", "0.01", "0.0099", "100", "100.0001"),
    ("order_size_quote", "0.00000001", "0", "1000000000", "1000000000.00000001"),
    ("reprice_threshold_pct", "0.01", "0.0099", "100", "100.0001"),
    ("loop_interval", "0.5", "0.499", "3600", "3600.001"),
    ("max_positions", 1, 0, 1000, 1001),
    ("stop_loss_pct", "0.01", "0.0099", "99.99", "100"),
    ("time_stop_hours", "0.01", "0", "8760", "8760.01"),
    ("daily_loss_limit", "0.00000001", "0", "1000000000", "1000000000.00000001"),
    ("max_consecutive_losses", 1, 0, 100, 101),
    ("cooldown_minutes", 0, -1, 10080, 10081),
]


@pytest.mark.parametrize(("field", "low", "below", "high", "above"), BOUNDARIES)
def test_it_accepts_each_field_at_its_bounds_and_rejects_just_outside(
    alice_client: APIClient, account, offline_exchanges, field, low, below, high, above
):
    # Cross-field rules stay satisfied so that only the field under test decides the outcome.
    extras: dict[str, dict[str, Any]] = {
        "grid_levels": {"buy_offset_pct": "0.5"},
        "buy_offset_pct": {"grid_levels": 1},
        "max_consecutive_losses": {"cooldown_minutes": 5},
    }
    extra = extras.get(field, {})
    if field == "max_positions":  # on a market that states no open-order cap (Binance's is 200: test_symbol_check)
        [btc] = [s for s in offline_exchanges.exchange_info["symbols"] if s["symbol"] == "BTCUSDT"]
        btc["filters"] = [f for f in btc["filters"] if f["filterType"] != "MAX_NUM_ORDERS"]
        get_redis().delete("markets:binance")  # loaded again, from this fake
    for i, value in enumerate((low, high)):
        r = alice_client.post(
            "/api/strategies", payload(account, name=f"ok {i}", **{field: value}, **extra), format="json"
        )
        assert r.status_code == 201, (field, value, r.json())
        assert Decimal(str(r.json()[field])) == Decimal(str(value))
    for value in (below, above):
        r = alice_client.post("/api/strategies", payload(account, name="bad", **{field: value}, **extra), format="json")
        assert r.status_code == 400, (field, value)
        assert field in r.json(), r.json()
    assert not Strategy.objects.filter(name="bad").exists()


def test_it_names_the_allowed_range_in_the_message(alice_client, account):
    r = alice_client.post("/api/strategies", payload(account, grid_levels=101), format="json")
    assert r.json()["grid_levels"] == ["Must be between 1 and 100 levels."]
    r = alice_client.post("/api/strategies", payload(account, sell_offset_pct="0"), format="json")
    assert r.json()["sell_offset_pct"] == ["Must be between 0.01 and 100 %."]


def test_it_rejects_a_ladder_that_would_reach_zero(alice_client, account):
    r = alice_client.post("/api/strategies", payload(account, grid_levels=10, buy_offset_pct="10"), format="json")
    assert r.status_code == 400
    assert "below 10.0000 %" in r.json()["buy_offset_pct"][0]
    r = alice_client.post("/api/strategies", payload(account, grid_levels=10, buy_offset_pct="9.99"), format="json")
    assert r.status_code == 201


def test_it_requires_a_cooldown_when_a_loss_streak_limit_is_set(alice_client, account):
    r = alice_client.post(
        "/api/strategies", payload(account, max_consecutive_losses=3, cooldown_minutes=0), format="json"
    )
    assert r.status_code == 400
    assert "cooldown_minutes" in r.json()
    r = alice_client.post(
        "/api/strategies", payload(account, max_consecutive_losses=3, cooldown_minutes=1), format="json"
    )
    assert r.status_code == 201


def test_optional_risk_rules_can_be_switched_off_with_null(alice_client, account):
    data = payload(
        account, stop_loss_pct=None, time_stop_hours=None, daily_loss_limit=None, max_consecutive_losses=None
    )
    r = alice_client.post("/api/strategies", data, format="json")
    assert r.status_code == 201
    assert r.json()["stop_loss_pct"] is None


@pytest.mark.parametrize("symbol", ["BTCUSDT", "BTC-USDT", "BTC/", "/USDT", "BTC/USDT/EUR", "BTC /USDT", "", "₿/USDT"])
def test_it_rejects_malformed_symbols(alice_client, account, symbol):
    r = alice_client.post("/api/strategies", payload(account, symbol=symbol), format="json")
    assert r.status_code == 400
    assert "symbol" in r.json()


def test_it_normalises_the_symbol_and_name(alice_client, account):
    r = alice_client.post("/api/strategies", payload(account, symbol=" eth/usdt ", name="  spaced  "), format="json")
    assert r.status_code == 201
    assert r.json()["symbol"] == "ETH/USDT"
    assert r.json()["name"] == "spaced"


def test_it_rejects_a_duplicate_name_for_the_same_owner_only(alice_client, bob_client, account, bob):
    make_strategy(account.owner, account, name="Grid A")
    r = alice_client.post("/api/strategies", payload(account, name="grid a"), format="json")
    assert r.status_code == 400
    assert "already have a strategy" in r.json()["name"][0]
    bob_account = make_paper_account(bob)
    r = bob_client.post("/api/strategies", payload(bob_account, name="Grid A"), format="json")
    assert r.status_code == 201


def test_too_many_decimal_places_are_refused_not_rounded(alice_client, account):
    r = alice_client.post("/api/strategies", payload(account, buy_offset_pct="1.00001"), format="json")
    assert r.status_code == 400
    assert "buy_offset_pct" in r.json()


def test_desired_state_cannot_be_written_through_crud(alice_client, account):
    r = alice_client.post("/api/strategies", payload(account, desired_state="running"), format="json")
    assert r.status_code == 201
    assert r.json()["desired_state"] == "stopped"


def test_partial_update_validates_against_the_stored_values(alice_client, account):
    strategy = make_strategy(account.owner, account, grid_levels=10, buy_offset_pct=Decimal("5"))
    r = alice_client.patch(f"/api/strategies/{strategy.id}", {"buy_offset_pct": "10"}, format="json")
    assert r.status_code == 400
    strategy.refresh_from_db()
    assert strategy.buy_offset_pct == Decimal("5")
    r = alice_client.patch(f"/api/strategies/{strategy.id}", {"grid_levels": 2}, format="json")
    assert r.status_code == 200
    assert r.json()["grid_levels"] == 2


def test_a_running_strategy_keeps_its_symbol_and_account(alice_client, account):
    strategy = make_strategy(account.owner, account)
    Strategy.objects.filter(pk=strategy.pk).update(desired_state="running")
    r = alice_client.patch(f"/api/strategies/{strategy.id}", {"symbol": "ETH/USDT"}, format="json")
    assert r.status_code == 400
    assert "Stop the strategy" in r.json()["symbol"][0]
    r = alice_client.patch(f"/api/strategies/{strategy.id}", {"sell_offset_pct": "2"}, format="json")
    assert r.status_code == 200


def test_deleting_a_running_strategy_is_refused(alice_client, account):
    strategy = make_strategy(account.owner, account)
    Strategy.objects.filter(pk=strategy.pk).update(desired_state="running")
    r = alice_client.delete(f"/api/strategies/{strategy.id}")
    assert r.status_code == 409
    assert "stop it before deleting" in r.json()["detail"]
    assert Strategy.objects.filter(pk=strategy.pk).exists()
    Strategy.objects.filter(pk=strategy.pk).update(desired_state="stopped")
    assert alice_client.delete(f"/api/strategies/{strategy.id}").status_code == 204
    assert not Strategy.objects.filter(pk=strategy.pk).exists()


def test_deleting_a_stopped_strategy_removes_its_trade_history(alice_client, account):
    strategy = make_strategy(account.owner, account)
    make_position(make_order(strategy, "buy", "100", "1"))
    assert alice_client.delete(f"/api/strategies/{strategy.id}").status_code == 204
    assert not Order.objects.exists()
    assert not Position.objects.exists()
