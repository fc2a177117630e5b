"""The outbox in this process (fan-out, rendering, digests, failures and backoff) against a real HTTP receiver on
loopback reached through apprise's json:// URL, with the app's Redis for the per-channel send lock."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.utils import timezone

from notifications import outbox
from notifications.models import NotificationChannel, OutboxMessage
from tests.factories import make_paper_account, make_strategy
from tests.notifications.receiver import Receiver
from trading.events import EventKind, event, record_events
from trading.models import StrategyEvent

pytestmark = pytest.mark.django_db


def make_channel(owner, url: str, **fields) -> NotificationChannel:
    channel = NotificationChannel(owner=owner, name=fields.pop("name", "hook"), url=url, **fields)
    channel.full_clean()
    channel.save()
    return channel


def buy(strategy, price: str = "30000.10", amount: str = "0.00100") -> int:
    record_events(
        strategy.pk,
        [event(EventKind.BUY_FILLED, timezone.now(), symbol=strategy.symbol, price=D(price), amount=D(amount))],
    )
    return StrategyEvent.objects.latest("id").pk


@pytest.fixture
def grid(alice):
    return make_strategy(alice, make_paper_account(alice), name="grid")


def deliver_all() -> None:
    outbox.fan_out()
    for channel_id in OutboxMessage.objects.values_list("channel_id", flat=True).distinct():
        outbox.deliver_channel(channel_id)


def test_each_event_reaches_each_subscribed_channel_once_however_often_it_is_read(
    alice, grid, receiver: Receiver, redis_client
):
    channel = make_channel(alice, receiver.url, kinds=["buy_filled"])
    make_channel(alice, receiver.url + "/other", name="errors only", kinds=["error"])
    first, second = buy(grid), buy(grid, "29999.90")
    for _ in range(3):
        deliver_all()
    assert receiver.event_ids() == [first, second]
    assert set(OutboxMessage.objects.values_list("channel_id", "state")) == {(channel.pk, "sent")}
    assert "grid (BTC/USDT): bought 0.001 at 30000.1" in receiver.messages()[0]


def test_messages_are_in_the_channels_language(alice, grid, receiver: Receiver, redis_client):
    make_channel(alice, receiver.url, kinds=["buy_filled"], language="zh-hans")
    buy(grid)
    deliver_all()
    assert "以 30000.1 买入 0.001" in receiver.messages()[0]


def test_another_users_events_never_reach_my_channel(alice, bob, grid, receiver: Receiver, redis_client):
    make_channel(alice, receiver.url, kinds=["buy_filled"])
    bobs = make_strategy(bob, make_paper_account(bob), name="bobs grid")
    mine, _theirs = buy(grid), buy(bobs)
    deliver_all()
    assert receiver.event_ids() == [mine]
    assert "bobs grid" not in "".join(receiver.messages())


def test_a_burst_becomes_one_digest(alice, grid, receiver: Receiver, redis_client):
    make_channel(alice, receiver.url, kinds=["buy_filled"])
    ids = [buy(grid) for _ in range(outbox.BURST + 3)]
    deliver_all()
    assert len(receiver.bodies) == 1
    assert receiver.bodies[0]["title"] == f"AresBot: {len(ids)} events"
    assert receiver.event_ids() == ids


def test_a_failing_channel_is_marked_backed_off_and_recovers_without_holding_up_another(
    alice, grid, receiver: Receiver, redis_client
):
    with Receiver() as healthy:
        dead = make_channel(alice, receiver.url, name="dead", kinds=["buy_filled"])
        make_channel(alice, healthy.url, name="healthy", kinds=["buy_filled"])
        receiver.failing = True
        first = buy(grid)
        deliver_all()
        assert healthy.event_ids() == [first]
        dead.refresh_from_db()
        assert dead.status == "failing" and "500" in dead.last_failure
        row = OutboxMessage.objects.get(channel=dead)
        assert (row.state, row.attempts) == ("pending", 1)
        assert row.next_attempt_at >= timezone.now() + outbox.backoff(1) - timedelta(seconds=2)
        # not due yet: no send
        assert outbox.deliver_channel(dead.pk) == 0 and receiver.refused == 1

        receiver.failing = False
        OutboxMessage.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())  # the backoff has passed
        assert outbox.deliver_channel(dead.pk) == 1
        assert receiver.event_ids() == [first]
        dead.refresh_from_db()
        assert dead.status == "ok"


def test_backoff_doubles_and_is_capped():
    assert [outbox.backoff(n).total_seconds() for n in (1, 2, 3)] == [10, 20, 40]
    assert outbox.backoff(30) == outbox.MAX_BACKOFF


def test_backoff_starts_from_the_setting_read_at_each_call(settings):
    settings.NOTIFY_BASE_BACKOFF_SECONDS = 0.5
    assert [outbox.backoff(n).total_seconds() for n in (1, 2, 3)] == [0.5, 1, 2]


def test_a_message_given_up_after_the_last_attempt_is_dead(alice, grid, receiver: Receiver, redis_client):
    channel = make_channel(alice, receiver.url, kinds=["buy_filled"])
    receiver.failing = True
    buy(grid)
    outbox.fan_out()
    OutboxMessage.objects.update(attempts=outbox.MAX_ATTEMPTS - 1)
    outbox.deliver_channel(channel.pk)
    assert OutboxMessage.objects.get().state == "dead"


def test_a_channel_added_later_does_not_receive_the_backlog(alice, grid, receiver: Receiver, redis_client):
    buy(grid)
    outbox.fan_out()
    make_channel(alice, receiver.url, kinds=["buy_filled"])
    outbox.FanOutMark.objects.update(last_event_id=0)  # read everything again
    deliver_all()
    assert receiver.bodies == []


@pytest.mark.parametrize(
    ("language", "kind", "data", "expected"),
    [
        (
            "en",
            "take_profit_filled",
            {"symbol": "BTC/USDT", "price": "30300.10", "amount": "0.001", "lot_pnl": "0.29987654321", "quote": "USDT"},
            "grid (BTC/USDT): take-profit sold 0.001 at 30300.10, lot PnL 0.30 USDT (#7)",
        ),
        (
            "zh-hans",
            "stop_loss_sold",
            {"symbol": "DOGE/USDT", "price": "0.07123", "amount": "100", "lot_pnl": "-0.1234567", "quote": "USDT"},
            "grid (DOGE/USDT): 止损以 0.07123 卖出 100，本笔盈亏 -0.12346 USDT (#7)",
        ),
        (
            "en",
            "take_profit_filled",
            # the recorded price lost its trailing zero (0.07120): the tick says five places
            {"price": "0.0712", "amount": "100", "lot_pnl": "0.1234567", "quote": "USDT", "tick": "0.00001"},
            "grid (BTC/USDT): take-profit sold 100 at 0.0712, lot PnL 0.12346 USDT (#7)",
        ),
        (
            "en",
            "error",
            {"error_class": "AuthenticationError", "message": "bad request apiKey=abcdef123456 rejected"},
            "grid (BTC/USDT): error AuthenticationError: bad request apiKey=[redacted] rejected (#7)",
        ),
        (
            "en",
            "ladder_trailed",
            {"symbol": "BTC/USDT", "from_anchor": "30000", "to_anchor": "30500"},
            "grid (BTC/USDT): ladder trailed up from 30000 to 30500 (#7)",
        ),
    ],
)
def test_event_lines(language, kind, data, expected):
    from notifications.render import EventFacts, event_line

    assert event_line(language, EventFacts(7, kind, 1, "grid", "BTC/USDT", data)) == expected


def test_a_repeated_error_shows_its_count():
    from notifications.render import EventFacts, event_line

    line = event_line("en", EventFacts(3, "error", 12, "grid", "BTC/USDT", {"error_class": "X", "message": "m"}))
    assert line.endswith("(×12) (#3)")


def test_an_engines_events_arrive_once_each_rendered_from_their_data(alice, grid, receiver: Receiver, redis_client):
    """A real engine (tests/core/harness.py) on the ORM journal: its events, read twice, arrive once each, in the
    channel's words with every fact filled in (no `?` for a key the message expects and the event lacks)."""
    from notifications.kinds import EVENT_KINDS
    from tests.core.harness import Harness
    from trading.journal import OrmJournal

    make_channel(alice, receiver.url, kinds=list(EVENT_KINDS))
    h = Harness("30000", journal=OrmJournal(grid.pk), strategy_id=grid.pk, grid_levels=3)
    h.start()
    h.step("29650")
    h.step("29997.01")
    deliver_all()
    outbox.FanOutMark.objects.update(last_event_id=0)
    deliver_all()
    ids = list(StrategyEvent.objects.filter(strategy=grid).order_by("id").values_list("id", flat=True))
    assert len(ids) >= 3 and receiver.event_ids() == ids
    text = "\n".join(receiver.messages())
    assert "?" not in text
    assert "take-profit sold" in text and "lot PnL 0.16 USDT" in text
