"""Each engine host of a node serves its own metrics on METRICS_PORT + its index (the pool tells it its index), with
its engines counted under its own name."""

from __future__ import annotations

import re
import urllib.request

import pytest
import redis

from strategies.services import start_strategy
from tests.processes import RedisServer, free_port, wait_until
from tests.runtime.cluster import Worker, running_on, walking_strategy, worker_env
from trading.runtime.pool import WORKER_INDEX_ENV, WorkerPool


def test_the_pool_gives_each_engine_host_its_index_and_nothing_else_one():
    pool = WorkerPool(3, backtest_workers=1, notify_workers=1, env={"PATH": "/bin"})
    indexes = [slot.env.get(WORKER_INDEX_ENV) for slot in pool.slots]
    assert indexes == ["0", "1", "2", None, None, None]


def scrape(port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as answer:
            return str(answer.read().decode())
    except OSError:
        return ""


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_an_engine_host_serves_its_metrics_on_metrics_port_plus_its_index(alice, private_redis_server: RedisServer):
    base = free_port()
    strategy = walking_strategy(alice)
    env = worker_env(private_redis_server.url, METRICS_PORT=str(base - 1), METRICS_ADDR="127.0.0.1")
    env[WORKER_INDEX_ENV] = "1"
    host = Worker(env)
    try:
        start_strategy(strategy)
        client = redis.Redis.from_url(private_redis_server.url, decode_responses=True)
        wait_until(lambda: running_on(client, strategy.pk), 60, "a tick")
        text = wait_until(
            lambda: (t := scrape(base)) and re.search(r"aresbot_engines_running\{host=\"[^\"]+:1\"\} 1\.0", t) and t,
            30,
            "the host's metrics to count its engine",
        )
        assert re.search(r"aresbot_engine_capacity\{host=\"[^\"]+:1\"\} \d", text)
        assert "aresbot_ticks_total" in text
    finally:
        host.stop()
