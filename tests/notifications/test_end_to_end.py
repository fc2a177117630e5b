"""Strategy events end to end: real engines on real `rqworker strategies` processes trade paper accounts whose
prices replay crafted candle files (tests/fixtures/events-*.csv), a real NotifyWorker delivers through apprise to
webhook receivers on loopback, and the cron passes (notify_pass, supervise) run as the scheduler runs them.

One run produces every event kind: the ladder strategy places its ladder, fills a buy and its take-profit, trails
up, meets an exchange outage (a gap in its candles: error, paused, resumed), is crashed through five levels (a
burst of fills and a stop-loss) and sells the rest by its time stop; the keeper skips the levels its order size
cannot place, has its BTC sold by hand under it (a balance gap), is handed over (SIGTERM), failed over (kill -9)
and stopped. Bob trades beside alice. Alice has two channels (English, and Chinese, which fails at first).
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial

import pytest
import redis
from django.db import connection
from rq import Worker as RqWorker

from aresbot.redis import get_rq_redis
from exchanges.base import OrderRequest, OrderType, Side
from exchanges.clock import SystemClock
from exchanges.paper.exchange import PaperExchange
from exchanges.paper.feeds import feed_from_spec
from exchanges.paper.store import DbPaperStore, book_key
from notifications import outbox
from notifications.models import NotificationChannel, OutboxMessage
from strategies.services import start_strategy, stop_strategy
from tests.factories import make_paper_account, make_strategy
from tests.notifications.receiver import EVENT_REF, Receiver
from tests.notifications.test_outbox import make_channel
from tests.processes import RedisServer, wait_until
from tests.runtime.cluster import ROOT, Worker, running_on, worker_env
from trading.core.events import EventKind
from trading.models import Order, StrategyEvent
from trading.runtime.jobs import supervise
from trading.runtime.queues import NOTIFY_QUEUE

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

LADDER = ROOT / "tests" / "fixtures" / "events-ladder-1m.csv"
DIP = ROOT / "tests" / "fixtures" / "events-dip-1m.csv"
SPEED = 60  # a one-minute candle a second
CRASH_AT = 20  # seconds after the replay starts: the ladder file's crash candle
ALL_KINDS = [str(kind) for kind in EventKind]
# Five strategy nodes (ladder, keeper, bob's, and two that take the keeper over), told apart by WORKER_IP.
NODES = [f"10.77.0.{n}" for n in range(1, 6)]

# A fixed phrase of each kind's message per language: the line says what happened, in the channel's language.
PHRASES = {
    "en": {
        "started": "started on ",
        "stopped": "stopped by ",
        "handed_over": "handed over by ",
        "failed_over": "failed over from ",
        "buy_filled": ": bought ",
        "take_profit_filled": "take-profit sold ",
        "stop_loss_sold": "stop-loss sold ",
        "time_stop_sold": "time-stop sold ",
        "ladder_placed": "ladder placed at ",
        "ladder_trailed": "ladder trailed up from ",
        "paused": "buys paused: ",
        "resumed": "buys resumed: ",
        "level_skipped": "levels skipped: ",
        "error": "error ",
        "balance_gap": "balance gap: ",
    },
    "zh-hans": {
        "started": "上启动",
        "stopped": "停止",
        "handed_over": "交接",
        "failed_over": "故障转移到",
        "buy_filled": "买入",
        "take_profit_filled": "止盈以",
        "stop_loss_sold": "止损以",
        "time_stop_sold": "超时以",
        "ladder_placed": "挂出网格",
        "ladder_trailed": "网格从",
        "paused": "暂停买入：",
        "resumed": "恢复买入：",
        "level_skipped": "跳过档位：",
        "error": "错误 ",
        "balance_gap": "余额缺口：",
    },
}


@pytest.fixture
def nodes(private_redis_server: RedisServer) -> Iterator[dict[str, Worker]]:
    """The strategy workers by WORKER_IP, and a NotifyWorker whose retries start after 1 s, not 10; all listening."""
    started = {ip: Worker(worker_env(private_redis_server.url, WORKER_IP=ip)) for ip in NODES}
    notifier = Worker(
        worker_env(private_redis_server.url, NOTIFY_BASE_BACKOFF_SECONDS="1"),
        queue=NOTIFY_QUEUE,
        worker_class="NotifyWorker",
    )
    pids = {w.proc.pid for w in [*started.values(), notifier]}
    wait_until(lambda: pids <= {w.pid for w in RqWorker.all(connection=get_rq_redis())}, 60, "every worker to listen")
    yield started
    for worker in [*started.values(), notifier]:
        worker.stop()


class Cron(threading.Thread):
    """The scheduler's two passes that matter here: notify_pass every half second (unless `held()`), supervise
    every second (it restarts the handed-over and the failed strategy)."""

    def __init__(self, held: Callable[[], bool]) -> None:
        super().__init__(daemon=True)
        self.held = held
        self.done = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        next_supervise = 0.0
        try:
            while not self.done.is_set():
                if not self.held():
                    outbox.notify_pass()
                if time.monotonic() >= next_supervise:
                    next_supervise = time.monotonic() + 1
                    try:
                        supervise()
                    except redis.RedisError:
                        pass  # the cron job simply runs again
                self.done.wait(0.5)
        except BaseException as exc:  # reported by the test, not lost in a thread
            self.error = exc
        finally:
            connection.close()

    def __enter__(self) -> Cron:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.join(10)


def replay_strategy(owner, name: str, candles, start: datetime, **values):
    account = make_paper_account(owner, name=f"paper {name}")
    DbPaperStore(book_key(account.pk), account.paper_balances).ensure_feed_spec(
        "BTC/USDT", {"kind": "replay", "path": str(candles), "start": start.isoformat(), "speed": SPEED}
    )
    return make_strategy(owner, account, name=name, loop_interval=Decimal("0.5"), **values)


def events(strategy, kind: str) -> list[StrategyEvent]:
    return list(StrategyEvent.objects.filter(strategy=strategy, kind=kind).order_by("id"))


def sell_by_hand(account) -> None:
    """What a trader does on the exchange's own site: cancel the bot's take-profit and sell the BTC at market."""
    store = DbPaperStore(book_key(account.pk))
    feed = feed_from_spec(store.feed_specs()["BTC/USDT"])
    exchange = PaperExchange(store, feeds={"BTC/USDT": feed}, clock=SystemClock())
    for order in exchange.fetch_open_orders("BTC/USDT"):
        if order.side is Side.SELL:
            exchange.cancel_order("BTC/USDT", order.client_order_id)
    btc = exchange.fetch_balance()["BTC"].free
    exchange.place_order(OrderRequest("by-hand-1", "BTC/USDT", Side.SELL, OrderType.MARKET, btc))


def lines(receiver: Receiver) -> dict[int, list[str]]:
    """Each received line by the event id it cites."""
    found: dict[int, list[str]] = {}
    for message in receiver.messages():
        for line in message.splitlines():
            for ref in EVENT_REF.findall(line):
                found.setdefault(int(ref), []).append(line)
    return found


def owned_ids(owner, channel: NotificationChannel) -> list[int]:
    return list(
        StrategyEvent.objects.filter(strategy__owner=owner, id__gt=channel.after_event_id)
        .order_by("id")
        .values_list("id", flat=True)
    )


def test_a_real_run_notifies_every_event_kind_once_per_channel_in_its_language(
    alice, bob, private_redis, nodes: dict[str, Worker]
):
    with Receiver() as english, Receiver() as chinese, Receiver() as bobs_hook:
        chinese.failing = True  # its service is down at first
        phone = make_channel(alice, english.url, name="phone", kinds=ALL_KINDS)
        form_url = f"form://127.0.0.1:{chinese.port}/hook"
        shouji = make_channel(alice, form_url, name="手机", kinds=ALL_KINDS, language="zh-hans")
        bobs_phone = make_channel(bob, bobs_hook.url, name="phone", kinds=ALL_KINDS)

        # The replays start once every engine has had time to place its ladder at the first price.
        start = datetime.now(UTC) + timedelta(seconds=5)
        ladder = replay_strategy(
            alice,
            "ladder",
            LADDER,
            start,
            grid_levels=6,
            buy_offset_pct=Decimal("0.5"),
            sell_offset_pct=Decimal("0.5"),
            order_size_quote=Decimal("20"),
            reprice_threshold_pct=Decimal("0.5"),
            stop_loss_pct=Decimal("1.5"),
            time_stop_hours=Decimal("0.01"),
            max_positions=10,
        )
        # 10.32 USDT places the first level (29400) only: the deeper ones fall below the minimum notional.
        small = {"grid_levels": 3, "buy_offset_pct": Decimal("2"), "order_size_quote": Decimal("10.32")}
        keeper = replay_strategy(alice, "keeper", DIP, start, **small)
        bobs = replay_strategy(bob, "bobs grid", DIP, start, **small)
        for strategy in (ladder, keeper, bobs):
            start_strategy(strategy)

        crash = start + timedelta(seconds=CRASH_AT - 0.5)

        def burst_pending() -> bool:
            """From just before the crash until its stop-loss is journaled, the pass waits: the crash's fills and
            stop-loss reach the outbox together, as they would within one NOTIFY_INTERVAL."""
            now = datetime.now(UTC)
            if now < crash or now > crash + timedelta(seconds=20):
                return False
            return not StrategyEvent.objects.filter(strategy=ladder, kind="stop_loss_sold").exists()

        with Cron(burst_pending) as cron:
            # A failing channel is marked, with the reason, and holds up no other channel.
            wait_until(lambda: NotificationChannel.objects.get(pk=shouji.pk).status == "failing", 30, "a failure")
            assert "500" in NotificationChannel.objects.get(pk=shouji.pk).last_failure

            def english_got_what_chinese_owes() -> set[int]:
                owed = OutboxMessage.objects.filter(channel=shouji, state="pending").values_list("event_id", flat=True)
                return set(english.event_ids()) & set(owed)

            wait_until(english_got_what_chinese_owes, 30, "the English channel to receive meanwhile")
            chinese.failing = False

            # The keeper: its lot's take-profit rests; the trader sells the BTC by hand under it.
            wait_until(
                lambda: Order.objects.filter(strategy=keeper, role="take_profit", status="open").exists(),
                30,
                "the keeper's take-profit",
            )
            sell_by_hand(keeper.account)
            first = wait_until(lambda: running_on(private_redis, keeper.pk), 10, "the keeper's engine")
            nodes[first["worker_ip"]].stop()  # SIGTERM: the engine hands the strategy over
            second = wait_until(
                lambda: running_on(private_redis, keeper.pk, not_task=first["task_id"]), 30, "the keeper elsewhere"
            )
            wait_until(lambda: events(keeper, "balance_gap"), 20, "the balance gap")
            nodes[second["worker_ip"]].kill_node()  # kill -9: the last node takes over
            third = wait_until(
                lambda: running_on(private_redis, keeper.pk, not_task=second["task_id"]), 40, "a failover"
            )
            stop_strategy(keeper)

            # The ladder sells its last lots by its time stop (36 s after the crash bought them).
            wait_until(lambda: events(ladder, "time_stop_sold"), CRASH_AT + 80, "the time stop")
            stop_strategy(ladder)
            stop_strategy(bobs)
            for strategy in (keeper, ladder, bobs):
                wait_until(partial(events, strategy, "stopped"), 20, f"{strategy.name} to stop")

            alice_ids, bob_ids = owned_ids(alice, phone), owned_ids(bob, bobs_phone)

            def all_arrived() -> bool:
                return all(
                    set(receiver.event_ids()) >= set(ids)
                    for receiver, ids in ((english, alice_ids), (chinese, alice_ids), (bobs_hook, bob_ids))
                )

            wait_until(all_arrived, 60, "every event to arrive")
            time.sleep(2)  # a few more passes: a repeat would show now
        assert cron.error is None, cron.error

        # Every kind happened, and each subscribed event reached each channel exactly once, in its language.
        kinds = dict(StrategyEvent.objects.values_list("id", "kind"))
        assert set(kinds.values()) == set(ALL_KINDS)
        assert set(StrategyEvent.objects.filter(id__in=alice_ids).values_list("kind", flat=True)) == set(ALL_KINDS)
        for receiver, language in ((english, "en"), (chinese, "zh-hans")):
            seen = Counter(receiver.event_ids())
            assert sorted(seen) == alice_ids and set(seen.values()) == {1}, (language, seen)
            for event_id, [line] in lines(receiver).items():
                assert PHRASES[language][kinds[event_id]] in line, (language, kinds[event_id], line)
        assert Counter(bobs_hook.event_ids()) == Counter(bob_ids)

        # Another user's events never appear.
        assert not set(bob_ids) & set(english.event_ids() + chinese.event_ids())
        assert not set(alice_ids) & set(bobs_hook.event_ids())
        assert "bobs grid" not in "".join(english.messages() + chinese.messages())
        assert all(line.startswith("bobs grid (") for m in bobs_hook.messages() for line in m.splitlines())

        # The failing channel was retried after its backoff, and is ok again.
        shouji.refresh_from_db()
        assert chinese.refused >= 1 and shouji.status == "ok" and shouji.last_failure_at is not None
        assert set(OutboxMessage.objects.values_list("state", flat=True)) == {"sent"}

        # The crash's burst of fills became one digest holding all of them.
        trailed = events(ladder, "ladder_trailed")[0].pk
        burst = {e.pk for e in events(ladder, "buy_filled") if e.pk > trailed}
        assert len(burst) == 5
        [digest] = [b for b in english.bodies if burst <= {int(i) for i in EVENT_REF.findall(str(b["message"]))}]
        assert len(EVENT_REF.findall(digest["message"])) > outbox.BURST
        assert re.fullmatch(r"AresBot: \d+ events", digest["title"]), digest["title"]

        # The runtime's events name what they are about, and each run's timeline begins with its start.
        for strategy in (ladder, keeper, bobs):
            assert StrategyEvent.objects.filter(strategy=strategy).earliest("id").kind == "started"
        [handed] = events(keeper, "handed_over")
        assert handed.data["node"]
        [failover] = events(keeper, "failed_over")
        assert (failover.data["from_ip"], failover.data["to_ip"]) == (second["worker_ip"], third["worker_ip"])
        assert failover.data["from_node"] and failover.data["to_node"] and failover.data["gap_seconds"] > 0
        for strategy in (keeper, ladder, bobs):
            assert events(strategy, "stopped")[-1].data["by"] == "owner"  # stop_strategy: the owner's stop
        assert events(keeper, "level_skipped")[0].data["reasons"]
        assert {e.data["reason"] for e in events(ladder, "paused")} >= {"exchange_down"}
