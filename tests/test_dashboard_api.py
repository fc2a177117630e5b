"""GET /api/strategies/dashboard: the web app's dashboard in one answer per poll (issue 10)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import redis

from strategies.dashboard import dashboard, start_of_today
from strategies.models import Strategy
from tests.factories import make_order, make_paper_account, make_position, make_strategy
from tests.test_runtime_api import fake_engine
from trading.runtime import coordination as co


@pytest.fixture(autouse=True)
def _empty_redis(redis_client: redis.Redis) -> None:
    """Every test here starts and ends with the app's Redis database empty."""


def closed_lot(strategy: Strategy, pnl: str, closed_at: datetime) -> None:
    entry = make_order(strategy, "buy", "100", "1")
    exit_order = make_order(strategy, "sell", "101", "1")
    make_position(
        entry, exit_order=exit_order, closed_at=closed_at, exit_price=Decimal("101"), realized_pnl=Decimal(pnl)
    )


def open_lot(strategy: Strategy) -> None:
    make_position(make_order(strategy, "buy", "100", "1"))


def test_it_lists_every_strategy_with_its_engine_report_and_today_s_pnl_per_quote_currency(
    alice_client, alice, redis_client, settings
):
    settings.TIME_ZONE = "Asia/Shanghai"
    account = make_paper_account(alice, name="paper main")
    btc = make_strategy(alice, account, name="a-btc")
    eth = make_strategy(alice, account, name="b-eth", symbol="ETH/USDT")
    ethbtc = make_strategy(alice, account, name="c-ethbtc", symbol="ETH/BTC")
    idle = make_strategy(alice, account, name="d-idle")
    Strategy.objects.filter(pk__in=[btc.pk, eth.pk, ethbtc.pk]).update(desired_state="running")
    fake_engine(redis_client, btc, ip="10.0.0.7", host="node-7")
    co.record_failure(redis_client, eth.pk, "binance: invalid API key")
    now = datetime.now(UTC)
    closed_lot(btc, "1.25", now)
    closed_lot(btc, "-0.5", now)
    closed_lot(eth, "0.000000000000000001", now)
    closed_lot(ethbtc, "0.0003", now)
    closed_lot(idle, "99", start_of_today(now) - timedelta(seconds=1))
    open_lot(btc)
    open_lot(idle)

    body = alice_client.get("/api/strategies/dashboard").json()

    assert [row["name"] for row in body["strategies"]] == ["a-btc", "b-eth", "c-ethbtc", "d-idle"]
    first, second, third, fourth = body["strategies"]
    assert first["desired_state"] == "running" and first["running"] is True
    assert first["node"] == {"ip": "10.0.0.7", "hostname": "node-7"}
    assert first["status"]["current_price"] == "30000.01"
    assert (first["status"]["pending_buys"], first["status"]["pending_sells"]) == (3, 1)
    assert first["account"] == {"id": account.pk, "name": "paper main", "exchange": "paper"}
    assert first["quote_currency"] == "USDT"
    assert first["today_pnl"] == "0.75"
    assert first["open_positions"] == 1
    assert first["loop_interval"] == "1"
    assert second["status"] is None and second["running"] is False
    assert second["retry_after_error"] == "binance: invalid API key"
    assert third["quote_currency"] == "BTC" and third["today_pnl"] == "0.0003"
    # Stopped, with a lot still held and only yesterday's PnL.
    assert fourth["desired_state"] == "stopped" and fourth["today_pnl"] is None and fourth["open_positions"] == 1
    # Summed exactly, per currency: 0.75 + 1e-18 USDT is not rounded into a float.
    assert body["today_pnl"] == {"BTC": "0.0003", "USDT": "0.750000000000000001"}
    assert body["time_zone"] == "Asia/Shanghai"
    assert body["server_time"].endswith("Z")


@pytest.mark.django_db
def test_today_starts_at_midnight_in_time_zone(alice, settings, redis_client):
    settings.TIME_ZONE = "Asia/Shanghai"  # UTC+8: midnight there is 16:00 UTC the day before
    grid = make_strategy(alice, make_paper_account(alice))
    closed_lot(grid, "5", datetime(2022, 5, 4, 15, 59, 59, tzinfo=UTC))  # 23:59:59 on the 4th in Shanghai
    closed_lot(grid, "2", datetime(2022, 5, 4, 16, 0, 0, tzinfo=UTC))  # 00:00:00 on the 5th
    closed_lot(grid, "3", datetime(2022, 5, 5, 10, 0, 0, tzinfo=UTC))

    body = dashboard(alice, now=datetime(2022, 5, 5, 12, 0, tzinfo=UTC))

    assert body["day_started_at"] == "2022-05-04T16:00:00.000Z"
    assert body["strategies"][0]["today_pnl"] == "5"
    assert body["today_pnl"] == {"USDT": "5"}


def test_one_poll_costs_three_queries_however_many_strategies(
    alice_client, alice, redis_client, django_assert_max_num_queries
):
    account = make_paper_account(alice)
    strategies = [make_strategy(alice, account, name=f"g{i:02}") for i in range(30)]
    for s in strategies[:20]:
        fake_engine(redis_client, s)
        closed_lot(s, "1", datetime.now(UTC))
        open_lot(s)

    with django_assert_max_num_queries(3):
        body = alice_client.get("/api/strategies/dashboard").json()

    assert len(body["strategies"]) == 30
    assert sum(1 for row in body["strategies"] if row["running"]) == 20
    assert body["today_pnl"] == {"USDT": "20"}


def test_it_shows_only_the_caller_s_strategies(bob_client, alice, redis_client):
    grid = make_strategy(alice, make_paper_account(alice))
    fake_engine(redis_client, grid)
    closed_lot(grid, "1", datetime.now(UTC))

    body = bob_client.get("/api/strategies/dashboard").json()

    assert body["strategies"] == [] and body["today_pnl"] == {}
