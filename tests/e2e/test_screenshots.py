"""Every page of the web app in a real browser, at a desktop's and a phone's width, light and dark (issue 10).

The pictures land in var/screenshots/ (README: Web app): look at them after changing a page. The test fails on any
error a page prints to the console and on any serious or critical axe-core violation, and checks that each page
shows what it is for.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import redis

from exchanges.paper.store import DbPaperStore, book_key
from notifications.models import NotificationChannel
from strategies.models import Strategy
from tests.e2e.webapp import Page, WebApp, shoot
from tests.factories import make_fill, make_order, make_paper_account, make_position, make_strategy
from tests.processes import free_port
from tests.test_runtime_api import fake_engine
from trading.events import EventKind, event, record_events
from trading.models import Order
from trading.runtime import coordination as co

pytestmark = pytest.mark.slow
D = Decimal

PAGES = [
    Page("dashboard", "/", wait_for="main .dash-table, main .el-empty"),
    Page("workers", "/workers", wait_for="main .node-card, main .el-empty"),
    Page("accounts", "/accounts"),
    Page("strategies", "/strategies"),
    Page(
        "strategy",
        "/strategies/{running}",  # the running grid's id: ids are not reset between tests on every database
        wait_for="main [data-test=open-orders]",
        steps=(
            {"waitFor": "main [data-test=price-chart] canvas"},
            {"waitFor": "main [data-test=open-lots]"},
            {"waitFor": "main [data-test=detail-trades]"},
            {"waitFor": "main [data-test=daily-loss]"},
            {"waitFor": "main [data-test=events]"},
        ),
    ),
    Page(
        "trades",
        "/trades",
        wait_for="main [data-test=trades-table]",
        steps=({"waitFor": "main [data-test=daily-pnl-chart] canvas"},),
    ),
    Page(
        "strategy-events-filter",
        "/strategies/{running}",
        wait_for="main [data-test=events]",
        # Two kinds from two groups picked, the grouped list left open over the filtered timeline.
        steps=(
            {"click": "main [data-test=events-kind]"},
            {"click": ".el-select-dropdown__item:has-text('Buys paused')"},
            {"click": ".el-select-dropdown__item:has-text('Error')"},
            # the list loaded for both kinds, not the one the first pick loaded
            {"waitFor": "main [data-test=events][data-filtered='error,paused']"},
        ),
        text_of="body",
    ),
    Page(
        "bell",
        "/",
        wait_for="main .dash-table",
        steps=({"click": "[data-test=events-bell]"}, {"waitFor": "[data-test=events-feed]"}),
        text_of="body",
    ),
    Page("notifications", "/notifications", wait_for="main [data-test=channels]"),
    Page(
        "notifications-form",
        "/notifications",
        wait_for="main [data-test=channels]",
        steps=({"click": "main [data-test=new-channel]"}, {"waitFor": "[data-test=channel-url]"}),
        text_of="body",
    ),
    Page("security", "/security"),
    Page("not-found", "/no/such/page"),
    Page("sign-in", "/sign-in?next=/workers", wait_for=".sign-in", signed_in=False, text_of="body"),
]


def a_trading_day(alice, redis_client: redis.Redis) -> Strategy:
    """What a user has after a day: a grid running on a node, one waiting to retry, one stopped holding a lot.

    The running grid's paper account replays the shipped BTC/USDT day at 10 times real time, started an hour ago:
    its chart has the candles of 06:40 to 10:00 of the data (39,410 to 39,636), and in the last quarter of an hour
    the grid bought twice and sold once, in that range. Two round trips of earlier days (a gain, then a stop-loss)
    give the trades page's daily bars something to go up and down with."""
    account = make_paper_account(
        alice, name="Paper 10k", price_source="replay", replay_dataset="BTCUSDT-1m-2022-05-05", replay_speed=D(10)
    )
    now = datetime.now(UTC)
    prices = account.paper_prices()
    assert prices is not None
    DbPaperStore(book_key(account.pk), account.paper_balances).ensure_feed_spec(
        "BTC/USDT", prices.feed_spec("BTC/USDT", now - timedelta(hours=1))
    )
    running = make_strategy(
        alice, account, name="BTC grid", desired_state="running", buy_offset_pct=D("0.1"), sell_offset_pct=D("0.5")
    )
    live = make_paper_account(alice, name="Paper live")
    retrying = make_strategy(alice, live, name="ETH grid", symbol="ETH/USDT", desired_state="running")
    stopped = make_strategy(alice, live, name="Idle grid")
    fake_engine(redis_client, running, ip="10.0.0.7", host="node-7")
    redis_client.hset(co.RUNNING_KEY.format(id=running.pk), "current_price", "39487.20")
    # The run takes minutes: the engine must still hold its lease when the last pages are photographed.
    for key in (co.LOCK_KEY, co.RUNNING_KEY):
        redis_client.expire(key.format(id=running.pk), 900)
    co.record_failure(redis_client, retrying.pk, "binance: invalid API key (code -2015)")
    co.heartbeat(redis_client, "10.0.0.8", "node-8", ttl_seconds=600)

    def filled(side: str, price: str, amount: str, at: datetime, role: str | None = None) -> Order:
        order = make_order(running, side, price, amount, **({"role": role} if role else {}))
        make_fill(order, at, fee=D(price) * D(amount) * D("0.001"), fee_currency="USDT")
        return order

    for days_ago, buy, sell, pnl, role in (
        (2, "29000", "29290", "0.23", "take_profit"),
        (1, "30000", "29640", "-0.42", "stop_loss"),
    ):
        bought_at, sold_at = now - timedelta(days=days_ago, hours=1), now - timedelta(days=days_ago)
        entry, exit_order = filled("buy", buy, "0.001", bought_at), filled("sell", sell, "0.001", sold_at, role)
        make_position(
            entry,
            bought_at,
            exit_order=exit_order,
            closed_at=sold_at,
            exit_price=D(sell),
            sold_quantity=D("0.001"),
            realized_pnl=D(pnl),
            exit_reason=role,
        )
    # Today: bought 0.002 at 39,420, sold at its take-profit 39,620: 0.4 less both fees (0.07884 + 0.07924).
    entry = filled("buy", "39420", "0.002", now - timedelta(minutes=15))
    exit_order = filled("sell", "39620", "0.002", now - timedelta(minutes=8))
    make_position(
        entry,
        now - timedelta(minutes=15),
        entry_cost=D("78.84"),
        entry_fee_quote=D("0.07884"),
        exit_order=exit_order,
        closed_at=now - timedelta(minutes=8),
        exit_price=D(39620),
        sold_quantity=D("0.002"),
        exit_proceeds=D("79.24"),
        exit_fee_quote=D("0.07924"),
        realized_pnl=D("0.24192"),
        exit_reason="take_profit",
    )
    # An open lot with its take-profit resting, and three grid buys below the price.
    lot = filled("buy", "39450", "0.002", now - timedelta(minutes=5))
    make_position(lot, now - timedelta(minutes=5), entry_cost=D("78.9"), entry_fee_quote=D("0.0789"))
    make_order(running, "sell", "39647.25", "0.002", status="open", parent=lot)
    for price in ("39410.55", "39371.14", "39331.77"):
        make_order(running, "buy", price, "0.002", status="open")
    held = make_order(stopped, "buy", "29000", "0.001")
    make_fill(held, now - timedelta(hours=3), fee=D("0.000001"), fee_currency="BTC")
    make_position(held)
    # The idle grid stopped by an administrator, hours ago (the feed lists events newest written first).
    record_events(
        stopped.pk,
        [event(EventKind.STOPPED, now - timedelta(hours=2, minutes=50), by="admin", cancel_mode="buys")],
    )
    # The running grid's timeline: started, a ladder placed, a failover of unknown length, the ladder trailed, a
    # pause for the loss streak, and an error seen 3 times.
    record_events(
        running.pk,
        [
            event(EventKind.STARTED, now - timedelta(minutes=40), node="node-7", ip="10.0.0.7", job="j-1"),
            event(EventKind.LADDER_PLACED, now - timedelta(minutes=39), symbol="BTC/USDT", anchor="39480", levels=5),
            event(
                EventKind.FAILED_OVER,
                now - timedelta(minutes=30),
                from_node="node-6",
                to_node="node-7",
                gap_seconds=None,
            ),
            event(
                EventKind.LADDER_TRAILED,
                now - timedelta(minutes=25),
                symbol="BTC/USDT",
                from_anchor="39480",
                to_anchor="39550",
            ),
            event(
                EventKind.PAUSED,
                now - timedelta(minutes=12),
                key="paused:cooldown",
                symbol="BTC/USDT",
                reason="cooldown",
                detail="3 losses in a row",
            ),
        ],
    )
    for minutes in (6, 4, 2):
        record_events(
            running.pk,
            [
                event(
                    EventKind.ERROR,
                    now - timedelta(minutes=minutes),
                    key="error:NetworkError",
                    error_class="NetworkError",
                    message="binance GET /api/v3/ticker timed out",
                )
            ],
        )
    for name, url, status, failure in (
        ("Phone (Telegram)", "tgram://123456:AAbbCCddEEff/987654", "ok", ""),
        ("Team webhook", "json://hooks.example.com/aresbot", "failing", "HTTP 502 from hooks.example.com"),
    ):
        channel = NotificationChannel(owner=alice, name=name, url=url)
        channel.full_clean()
        channel.save()
        NotificationChannel.objects.filter(pk=channel.pk).update(
            status=status,
            last_failure=failure,
            last_failure_at=now - timedelta(minutes=3) if failure else None,
            last_success_at=now - timedelta(hours=2),
        )
    return running


# Every page × 2 widths × 2 themes (+ zh-CN), each with axe: some 5 minutes on a busy 2-core machine.
@pytest.mark.timeout(900)
def test_every_page_at_both_widths_in_both_themes(web_apps: Callable[..., WebApp], alice, redis_client):
    running = a_trading_day(alice, redis_client)
    app = web_apps()
    pages = [replace(page, path=page.path.format(running=running.pk)) for page in PAGES]

    shots = shoot(app, pages[:-1], alice, axe=True) | shoot(app, pages[-1:], None, axe=True)

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
    for seen in ("BTC grid", "node-7", "39,487.20", "3 / 1", "+0.24", "ETH grid", "retrying"):
        assert seen in dashboard, seen
    assert "invalid API key" in dashboard and "Idle grid" in dashboard and "stopped" in dashboard
    assert "BTC grid" in shots["dashboard-phone-dark"].text
    workers = shots["workers-desktop-light"].text
    assert "node-7" in workers and "node-8" in workers and "BTC grid" in workers
    for name in ("trades-desktop-light", "trades-phone-dark"):
        trades = shots[name].text
        # 7 fills, at the market's precision in the reader's words; the totals per quote currency; the CSV link.
        for seen in (
            "BTC grid",
            "Idle grid",
            "29,640.00",
            "0.001",
            "Take profit",
            "Stop loss",
            "+0.05",
            "66.7%",
            "-0.42",
        ):
            assert seen in trades, (name, seen)
        assert "8 trades" in trades and "Export CSV" in trades
    assert "Daily PnL" in shots["trades-phone-light"].text
    for width in ("desktop", "phone"):
        detail = shots[f"strategy-{width}-light"].text
        for seen in ("BTC grid", "node-7", "10.0.0.7", "39,487.20", "4 orders", "39,410.55", "39,647.25"):
            assert seen in detail, (width, seen)
        # The open lot with its take-profit, the closed ones' results, its fills, and today's three on the chart.
        assert "1 open" in detail and "39,450.00" in detail and "+0.24" in detail and "-0.42" in detail, width
        assert "7 fills" in detail, width
        assert re.search(r"Fills on chart:\s*3\b", detail), (width, detail[detail.find("Fills on") :][:40])
        assert "Daily loss used" in detail, width
        # The timeline in the reader's words, a repeat counted once; the events other than fills as pins.
        for seen in ("Started on node-7", "Ladder of 5 levels placed below 39480", "Buys paused: loss-streak cooldown"):
            assert seen in detail, (width, seen)
        assert "NetworkError: binance GET /api/v3/ticker timed out (×3)" in detail, width
        assert "Failed over from node-6 to node-7 after an unknown gap" in detail, width
        # Two kinds at once: the pause and the error, nothing else.
        filtered = shots[f"strategy-events-filter-{width}-light"].text
        assert "Buys paused: loss-streak cooldown" in filtered and "NetworkError: binance" in filtered, width
        assert "Started on node-7" not in filtered and "Ladder trailed up" not in filtered, width
        assert "2 events" in filtered, width
        # The bell's list across strategies, opened (its unread count is in the picture).
        bell = shots[f"bell-{width}-light"].text
        for seen in ("Mark all read", "Stopped by an administrator, cancelling the buys", "Idle grid", "BTC grid"):
            assert seen in bell, (width, seen)
        assert "after an unknown gap" in bell, width
        assert re.search(r"Events shown\s*[1-9]", detail), (width, detail[detail.find("Events shown") :][:40])
        notifications = shots[f"notifications-{width}-light"].text
        for seen in ("Phone (Telegram)", "Team webhook", "Failing", "HTTP 502 from hooks.example.com", "Send test"):
            assert seen in notifications, (width, seen)
        assert "123456:AAbbCCddEEff" not in notifications, width
        form = shots[f"notifications-form-{width}-light"].text
        for seen in ("Apprise URL", "tgram://bottoken/ChatID", "Take-profit filled", "Daily summary"):
            assert seen in form, (width, seen)
    assert "Sign in to AresBot" in shots["sign-in-phone-dark"].text


def test_the_language_switch_reaches_every_word(web_apps: Callable[..., WebApp], alice, redis_client):
    running = a_trading_day(alice, redis_client)
    app = web_apps()

    pages = [
        replace(page, path=page.path.format(running=running.pk))
        for page in PAGES
        if page.name in ("dashboard", "workers", "trades", "strategy", "bell")
    ]
    shots = shoot(app, pages, alice, widths=["desktop"], themes=["light"], locale="zh-CN")

    assert all(shot.errors == [] for shot in shots.values())
    assert "今日盈亏" in shots["dashboard-desktop-light-zh-CN"].text
    assert "运行中" in shots["dashboard-desktop-light-zh-CN"].text
    assert "最近上报" in shots["workers-desktop-light-zh-CN"].text
    trades = shots["trades-desktop-light-zh-CN"].text
    for seen in ("8 笔成交", "每日盈亏", "胜率", "止盈", "导出 CSV"):
        assert seen in trades, seen
    detail = shots["strategy-desktop-light-zh-CN"].text
    bell = shots["bell-desktop-light-zh-CN"].text
    for seen in ("全部标为已读", "由管理员停止，撤销买单", "中断时长未知"):
        assert seen in bell, seen
    for seen in ("当前挂单", "4 个挂单", "持仓", "风控", "当日亏损已用", "7 笔成交", "图上成交：", "在 node-7 上启动"):
        assert seen in detail, seen


def test_the_trades_page_before_the_first_trade_points_to_the_strategies(web_apps: Callable[..., WebApp], alice):
    app = web_apps()

    shots = shoot(app, [Page("trades-empty", "/trades", wait_for="main .el-empty")], alice, axe=True)

    violations = [f"{name}: {v['id']} at {v['targets']}" for name, s in shots.items() for v in s.violations]
    assert violations == [], "\n".join(violations)
    for shot in shots.values():
        assert shot.errors == [], shot.name
        assert "No trades yet" in shot.text and "Go to strategies" in shot.text, shot.name


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
