"""Engine hosts end to end: real `rqworker --worker-class trading.runtime.host.EngineHostWorker` processes, each
running many paper strategies, on a private Redis server and the test database.

Timings as in test_runtime.py (5 s lease, 0.2 s stop poll, 3 s staleness limit, see cluster.worker_env).
"""

from __future__ import annotations

import time
from collections import Counter
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Count
from rq.job import Job
from rq.registry import StartedJobRegistry

from aresbot.redis import get_queue, get_rq_redis
from exchanges.models import PaperOrderRecord
from strategies.services import start_strategy, stop_strategy
from tests.processes import RedisServer, wait_until
from tests.runtime.cluster import Worker, resumed_elsewhere, running_on, walking_strategy, worker_env
from tests.runtime.test_runtime import STOP_DEADLINE, assert_each_order_sent_by_one_engine
from trading.models import Order, StrategyEvent
from trading.runtime.jobs import supervise
from trading.runtime.queues import STRATEGY_QUEUE

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

MANY = 50
THREADS = "4"


@pytest.fixture
def hosts(private_redis_server: RedisServer):
    started: list[Worker] = []

    def spawn(count: int = 1, **env: str) -> list[Worker]:
        env.setdefault("ENGINE_HOST_THREADS", THREADS)
        new = [Worker(worker_env(private_redis_server.url, **env)) for _ in range(count)]
        started.extend(new)
        return new

    yield spawn
    for worker in started:
        worker.stop()


def many_strategies(owner, count: int, **kwargs):
    # A 2 s loop: fifty paper engines in one process on a small test machine, with room to spare.
    kwargs.setdefault("loop_interval", Decimal(2))
    return [walking_strategy(owner, name=f"grid {n}", **kwargs) for n in range(count)]


def all_running(client, strategies, not_tasks: dict[int, str] | None = None) -> dict[int, dict[str, str]] | None:
    hashes = {}
    for strategy in strategies:
        hash_ = running_on(client, strategy.pk, not_task=(not_tasks or {}).get(strategy.pk))
        if hash_ is None:
            return None
        hashes[strategy.pk] = hash_
    return hashes


def host_of(task_id: str) -> str:
    return str(Job.fetch(task_id, connection=get_rq_redis()).worker_name)


def database_connections() -> int:
    """Connections to the test database other than this test's own."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT CONNECTION_ID()")
        mine = cursor.fetchone()[0]
        cursor.execute("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE db = DATABASE() AND id <> %s", [mine])
        return int(cursor.fetchone()[0])


def assert_no_client_order_id_twice() -> None:
    doubled = Order.objects.values("client_order_id").annotate(n=Count("id")).filter(n__gt=1)
    assert not doubled.exists(), list(doubled)
    on_book = Counter(PaperOrderRecord.objects.values_list("client_order_id", flat=True))
    assert [cid for cid, n in on_book.items() if n > 1] == []


def test_one_host_runs_fifty_strategies_with_a_few_database_connections(alice, private_redis, hosts):
    hosts(1)
    strategies = many_strategies(alice, MANY)
    for strategy in strategies:
        start_strategy(strategy)
    hashes = wait_until(lambda: all_running(private_redis, strategies), 90, "fifty strategies to run")
    assert len({host_of(h["task_id"]) for h in hashes.values()}) == 1
    # RQ sees each strategy's job as started, on that host, while its engine runs.
    registry = StartedJobRegistry(STRATEGY_QUEUE, connection=get_rq_redis())
    assert set(registry.get_job_ids()) == {h["task_id"] for h in hashes.values()}
    wait_until(
        lambda: all(Order.objects.filter(strategy=s, side="buy").count() >= 3 for s in strategies), 60, "every ladder"
    )
    # The status hashes are written round after round (the host writes them all in one pipeline).
    seen = {sid: float(h["updated_at"]) for sid, h in hashes.items()}
    wait_until(
        lambda: all(
            float(private_redis.hget(f"strategy:running:{sid}", "updated_at") or 0) > at for sid, at in seen.items()
        ),
        10,
        "every status to be written again",
    )
    if connection.vendor == "mysql":
        assert database_connections() <= int(THREADS) + 1

    # A stop is still seen within the stop poll, with fifty engines in the host.
    stopped = strategies[0]
    began = time.monotonic()
    stop_strategy(stopped)
    keys = (f"strategy:running:{stopped.pk}", f"strategy:lock:{stopped.pk}")
    wait_until(lambda: not private_redis.exists(*keys), STOP_DEADLINE, "the engine to stop", 0.05)
    assert time.monotonic() - began < STOP_DEADLINE
    job = Job.fetch(hashes[stopped.pk]["task_id"], connection=get_rq_redis())
    wait_until(lambda: job.get_status(refresh=True) == "finished", 10, "the stopped strategy's job to finish")
    assert job.return_value() == "stopped"
    assert not Order.objects.filter(strategy=stopped, side="buy", status__in=["open", "pending"]).exists()


def test_a_second_host_takes_only_what_the_first_has_no_room_for(alice, private_redis, hosts):
    first = hosts(1, ENGINE_HOST_CAPACITY="3")[0]
    strategies = many_strategies(alice, 5)
    for strategy in strategies[:3]:
        start_strategy(strategy)
    on_first = wait_until(lambda: all_running(private_redis, strategies[:3]), 40, "three strategies on the first host")
    (first_name,) = {host_of(h["task_id"]) for h in on_first.values()}
    for strategy in strategies[3:]:
        start_strategy(strategy)
    time.sleep(3)  # the full host leaves the jobs queued: nothing runs them
    assert len(get_queue(STRATEGY_QUEUE)) == 2
    assert all(running_on(private_redis, s.pk) is None for s in strategies[3:])
    hosts(1, ENGINE_HOST_CAPACITY="3")
    on_second = wait_until(lambda: all_running(private_redis, strategies[3:]), 40, "the second host to take the rest")
    assert {host_of(h["task_id"]) for h in on_second.values()} != {first_name}
    assert first.alive()


def test_a_killed_host_with_fifty_strategies_fails_over_without_a_duplicate_or_a_lost_fill(alice, private_redis, hosts):
    doomed = hosts(1)[0]
    strategies = many_strategies(alice, MANY, sell_offset_pct=Decimal("0.05"))
    for strategy in strategies:
        start_strategy(strategy)
    first = wait_until(lambda: all_running(private_redis, strategies), 90, "fifty strategies to run")
    wait_until(
        lambda: all(Order.objects.filter(strategy=s).count() >= 3 for s in strategies), 60, "every strategy's orders"
    )
    doomed.kill_node()
    survivor = hosts(1)[0]
    tasks = {sid: h["task_id"] for sid, h in first.items()}

    def resumed() -> bool:
        supervise()
        return all(resumed_elsewhere(private_redis, sid, task) for sid, task in tasks.items())

    wait_until(resumed, 90, "every strategy to resume on the other host", 0.5)
    assert survivor.alive()
    filled_on_book = set(PaperOrderRecord.objects.filter(status="filled").values_list("client_order_id", flat=True))
    wait_until(
        lambda: filled_on_book <= set(Order.objects.filter(status="filled").values_list("client_order_id", flat=True)),
        30,
        "the fills made during the outage to be booked",
    )
    assert_no_client_order_id_twice()
    for strategy in strategies:
        assert_each_order_sent_by_one_engine(strategy)
    assert StrategyEvent.objects.filter(kind="failed_over").count() == MANY


def test_a_host_told_to_stop_hands_every_strategy_over_at_once(alice, private_redis, hosts):
    leaving = hosts(1)[0]
    strategies = many_strategies(alice, 20)
    for strategy in strategies:
        start_strategy(strategy)
    first = wait_until(lambda: all_running(private_redis, strategies), 60, "twenty strategies to run")
    hosts(1)
    began = time.monotonic()
    leaving.stop()  # SIGTERM, as docker stop sends
    assert time.monotonic() - began < 10
    for sid, hash_ in first.items():
        assert private_redis.get(f"strategy:lock:{sid}") != hash_["task_id"]
        job = Job.fetch(hash_["task_id"], connection=get_rq_redis())
        assert job.get_status() == "finished" and job.return_value() == "handed over: worker shutting down"
    handed_over = StrategyEvent.objects.filter(kind="handed_over")
    assert sorted(handed_over.values_list("strategy_id", flat=True)) == sorted(first)
    tasks = {sid: h["task_id"] for sid, h in first.items()}
    wait_until(
        lambda: all(resumed_elsewhere(private_redis, sid, task) for sid, task in tasks.items()),
        60,
        "the other host to resume them all",
        0.5,
    )
    assert not StrategyEvent.objects.filter(kind="failed_over").exists()  # a handover is no failover
