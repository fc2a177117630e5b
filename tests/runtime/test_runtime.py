"""The distributed runtime end to end: real RQ workers in subprocesses, a private Redis server, the test database.

Timings use a 5 s lease, a 0.2 s stop poll and a 3 s staleness limit (see cluster.worker_env), so that each
scenario settles in seconds.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import redis
from django.db import connection
from rq.job import Job

from aresbot.redis import get_rq_redis, reset_clients
from exchanges.models import PaperOrderRecord
from exchanges.paper.store import DbPaperStore, book_key
from strategies.models import Strategy
from strategies.services import start_strategy, stop_strategy
from tests.factories import make_paper_account, make_strategy
from tests.processes import RedisServer, wait_for
from tests.runtime.cluster import Worker, worker_env
from trading.models import Order
from trading.runtime import coordination as co
from trading.runtime.jobs import enqueue_run, supervise

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def private_redis(private_redis_server: RedisServer) -> redis.Redis:
    return redis.Redis.from_url(private_redis_server.url, decode_responses=True, socket_timeout=2)


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


def walking_strategy(owner, name: str = "grid", **kwargs):
    """A paper strategy whose price walks fast enough (0.3 % a second) to fill its tight grid within seconds."""
    account = make_paper_account(owner, name=f"paper {name}")
    DbPaperStore(book_key(account.pk), account.paper_balances).ensure_feed_spec(
        "BTC/USDT",
        {
            "kind": "random_walk",
            "start_price": "30000",
            "start": datetime.now(UTC).isoformat(),
            "tick": "0.01",
            "seed": 7,
            "step_seconds": 1,
            "volatility_pct": "0.3",
        },
    )
    values = {
        "grid_levels": 3,
        "buy_offset_pct": Decimal("0.1"),
        "sell_offset_pct": Decimal("0.1"),
        "order_size_quote": Decimal("50"),
        "loop_interval": Decimal("0.5"),
        "reprice_threshold_pct": Decimal("5"),
    }
    values.update(kwargs)
    return make_strategy(owner, account, name=name, **values)


def status(client, sid):
    return client.hgetall(f"strategy:running:{sid}")


def running_on(client, sid, not_task: str | None = None):
    hash_ = status(client, sid)
    if hash_.get("status") == "running" and hash_.get("current_price") and hash_.get("task_id") != not_task:
        return hash_
    return None


def client_ids(strategy) -> list[str]:
    return list(Order.objects.filter(strategy=strategy).values_list("client_order_id", flat=True))


def test_a_started_strategy_runs_on_a_worker_and_reports_its_node(alice, private_redis, workers):
    workers(1)
    strategy = walking_strategy(alice)
    start_strategy(strategy)
    hash_ = wait_for(lambda: running_on(private_redis, strategy.pk), 20, "the strategy to run")
    for field in co.STATUS_FIELDS:
        assert field in hash_, field
    ip, hostname = co.node_identity()
    assert (hash_["worker_ip"], hash_["worker_hostname"]) == (ip, hostname)
    assert private_redis.get(f"strategy:lock:{strategy.pk}") == hash_["task_id"]
    assert ip in private_redis.smembers("workers:active")
    wait_for(lambda: Order.objects.filter(strategy=strategy, side="buy").count() >= 3, 10, "the grid buys")


def test_two_workers_never_run_one_strategy_twice(alice, private_redis, workers):
    workers(2)
    strategy = walking_strategy(alice)
    Strategy.objects.filter(pk=strategy.pk).update(desired_state="running")
    first = enqueue_run(strategy.pk)
    co.clear_enqueued(private_redis, strategy.pk)
    second = enqueue_run(strategy.pk)
    assert first is not None and second is not None
    wait_for(lambda: running_on(private_redis, strategy.pk), 20, "one engine")
    loser = wait_for(
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
    ids = client_ids(strategy)
    assert len(ids) == len(set(ids))


def test_stop_ends_the_engine_within_two_seconds_and_cancels_its_buys(alice, private_redis, workers):
    workers(1)
    strategy = walking_strategy(alice)
    start_strategy(strategy)
    wait_for(lambda: running_on(private_redis, strategy.pk), 20, "the strategy to run")
    wait_for(lambda: Order.objects.filter(strategy=strategy, side="buy", status="open").exists(), 10, "a buy")
    began = time.monotonic()
    stop_strategy(strategy)
    wait_for(lambda: not private_redis.exists(f"strategy:running:{strategy.pk}"), 5, "the status hash to go", 0.05)
    assert time.monotonic() - began < 2.0
    assert private_redis.get(f"strategy:lock:{strategy.pk}") is None
    assert not Order.objects.filter(strategy=strategy, side="buy", status__in=["open", "pending"]).exists()
    assert not PaperOrderRecord.objects.filter(side="buy", status="open").exists()


def test_a_killed_node_fails_over_and_nothing_is_sent_twice(alice, private_redis, workers):
    doomed = workers(1)[0]
    strategy = walking_strategy(alice, sell_offset_pct=Decimal("0.05"))
    start_strategy(strategy)
    first = wait_for(lambda: running_on(private_redis, strategy.pk), 20, "the strategy to run")
    wait_for(lambda: Order.objects.filter(strategy=strategy).count() >= 3, 10, "some orders")
    doomed.kill_node()
    survivor = workers(1)[0]
    # Fills happen on the paper book while no engine runs; the next engine must book them.
    time.sleep(2)
    resumed = None
    deadline = time.monotonic() + 30
    while resumed is None and time.monotonic() < deadline:
        supervise()  # what the cron job does every SUPERVISE_INTERVAL
        resumed = running_on(private_redis, strategy.pk, not_task=first["task_id"])
        time.sleep(0.5)
    assert resumed is not None, "no worker resumed the strategy"
    assert survivor.alive()
    time.sleep(2)
    ids = client_ids(strategy)
    assert len(ids) == len(set(ids))
    paper_ids = list(PaperOrderRecord.objects.values_list("client_order_id", flat=True))
    assert len(paper_ids) == len(set(paper_ids))
    # Every order the paper exchange filled is booked as filled in the journal (none lost in the failover).
    filled_on_book = set(PaperOrderRecord.objects.filter(status="filled").values_list("client_order_id", flat=True))
    wait_for(
        lambda: filled_on_book <= set(Order.objects.filter(status="filled").values_list("client_order_id", flat=True)),
        10,
        "the fills made during the outage to be booked",
    )


def test_an_engine_that_loses_its_lease_places_no_further_order(alice, private_redis, workers):
    workers(1)
    strategy = walking_strategy(alice, reprice_threshold_pct=Decimal("0.05"))  # re-places buys all the time
    start_strategy(strategy)
    hash_ = wait_for(lambda: running_on(private_redis, strategy.pk), 20, "the strategy to run")
    private_redis.set(f"strategy:lock:{strategy.pk}", "someone-else")
    time.sleep(1.0)  # the engine notices at its next renew (every 0.2 s poll)
    count = Order.objects.filter(strategy=strategy).count()
    time.sleep(3.0)
    assert Order.objects.filter(strategy=strategy).count() == count
    job = Job.fetch(hash_["task_id"], get_rq_redis())
    wait_for(lambda: job.get_status(refresh=True) == "finished", 10, "the job to end")
    assert str(job.return_value()).startswith("lease lost")
    assert private_redis.get(f"strategy:lock:{strategy.pk}") == "someone-else"


def test_redis_restarted_mid_run_resumes_without_duplicates(alice, private_redis, workers, private_redis_server):
    workers(1)
    strategy = walking_strategy(alice)
    start_strategy(strategy)
    first = wait_for(lambda: running_on(private_redis, strategy.pk), 20, "the strategy to run")
    wait_for(lambda: Order.objects.filter(strategy=strategy).count() >= 3, 10, "some orders")
    private_redis_server.restart()  # an empty Redis: queues, leases and hashes are gone
    reset_clients()
    time.sleep(1)
    resumed = None
    deadline = time.monotonic() + 40
    while resumed is None and time.monotonic() < deadline:
        try:
            supervise()
        except redis.RedisError:
            pass
        resumed = running_on(private_redis, strategy.pk, not_task=first["task_id"])
        time.sleep(0.5)
    assert resumed is not None, "the strategy did not resume after Redis came back"
    time.sleep(2)
    ids = client_ids(strategy)
    assert len(ids) == len(set(ids))


@pytest.mark.skipif("connection.vendor != 'mysql'", reason="killing a server connection needs MySQL/MariaDB")
def test_a_dropped_database_connection_is_survived(alice, private_redis, workers):
    workers(1)
    strategy = walking_strategy(alice)
    start_strategy(strategy)
    wait_for(lambda: running_on(private_redis, strategy.pk), 20, "the strategy to run")
    before = Order.objects.filter(strategy=strategy).count()
    with connection.cursor() as cursor:
        cursor.execute("SELECT CONNECTION_ID()")
        mine = cursor.fetchone()[0]
        cursor.execute("SELECT id FROM information_schema.PROCESSLIST WHERE db = DATABASE() AND id <> %s", [mine])
        for (other,) in cursor.fetchall():
            cursor.execute(f"KILL CONNECTION {int(other)}")
    time.sleep(3)
    hash_ = running_on(private_redis, strategy.pk)
    assert hash_ is not None, "the engine did not survive the dropped connection"
    assert float(hash_["updated_at"]) > time.time() - 3
    wait_for(lambda: Order.objects.filter(strategy=strategy).count() >= before, 10, "orders still there")
    ids = client_ids(strategy)
    assert len(ids) == len(set(ids))


def test_a_worker_shutting_down_hands_its_strategy_over(alice, private_redis, workers):
    leaving = workers(1)[0]
    strategy = walking_strategy(alice)
    start_strategy(strategy)
    first = wait_for(lambda: running_on(private_redis, strategy.pk), 20, "the strategy to run")
    wait_for(lambda: Order.objects.filter(strategy=strategy, side="buy", status="open").exists(), 10, "a buy")
    open_buys = set(Order.objects.filter(strategy=strategy, side="buy", status="open").values_list("pk", flat=True))
    workers(1)
    leaving.stop()  # SIGTERM, as docker stop sends
    assert not leaving.alive()
    assert private_redis.get(f"strategy:lock:{strategy.pk}") != first["task_id"]
    resumed = None
    deadline = time.monotonic() + 20
    while resumed is None and time.monotonic() < deadline:
        supervise()
        resumed = running_on(private_redis, strategy.pk, not_task=first["task_id"])
        time.sleep(0.3)
    assert resumed is not None
    assert Strategy.objects.get(pk=strategy.pk).desired_state == "running"
    # A handover is not a stop: the buys that were resting were not cancelled by the leaving worker.
    canceled = Order.objects.filter(pk__in=open_buys, status="canceled", updated_at__lt=first_seen(resumed))
    assert not canceled.exists()


def first_seen(status_hash):
    return datetime.fromtimestamp(float(status_hash["started_at"]), tz=UTC)


def test_stop_with_cancel_all_also_cancels_the_take_profits(alice, private_redis, workers):
    workers(1)
    # A ladder that trails the price up closely, so a dip soon fills a buy whichever way the walk starts.
    strategy = walking_strategy(alice, reprice_threshold_pct=Decimal("0.2"))
    start_strategy(strategy)
    wait_for(lambda: running_on(private_redis, strategy.pk), 20, "the strategy to run")
    wait_for(lambda: Order.objects.filter(strategy=strategy, side="sell", status="open").exists(), 40, "a take-profit")
    stop_strategy(strategy, cancel_all=True)
    wait_for(lambda: not private_redis.exists(f"strategy:running:{strategy.pk}"), 5, "the engine to stop", 0.05)
    assert not PaperOrderRecord.objects.filter(status__in=["open", "partially_filled"]).exists()
    assert not Order.objects.filter(strategy=strategy, status__in=["open", "pending", "partially_filled"]).exists()
