"""The lease and what the runner does with it: the TTLs of the lease and the status hash, the runner's status while
it holds the lease, and how it gives the strategy up (a stop seen only in the database, Redis gone for longer than
the lease, the lease taken, an engine that fails)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis

from strategies.choices import DesiredState
from strategies.models import Strategy
from tests.processes import RedisServer, wait_until
from tests.runtime.threaded import RunnerThread, book_orders, lock_holder, still_strategy
from trading.core.events import EventKind
from trading.models import StrategyEvent
from trading.runtime import coordination as co
from trading.runtime import runner as runtime

pytestmark = pytest.mark.django_db(transaction=True)


# --- the lease's keys --------------------------------------------------------------------------------------------
def test_a_renewed_lease_keeps_the_status_hash_for_three_of_its_ttls(redis_client):
    lease = co.Lease(redis_client, 7, "job-a", ttl_seconds=30)
    assert lease.acquire()
    assert lease.write_status({"status": "running"}, 5)
    assert lease.renew()
    assert 85 < redis_client.ttl("strategy:running:7") <= 90


def test_short_lease_and_status_ttls_are_kept_to_whole_seconds_of_at_least_one(redis_client):
    lease = co.Lease(redis_client, 7, "job-a", ttl_seconds=0.2)  # 3 × 0.2 s of status: 1 s
    assert lease.acquire()
    assert lease.write_status({"status": "running"}, 1)
    assert redis_client.ttl("strategy:running:7") == 1
    assert lease.renew()
    assert redis_client.ttl("strategy:running:7") == 1


def test_a_lease_shorter_than_a_millisecond_lasts_one(redis_client):
    """Redis refuses PX 0: the shortest lease is 1 ms, not none and not longer."""
    lease = co.Lease(redis_client, 7, "job-a", ttl_seconds=0.0001)
    assert lease.ttl_ms == 1
    assert lease.acquire()


# --- the runner's status while it holds the lease -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("lock_ttl", "stale_after", "status_ttl"),
    [(60, 8, 180), (2, 20, 60)],  # the hash outlives a few missed writes: 3 × the longer of the two
)
def test_the_runner_writes_its_status_under_the_lease_with_a_ttl_of_its_own(
    alice, redis_client, lock_ttl, stale_after, status_ttl
):
    strategy = still_strategy(alice)
    key = f"strategy:running:{strategy.pk}"
    redis_client.hset(key, mapping={"status": "error", "last_error": "the last run's error"})
    co.mark_enqueued(redis_client, strategy.pk, ttl_seconds=60)
    runner = runtime.StrategyRunner(
        strategy.pk,
        "job-1",
        client=redis_client,
        lock_ttl=lock_ttl,
        stale_after=stale_after,
        poll_interval=0.1,
        worker_ip="192.0.2.7",
    )
    with RunnerThread(runner) as run:
        wait_until(lambda: redis_client.hget(key, "current_price"), 20, "the first status")
        status = redis_client.hgetall(key)
        assert (status["task_id"], status["worker_ip"], status["status"], status["last_error"]) == (
            "job-1",
            "192.0.2.7",
            "running",
            "",
        )
        assert status["worker_hostname"]
        assert float(status["started_at"]) > time.time() - 30
        assert not redis_client.exists(f"strategy:enqueued:{strategy.pk}")  # the queued run has started
        renewed = float(status["updated_at"])
        wait_until(lambda: float(redis_client.hget(key, "updated_at") or 0) > renewed, 10, "a renew by the pulse")
        assert status_ttl - 5 < redis_client.ttl(key) <= status_ttl
        co.raise_stop(redis_client, strategy.pk, ttl_seconds=60)
        assert run.result() == "stopped"


# --- how the runner gives a strategy up ---------------------------------------------------------------------------
def test_a_stop_the_redis_signal_missed_is_seen_in_the_database(alice, redis_client, monkeypatch):
    monkeypatch.setattr(runtime, "DB_CHECK_SECONDS", 0.1)
    strategy = still_strategy(alice)
    with RunnerThread(runtime.StrategyRunner(strategy.pk, "job-1", client=redis_client)) as run:
        wait_until(lambda: book_orders(strategy, status="open").count() == 3, 20, "the ladder on the book")
        Strategy.objects.filter(pk=strategy.pk).update(desired_state=DesiredState.STOPPED)  # no signal raised
        assert run.result() == "stopped"
    assert book_orders(strategy, status="canceled").count() == 3


def test_a_deleted_strategy_stops_its_engine(alice, redis_client, monkeypatch):
    monkeypatch.setattr(runtime, "DB_CHECK_SECONDS", 0.1)
    strategy = still_strategy(alice)
    with RunnerThread(runtime.StrategyRunner(strategy.pk, "job-1", client=redis_client)) as run:
        wait_until(lambda: book_orders(strategy, status="open").count() == 3, 20, "the ladder on the book")
        # The engine writes its start event just after the ladder: a cascade deleting the strategy's events
        # while that insert lands between them fails on the foreign key, which is not what this test is about.
        started = StrategyEvent.objects.filter(strategy_id=strategy.pk, kind=EventKind.STARTED)
        wait_until(started.exists, 20, "the start event")
        orders = list(book_orders(strategy).values_list("pk", flat=True))
        Strategy.objects.filter(pk=strategy.pk).delete()
        assert run.result() == "stopped"
    assert book_orders(strategy, pk__in=orders, status="canceled").count() == 3


def test_a_taken_lease_seen_by_the_pulse_ends_the_job_and_says_why(alice, redis_client, caplog):
    strategy = still_strategy(alice)
    runner = runtime.StrategyRunner(strategy.pk, "job-old", client=redis_client, poll_interval=0.1)
    with RunnerThread(runner) as run:
        wait_until(lambda: book_orders(strategy, status="open").count() == 3, 20, "the ladder on the book")
        redis_client.set(co.LOCK_KEY.format(id=strategy.pk), "job-new")  # a quiet engine: nothing to send
        assert run.result() == "lease lost: lease expired or taken by another job"
    assert lock_holder(redis_client, strategy) == "job-new"
    assert book_orders(strategy, status="open").count() == 3


def test_redis_gone_for_longer_than_the_lease_ends_the_job_without_sending(alice, tmp_path: Path, caplog):
    server = RedisServer(tmp_path)
    server.start()
    try:
        client = redis.Redis.from_url(server.url, decode_responses=True, socket_timeout=0.5, socket_connect_timeout=0.5)
        strategy = still_strategy(alice)
        runner = runtime.StrategyRunner(strategy.pk, "job-1", client=client, lock_ttl=2, poll_interval=0.1)
        with RunnerThread(runner) as run:
            wait_until(lambda: book_orders(strategy, status="open").count() == 3, 20, "the ladder on the book")
            server.stop()
            assert "lease" in run.result(30)
        assert "Redis unreachable for longer than the lease" in caplog.text
        unreleased = f"strategy {strategy.pk}: lease not released (it will expire): "
        assert any(message.startswith(unreleased) for message in caplog.messages)
        assert book_orders(strategy).count() == 3  # nothing sent while the lease could not be confirmed
    finally:
        server.stop()


class _BrokenEngine:
    def start(self, *, first_tick: bool = True) -> None:
        raise RuntimeError("a bug in the engine")


def test_an_engine_that_fails_shows_why_backs_off_and_frees_the_lease(alice, redis_client, monkeypatch):
    strategy = still_strategy(alice)
    monkeypatch.setattr(runtime, "build_engine", lambda *args, **kwargs: _BrokenEngine())
    with pytest.raises(RuntimeError, match="a bug in the engine"):
        runtime.StrategyRunner(strategy.pk, "job-1", client=redis_client).run()
    status = co.read_status(redis_client, strategy.pk)
    assert (status["status"], status["last_error"]) == ("error", "RuntimeError: a bug in the engine")
    assert co.backoff_error(redis_client, strategy.pk) == "RuntimeError: a bug in the engine"
    assert lock_holder(redis_client, strategy) is None


def test_redis_failing_right_after_the_engine_started_does_not_end_the_run(alice, redis_client, monkeypatch):
    """The failure count is cleared once the engine is up; Redis refusing that one call is not the end of the run."""

    def refused(client: redis.Redis, strategy_id: int) -> None:
        raise redis.ConnectionError("Connection refused")

    monkeypatch.setattr(co, "clear_failures", refused)
    strategy = still_strategy(alice)
    with RunnerThread(runtime.StrategyRunner(strategy.pk, "job-1", client=redis_client)) as run:
        wait_until(lambda: book_orders(strategy, status="open").count() == 3, 20, "the ladder on the book")
        co.raise_stop(redis_client, strategy.pk, 60)
        assert run.result() == "stopped"
    assert book_orders(strategy, status="canceled").count() == 3


def test_an_engine_failing_while_redis_is_away_ends_with_its_own_error(alice, redis_client, monkeypatch):
    def refused(client: redis.Redis, strategy_id: int, error: str) -> int:
        raise redis.ConnectionError("Connection refused")

    monkeypatch.setattr(runtime, "build_engine", lambda *args, **kwargs: _BrokenEngine())
    monkeypatch.setattr(co, "record_failure", refused)
    strategy = still_strategy(alice)
    with pytest.raises(RuntimeError, match="a bug in the engine"):
        runtime.StrategyRunner(strategy.pk, "job-1", client=redis_client).run()
    assert lock_holder(redis_client, strategy) is None
