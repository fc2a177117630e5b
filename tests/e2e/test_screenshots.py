"""Every page of the web app in a real browser, at a desktop's and a phone's width, light and dark (issue 10).

The pictures land in var/screenshots/ (README: Web app): look at them after changing a page. The test fails on any
error a page prints to the console and on any serious or critical axe-core violation, and checks that each page
shows what it is for.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import redis

from tests.e2e.webapp import Page, WebApp, shoot
from tests.factories import make_fill, make_order, make_paper_account, make_position, make_strategy
from tests.processes import free_port
from tests.test_runtime_api import fake_engine
from trading.runtime import coordination as co

pytestmark = pytest.mark.slow

PAGES = [
    Page("dashboard", "/", wait_for="main .dash-table, main .el-empty"),
    Page("workers", "/workers", wait_for="main .node-card, main .el-empty"),
    Page("accounts", "/accounts"),
    Page("strategies", "/strategies"),
    Page("strategy", "/strategies/1"),
    Page(
        "trades",
        "/trades",
        wait_for="main [data-test=trades-table]",
        steps=({"waitFor": "main [data-test=daily-pnl-chart] canvas"},),
    ),
    Page("security", "/security"),
    Page("not-found", "/no/such/page"),
    Page("sign-in", "/sign-in?next=/workers", wait_for=".sign-in", signed_in=False, text_of="body"),
]


def a_trading_day(alice, redis_client: redis.Redis) -> None:
    """What a user has after a day: a grid running on a node, one waiting to retry, one stopped holding a lot."""
    account = make_paper_account(alice, name="Paper 10k")
    running = make_strategy(alice, account, name="BTC grid", desired_state="running")
    retrying = make_strategy(alice, account, name="ETH grid", symbol="ETH/USDT", desired_state="running")
    stopped = make_strategy(alice, account, name="Idle grid")
    fake_engine(redis_client, running, ip="10.0.0.7", host="node-7")
    co.record_failure(redis_client, retrying.pk, "binance: invalid API key (code -2015)")
    co.heartbeat(redis_client, "10.0.0.8", "node-8", ttl_seconds=600)
    now = datetime.now(UTC)
    # Two earlier round trips (a gain, then a stop-loss) and today's: the trades page's daily bars go up and down.
    for days_ago, buy, sell, pnl, role in (
        (2, "29000", "29290", "0.23", "take_profit"),
        (1, "30000", "29640", "-0.42", "stop_loss"),
    ):
        bought_at, sold_at = now - timedelta(days=days_ago, hours=1), now - timedelta(days=days_ago)
        entry = make_order(running, "buy", buy, "0.001")
        exit_order = make_order(running, "sell", sell, "0.001", role=role)
        make_fill(entry, bought_at, fee=Decimal(buy) * Decimal("0.000001"), fee_currency="USDT")
        make_fill(exit_order, sold_at, fee=Decimal(sell) * Decimal("0.000001"), fee_currency="USDT")
        make_position(
            entry,
            bought_at,
            exit_order=exit_order,
            closed_at=sold_at,
            exit_price=Decimal(sell),
            realized_pnl=Decimal(pnl),
        )
    entry, exit_order = make_order(running, "buy", "29500", "0.001"), make_order(running, "sell", "29800", "0.001")
    make_fill(entry, now - timedelta(minutes=30), fee=Decimal("0.0295"), fee_currency="USDT")
    make_fill(exit_order, now, fee=Decimal("0.0298"), fee_currency="USDT")
    make_position(
        entry,
        exit_order=exit_order,
        closed_at=now,
        exit_price=Decimal(29800),
        realized_pnl=Decimal("0.24"),
    )
    held = make_order(stopped, "buy", "29000", "0.001")
    make_fill(held, now - timedelta(hours=3), fee=Decimal("0.000001"), fee_currency="BTC")
    make_position(held)


def test_every_page_at_both_widths_in_both_themes(web_apps: Callable[..., WebApp], alice, redis_client):
    a_trading_day(alice, redis_client)
    app = web_apps()

    shots = shoot(app, PAGES[:-1], alice, axe=True) | shoot(app, PAGES[-1:], None, axe=True)

    assert len(shots) == len(PAGES) * 4
    # Issue 10's accessibility budget: axe-core finds no serious or critical violation on any page, at either width,
    # in either theme (contrast differs between the themes, the layout between the widths).
    violations = [
        f"{name}: {v['id']} ({v['impact']}) at {v['targets']}" for name, s in shots.items() for v in s.violations
    ]
    assert violations == [], "\n".join(violations)
    for shot in shots.values():
        assert shot.errors == [], shot.name
        assert shot.file.stat().st_size > 5000, shot.name
    dashboard = shots["dashboard-desktop-light"].text
    for seen in ("BTC grid", "node-7", "30,000.01", "3 / 1", "+0.24", "ETH grid", "retrying"):
        assert seen in dashboard, seen
    assert "invalid API key" in dashboard and "Idle grid" in dashboard and "stopped" in dashboard
    assert "BTC grid" in shots["dashboard-phone-dark"].text
    workers = shots["workers-desktop-light"].text
    assert "node-7" in workers and "node-8" in workers and "BTC grid" in workers
    for name in ("trades-desktop-light", "trades-phone-dark"):
        trades = shots[name].text
        # 7 fills, at the market's precision in the reader's words; the totals per quote currency; the CSV link.
        for seen in ("BTC grid", "Idle grid", "29,800.00", "0.001", "Take profit", "Stop loss", "+0.05", "66.7%"):
            assert seen in trades, (name, seen)
        assert "7 trades" in trades and "Export CSV" in trades
    assert "Daily PnL" in shots["trades-phone-light"].text
    assert "Sign in to AresBot" in shots["sign-in-phone-dark"].text


def test_the_language_switch_reaches_every_word(web_apps: Callable[..., WebApp], alice, redis_client):
    a_trading_day(alice, redis_client)
    app = web_apps()

    shots = shoot(app, PAGES[:2], alice, widths=["desktop"], themes=["light"], locale="zh-CN")

    assert all(shot.errors == [] for shot in shots.values())
    assert "今日盈亏" in shots["dashboard-desktop-light-zh-CN"].text
    assert "运行中" in shots["dashboard-desktop-light-zh-CN"].text
    assert "最近上报" in shots["workers-desktop-light-zh-CN"].text


def test_a_visitor_without_a_session_is_sent_to_sign_in_and_back(web_apps: Callable[..., WebApp]):
    app = web_apps()

    [shot] = shoot(
        app,
        [Page("anonymous", "/workers", wait_for=".sign-in", signed_in=False)],
        None,
        widths=["desktop"],
        themes=["light"],
    ).values()

    assert shot.url.endswith("/sign-in?next=/workers")
    # The 401 that sent it there is expected; nothing else went wrong.
    assert all("401" in error for error in shot.errors), shot.errors


def test_the_dashboard_says_when_the_server_or_redis_is_down(web_apps: Callable[..., WebApp], alice, redis_client):
    a_trading_day(alice, redis_client)
    app = web_apps(redis_url=f"redis://127.0.0.1:{free_port()}/0")

    [shot] = shoot(
        app,
        [Page("redis-down", "/", wait_for="[data-test=unavailable-banner]")],
        alice,
        widths=["desktop"],
        themes=["light"],
    ).values()

    assert "The server or Redis is unavailable" in shot.text
    assert "Redis is unreachable" in shot.text
