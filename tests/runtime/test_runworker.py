"""manage.py runworker, a node's worker processes: an engine host that dies is replaced and the new one takes the
work; SIGTERM still stops them all, their engines handing the strategies over; "listening" is said when it is true."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Iterator

import pytest
import redis
from rq import Worker

from aresbot.redis import get_rq_redis
from strategies.services import start_strategy
from tests.processes import Console, RedisServer, alive, descendants, wait_until
from tests.runtime.cluster import ROOT, resumed_elsewhere, running_on, walking_strategy, worker_env
from trading.runtime import coordination as co

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def runworker(private_redis_server: RedisServer) -> Iterator[Callable[..., Console]]:
    started: list[Console] = []

    def start(*args: str) -> Console:
        argv = [sys.executable, "manage.py", "runworker", *args]
        node = Console(argv, worker_env(private_redis_server.url), cwd=ROOT)
        started.append(node)
        return node

    yield start
    for node in started:
        if node.proc.poll() is None:
            node.kill()


def registered_pids() -> set[int]:
    return {worker.pid for worker in Worker.all(connection=get_rq_redis()) if worker.pid}


def workers_of(node: Console) -> set[int]:
    """The node's worker processes that have registered with Redis (their work-horses are not registered)."""
    return set(descendants(node.proc.pid)) & registered_pids()


def test_a_worker_killed_with_sigkill_is_replaced_and_its_strategy_moves_to_the_new_one(
    alice, private_redis: redis.Redis, runworker
):
    node = runworker("--concurrency", "1", "--no-control", "--backtests", "0", "--notify", "0")
    wait_until(lambda: workers_of(node), 60, "the worker to register")
    strategy = walking_strategy(alice)
    start_strategy(strategy)
    first = wait_until(lambda: running_on(private_redis, strategy.pk), 30, "the strategy to run")
    (killed,) = workers_of(node)
    assert not descendants(killed)  # an engine host runs its engines in its own process: no work-horse

    os.kill(killed, signal.SIGKILL)
    replacement = wait_until(lambda: workers_of(node) - {killed}, 60, "a new worker to register")
    # The supervisor breaks the dead host's lease once its status goes stale, queues the strategy again, and the
    # new host — the only one — runs it.
    resumed = wait_until(
        lambda: resumed_elsewhere(private_redis, strategy.pk, first["task_id"]), 30, "the new worker to run it", 0.3
    )
    (runner,) = [w for w in Worker.all(connection=get_rq_redis()) if w.get_current_job_id() == resumed["task_id"]]
    assert {runner.pid} == replacement

    family = [node.proc.pid, *descendants(node.proc.pid)]
    node.proc.send_signal(signal.SIGTERM)
    assert node.finish(30) == 0
    assert [pid for pid in family if alive(pid)] == []
    # Handed over on the way out: the lease is released and nothing was cancelled.
    assert private_redis.get(co.LOCK_KEY.format(id=strategy.pk)) is None
    assert "Traceback" not in node.text


def test_runworker_says_its_workers_listen_only_once_they_do(private_redis: redis.Redis, runworker):
    node = runworker("--concurrency", "2")
    line = node.wait_for("1 control worker", 60)
    assert "2 engine hosts, 1 backtest worker, 1 notify worker and 1 control worker listening" in line
    # At the moment it says so, all five are registered with Redis and the node is in workers:active.
    assert len(workers_of(node)) == 5
    # Each queue has its own workers: an engine host never takes a backtest, nor a backtest worker an engine.
    queues = sorted(tuple(w.queue_names()) for w in Worker.all(connection=get_rq_redis()) if w.pid in workers_of(node))
    assert queues == [("backtests",), ("control",), ("notify",), ("strategies",), ("strategies",)]
    ip, hostname = co.node_identity()
    assert co.active_workers(private_redis) == {ip: hostname}
