"""The daily summary at a channel's hour in TIME_ZONE (Asia/Shanghai in the tests), once a day, to a real receiver."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest

from notifications.models import NotificationChannel
from notifications.summary import SUMMARY_RETRY, send_summaries
from tests.factories import make_fill, make_order, make_paper_account, make_position, make_strategy
from tests.notifications.receiver import Receiver
from tests.notifications.test_outbox import make_channel
from trading.events import EventKind, event, record_events

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
EIGHT_PM = datetime(2026, 3, 2, 20, 0, 30, tzinfo=SHANGHAI)


@pytest.fixture
def trades(alice, bob):
    grid = make_strategy(alice, make_paper_account(alice))
    eth = make_strategy(alice, make_paper_account(alice, name="p2"), name="eth", symbol="ETH/BTC")
    during = EIGHT_PM - timedelta(hours=3)
    for strategy, pnl, price in (
        (grid, "1.23456789", "30300.10"),
        (grid, "0.5", "30300.20"),
        (eth, "0.0000123", "0.051234"),
    ):
        entry = make_order(strategy, "buy", "100", "1")
        make_fill(entry, during)
        make_position(
            entry,
            during,
            closed_at=during,
            exit_price=D(price),
            realized_pnl=D(pnl),
            exit_reason="take_profit",
        )
    make_position(make_order(grid, "buy", "100", "1"), during)  # still open
    old = make_order(grid, "buy", "100", "1")
    make_fill(old, EIGHT_PM - timedelta(days=2))  # before the window
    record_events(grid.pk, [event(EventKind.ERROR, during, key="e", error_class="X", message="m")] * 3)
    bobs = make_strategy(bob, make_paper_account(bob))
    make_fill(make_order(bobs, "buy", "100", "1"), during)


def test_the_summary_goes_at_the_hour_once_with_pnl_per_quote(alice, trades, receiver: Receiver):
    channel = make_channel(alice, receiver.url, kinds=["daily_summary"], summary_hour=20)
    assert send_summaries(EIGHT_PM - timedelta(minutes=5)) == []
    assert send_summaries(EIGHT_PM) == [channel.pk]
    assert send_summaries(EIGHT_PM + timedelta(hours=1)) == []
    (body,) = receiver.bodies
    assert body["title"] == "AresBot daily summary 2026-03-02"
    assert body["message"].splitlines() == [
        "PnL 0.000012 BTC",  # at the price's places (0.051234)
        "PnL 1.73 USDT",
        "fills: 3, cycles: 3, open positions: 1, errors: 3",
    ]
    assert send_summaries(EIGHT_PM + timedelta(days=1)) == [channel.pk]


def test_the_summary_in_chinese_and_only_for_channels_that_want_it(alice, trades, receiver: Receiver):
    make_channel(alice, receiver.url, name="zh", kinds=["daily_summary"], language="zh-hans", summary_hour=8)
    make_channel(alice, receiver.url + "/x", name="errors", kinds=["error"], summary_hour=8)
    send_summaries(EIGHT_PM)
    (body,) = receiver.bodies
    assert body["title"] == "AresBot 每日汇总 2026-03-02"
    assert "成交：0" in body["message"]  # the 24 hours before 08:00 held no trade


def test_a_failed_summary_is_tried_again_after_a_pause(alice, trades, receiver: Receiver):
    channel = make_channel(alice, receiver.url, kinds=["daily_summary"], summary_hour=20)
    receiver.failing = True
    assert send_summaries(EIGHT_PM) == []
    assert NotificationChannel.objects.get(pk=channel.pk).status == "failing"
    receiver.failing = False
    # not every minute: a dead service would cost the notify worker its timeouts each pass
    assert send_summaries(EIGHT_PM + timedelta(minutes=1)) == []
    assert receiver.refused == 1
    assert send_summaries(EIGHT_PM + SUMMARY_RETRY + timedelta(minutes=1)) == [channel.pk]
    assert len(receiver.bodies) == 1
    assert NotificationChannel.objects.get(pk=channel.pk).status == "ok"


def test_a_summary_hour_out_of_range_is_a_400(alice_client):
    r = alice_client.post(
        "/api/notifications/channels",
        {"name": "x", "url": "json://127.0.0.1:9/", "summary_hour": 24},
        format="json",
    )
    assert r.status_code == 400 and "summary_hour" in r.json()
