"""The distributed runtime end to end: real RQ workers in subprocesses, a private Redis server, the test database.

Timings use a 5 s lease, a 0.2 s stop poll and a 3 s staleness limit (see cluster.worker_env), so that each
scenario settles in seconds. The tests wait on conditions with generous deadlines, never for a guessed time.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone
from rq.job import Job

from aresbot.redis import get_rq_redis, reset_clients
from exchanges.models import PaperOrderRecord
from exchanges.paper.store import book_key
from strategies.models import Strategy
from strategies.services import start_strategy, stop_strategy
from tests.processes import RedisServer, wait_until
from tests.runtime.cluster import Worker, resumed_elsewhere, running_on, status, walking_strategy, worker_env
from trading.core.events import EventKind
from trading.models import Order, StrategyEvent
from trading.runtime import coordination as co
from trading.runtime.jobs import enqueue_run

RUNTIME_KINDS = [EventKind.STARTED, EventKind.STOPPED, EventKind.HANDED_OVER, EventKind.FAILED_OVER]

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# Well under DB_CHECK_SECONDS (5 s), the other way an engine learns of a stop, yet 20 stop polls of 0.2 s: the
# engine must have seen the stop signal, and a loaded machine still has room.
STOP_DEADLINE = 4.0


@pytest.fixture
def workers(private_redis_server: RedisServer):
    started: list[Worker] = []

    def spawn(count: int = 1, **env: str) -> list[Worker]:
        new = [Worker(worker_env(private_redis_server.url, **env)) for _ in range(count)]
        started.extend(new)
        return new

    yield spawn
    for worker in started:
        worker.stop()


def assert_each_order_sent_by_one_engine(strategy) -> None:
    """What reached the paper exchange matches the journal one to one, and the ladder was never doubled.

    The book is read before the journal, and the journal before the book again, so that an engine placing an
    order meanwhile (journaled first, then sent) cannot make either check fail.
    """
    book = PaperOrderRecord.objects.filter(book__key=book_key(strategy.account_id))
    on_book = set(book.values_list("client_order_id", flat=True))
    journal = dict(Order.objects.filter(strategy=strategy).values_list("client_order_id", "status"))
    acknowledged = {
        cid for cid, status in journal.items() if status in ("open", "partially_filled", "filled", "canceled")
    }
    on_book_after = set(book.values_list("client_order_id", flat=True))
    assert on_book <= set(journal), f"sent but never journaled: {sorted(on_book - set(journal))}"
    assert acknowledged <= on_book_after, (
        f"journaled as sent but not on the book: {sorted(acknowledged - on_book_after)}"
    )
    resting_buys = book.filter(side="buy", status__in=["open", "partially_filled"]).count()
    assert resting_buys <= strategy.grid_levels, f"{resting_buys} buys rest for {strategy.grid_levels} levels"


def test_a_started_strategy_runs_on_a_worker_and_reports_its_node(alice, private_redis, workers):
    workers(1)
    strategy = walking_strategy(alice)
    start_strategy(strategy)
    hash_ = wait_until(lambda: running_on(private_redis, strategy.pk), 20, "the strategy to run")
    for field in co.STATUS_FIELDS:
        assert field in hash_, field
    ip, hostname = co.node_identity()
    assert (hash_["worker_ip"], hash_["worker_hostname"]) == (ip, hostname)
    assert private_redis.get(f"strategy:lock:{strategy.pk}") == hash_["task_id"]
    assert ip in private_redis.smembers("workers:active")
    wait_until(lambda: Order.objects.filter(strategy=strategy, side="buy").count() >= 3, 10, "the grid buys")


def test_two_workers_never_run_one_strategy_twice(alice, private_redis, workers):
    workers(2)
    strategy = walking_strategy(alice)
    Strategy.objects.filter(pk=strategy.pk).update(desired_state="running")
    first = enqueue_run(strategy.pk)
    co.clear_enqueued(private_redis, strategy.pk)
    second = enqueue_run(strategy.pk)
    assert first is not None and second is not None
    wait_until(lambda: running_on(private_redis, strategy.pk), 20, "one engine")
    loser = wait_until(
        lambda: next(
            (
                j
                for j in (Job.fetch(first.id, get_rq_redis()), Job.fetch(second.id, get_rq_redis()))
                if j.get_status() == "finished"
            ),
            None,
        ),
        20,
        "the second job to give up",
    )
    assert loser.return_value().startswith("not started: held by")
    holder = private_redis.get(f"strategy:lock:{strategy.pk}")
    assert holder in (first.id, second.id) and holder != loser.id
    assert_each_order_sent_by_one_engine(strategy)


def test_stop_ends_the_engine_between_its_ticks_and_cancels_its_buys(alice, private_redis, workers, record_property):
    workers(1)
    # A minute between ticks: only the stop poll (or, after 5 s, the database check) can end the engine in time.
    strategy = walking_strategy(alice, loop_interval=Decimal("60"))
    start_strategy(strategy)
    wait_until(lambda: running_on(private_redis, strategy.pk), 20, "the strategy to run")
    wait_until(lambda: Order.objects.filter(strategy=strategy, side="buy", status="open").exists(), 10, "a buy")
    began = time.monotonic()
    stop_strategy(strategy)
    # The engine removes its status hash, then releases its lease: stopped means both are gone.
    keys = (f"strategy:running:{strategy.pk}", f"strategy:lock:{strategy.pk}")
    wait_until(lambda: not private_redis.exists(*keys), STOP_DEADLINE, "the engine to stop", 0.05)
    record_property("stop_seconds", round(time.monotonic() - began, 3))  # the measured figure, in the JUnit XML
    assert not Order.objects.filter(strategy=strategy, side="buy", status__in=["open", "pending"]).exists()
    assert not PaperOrderRecord.objects.filter(side="buy", status="open").exists()
    events = list(StrategyEvent.objects.filter(strategy=strategy).order_by("id"))
    started = next(e for e in events if e.kind == "started")
    assert started.data["node"] == co.node_identity()[1] and started.data["job"]
    assert (events[-1].kind, events[-1].data["cancel_mode"], events[-1].data["by"]) == ("stopped", "buys", "owner")


def test_a_killed_node_fails_over_and_nothing_is_sent_twice(alice, private_redis, workers):
    doomed = workers(1)[0]
    strategy = walking_strategy(alice, sell_offset_pct=Decimal("0.05"))
    start_strategy(strategy)
    first = wait_until(lambda: running_on(private_redis, strategy.pk), 20, "the strategy to run")
    wait_until(lambda: Order.objects.filter(strategy=strategy).count() >= 3, 10, "some orders")
    doomed.kill_node()
    survivor = workers(1)[0]
    # The price walks on while no engine runs (for STRATEGY_STALE_AFTER at least: the supervisor breaks the dead
    # engine's lease only then), so the paper book fills orders the next engine must book.
    wait_until(
        lambda: resumed_elsewhere(private_redis, strategy.pk, first["task_id"]), 30, "another worker to resume", 0.5
    )
    assert survivor.alive()
    # Every order the paper exchange filled is booked as filled in the journal (none lost in the failover).
    filled_on_book = set(PaperOrderRecord.objects.filter(status="filled").values_list("client_order_id", flat=True))
    wait_until(
        lambda: filled_on_book <= set(Order.objects.filter(status="filled").values_list("client_order_id", flat=True)),
        10,
        "the fills made during the outage to be booked",
    )
    assert_each_order_sent_by_one_engine(strategy)
    [failover] = StrategyEvent.objects.filter(strategy=strategy, kind="failed_over")
    assert failover.data["from_job"] == first["task_id"]
    assert failover.data["from_node"] and failover.data["to_node"]
    assert failover.data["gap_seconds"] > 0  # the dead node's silence, until the survivor took over


def test_a_killed_node_whose_status_expired_is_still_seen_to_have_failed_over(alice, private_redis, workers):
    doomed = workers(1)[0]
    strategy = walking_strategy(alice)
    start_strategy(strategy)
    first = wait_until(lambda: running_on(private_redis, strategy.pk), 20, "the strategy to run")
    doomed.kill_node()
    private_redis.delete(f"strategy:running:{strategy.pk}")  # as if its TTL ran out while no node was up
    workers(1)
    # Without a status hash the supervisor cannot see the engine is stale: it waits for the lease (5 s) to lapse.
    wait_until(
        lambda: resumed_elsewhere(private_redis, strategy.pk, first["task_id"]), 30, "another worker to resume", 0.5
    )
    [failover] = StrategyEvent.objects.filter(strategy=strategy, kind="failed_over")
    assert failover.data["from_job"] == first["task_id"] and failover.data["from_node"] == first["worker_hostname"]
    assert failover.data["to_node"] and failover.data["gap_seconds"] is None  # no sign of life left to measure from


def test_an_engine_that_loses_its_lease_places_no_further_order(alice, private_redis, workers):
    workers(1)
    strategy = walking_strategy(alice, reprice_threshold_pct=Decimal("0.05"))  # re-places buys all the time
    start_strategy(strategy)
    hash_ = wait_until(lambda: running_on(private_redis, strategy.pk), 20, "the strategy to run")
    private_redis.set(f"strategy:lock:{strategy.pk}", "someone-else")
    taken = timezone.now()
    job = Job.fetch(hash_["task_id"], get_rq_redis())
    wait_until(lambda: job.get_status(refresh=True) == "finished", 10, "the engine to notice and end")
    assert str(job.return_value()).startswith("lease lost")
    assert private_redis.get(f"strategy:lock:{strategy.pk}") == "someone-else"
    # An order journaled before the lease was taken may still have been on its way; none journaled after it was
    # let through to the exchange.
    late = set(Order.objects.filter(strategy=strategy, created_at__gt=taken).values_list("client_order_id", flat=True))
    on_book = set(PaperOrderRecord.objects.values_list("client_order_id", flat=True))
    assert not late & on_book, f"sent after the lease was lost: {sorted(late & on_book)}"


def test_redis_restarted_mid_run_resumes_without_duplicates(alice, private_redis, workers, private_redis_server):
    workers(1)
    strategy = walking_strategy(alice)
    start_strategy(strategy)
    first = wait_until(lambda: running_on(private_redis, strategy.pk), 20, "the strategy to run")
    wait_until(lambda: Order.objects.filter(strategy=strategy).count() >= 3, 10, "some orders")
    private_redis_server.restart()  # an empty Redis: queues, leases and hashes are gone
    reset_clients()
    # The new engine publishes a price (the hash is new: the old one went with Redis) only after its first tick.
    wait_until(
        lambda: resumed_elsewhere(private_redis, strategy.pk, first["task_id"]), 40, "the strategy to resume", 0.5
    )
    assert_each_order_sent_by_one_engine(strategy)


@pytest.mark.skipif("connection.vendor != 'mysql'", reason="killing a server connection needs MySQL/MariaDB")
def test_a_dropped_database_connection_is_survived(alice, private_redis, workers):
    workers(1)
    strategy = walking_strategy(alice, reprice_threshold_pct=Decimal("0.05"))  # writes orders all the time
    start_strategy(strategy)
    first = wait_until(lambda: running_on(private_redis, strategy.pk), 20, "the strategy to run")
    with connection.cursor() as cursor:
        cursor.execute("SELECT CONNECTION_ID()")
        mine = cursor.fetchone()[0]
        cursor.execute("SELECT id FROM information_schema.PROCESSLIST WHERE db = DATABASE() AND id <> %s", [mine])
        for (other,) in cursor.fetchall():
            cursor.execute(f"KILL CONNECTION {int(other)}")
    dropped = timezone.now()
    wait_until(
        lambda: Order.objects.filter(strategy=strategy, updated_at__gt=dropped).exists(),
        20,
        "the engine to write orders again over a new connection",
    )
    # A tick that met the dead connection publishes no price; the next one does, from the same job.
    wait_until(
        lambda: running_on(private_redis, strategy.pk), 10, "the engine that met the dropped connection to run on"
    )
    assert status(private_redis, strategy.pk)["task_id"] == first["task_id"]
    assert_each_order_sent_by_one_engine(strategy)


def test_a_worker_shutting_down_hands_its_strategy_over(alice, private_redis, workers):
    leaving = workers(1)[0]
    strategy = walking_strategy(alice)
    start_strategy(strategy)
    first = wait_until(lambda: running_on(private_redis, strategy.pk), 20, "the strategy to run")
    wait_until(lambda: Order.objects.filter(strategy=strategy, side="buy", status="open").exists(), 10, "a buy")
    open_buys = set(Order.objects.filter(strategy=strategy, side="buy", status="open").values_list("pk", flat=True))
    workers(1)
    leaving.stop()  # SIGTERM, as docker stop sends
    assert not leaving.alive()
    assert private_redis.get(f"strategy:lock:{strategy.pk}") != first["task_id"]
    resumed = wait_until(
        lambda: resumed_elsewhere(private_redis, strategy.pk, first["task_id"]), 20, "the other worker to resume", 0.3
    )
    assert Strategy.objects.get(pk=strategy.pk).desired_state == "running"
    # A handover is not a stop: the buys that were resting were not cancelled by the leaving worker.
    canceled = Order.objects.filter(pk__in=open_buys, status="canceled", updated_at__lt=first_seen(resumed))
    assert not canceled.exists()
    kinds = list(StrategyEvent.objects.filter(strategy=strategy, kind__in=RUNTIME_KINDS).values_list("kind", flat=True))
    assert kinds[::-1] == ["started", "handed_over", "started"]  # newest first; a handover is no failover


def first_seen(status_hash):
    return datetime.fromtimestamp(float(status_hash["started_at"]), tz=UTC)


def test_stop_with_cancel_all_also_cancels_the_take_profits(alice, private_redis, workers):
    workers(1)
    # A ladder that trails the price up closely, so a dip soon fills a buy whichever way the walk starts.
    strategy = walking_strategy(alice, reprice_threshold_pct=Decimal("0.2"))
    start_strategy(strategy)
    wait_until(lambda: running_on(private_redis, strategy.pk), 20, "the strategy to run")
    wait_until(
        lambda: Order.objects.filter(strategy=strategy, side="sell", status="open").exists(), 40, "a take-profit"
    )
    stop_strategy(strategy, cancel_all=True)
    wait_until(lambda: not private_redis.exists(f"strategy:running:{strategy.pk}"), 10, "the engine to stop", 0.05)
    assert not PaperOrderRecord.objects.filter(status__in=["open", "partially_filled"]).exists()
    assert not Order.objects.filter(strategy=strategy, status__in=["open", "pending", "partially_filled"]).exists()
