"""The supervisor's decisions and the runner's failure paths, in-process against the real Redis and database."""

from __future__ import annotations

import logging
import time

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from aresbot.redis import get_rq_redis
from exchanges.base import AuthenticationError, NetworkError
from strategies.models import Strategy
from tests.factories import make_paper_account, make_strategy
from trading.runtime import coordination as co
from trading.runtime import runner as runtime
from trading.runtime.jobs import supervise
from trading.runtime.runner import RunOutcome

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _empty_redis(redis_client: redis.Redis) -> None:
    """Every test here starts and ends with the app's Redis database empty."""


@pytest.fixture
def wanted(alice):
    strategy = make_strategy(alice, make_paper_account(alice))
    Strategy.objects.filter(pk=strategy.pk).update(desired_state="running")
    return strategy


def queued() -> list[bytes | str]:
    return list(get_rq_redis().lrange("rq:queue:strategies", 0, -1))


def test_it_queues_a_strategy_that_should_run_once(wanted):
    assert supervise()["enqueued"] == 1
    assert supervise()["enqueued"] == 0  # already queued, not yet started
    assert len(queued()) == 1


def test_it_logs_at_debug_unless_it_acted(wanted, redis_client, caplog):
    caplog.set_level(logging.DEBUG, logger="trading.runtime.jobs")
    supervise()  # queues the strategy: worth a line on the console
    acted = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert acted == [
        ("INFO", f"strategy {wanted.pk}: should run and no engine holds it; queued"),
        ("DEBUG", "supervise: {'wanted': 1, 'enqueued': 1, 'broken': 0, 'backing_off': 0}"),
    ]
    caplog.clear()
    for _ in range(3):
        supervise()  # already queued: nothing to do
    assert [r.levelname for r in caplog.records] == ["DEBUG"] * 3


def test_it_leaves_a_live_engine_alone(wanted, redis_client):
    lease = co.Lease(redis_client, wanted.pk, "job-1", ttl_seconds=30)
    assert lease.acquire()
    lease.write_status({"status": "running"}, 60)
    counts = supervise()
    assert (counts["enqueued"], counts["broken"]) == (0, 0)
    assert redis_client.get(f"strategy:lock:{wanted.pk}") == "job-1"


def test_it_breaks_the_lease_of_an_engine_that_went_silent(wanted, redis_client, settings):
    settings.STRATEGY_STALE_AFTER = 5
    lease = co.Lease(redis_client, wanted.pk, "job-1", ttl_seconds=30)
    assert lease.acquire()
    lease.write_status({"status": "running", "task_id": "job-1"}, 60)
    redis_client.hset(f"strategy:running:{wanted.pk}", "updated_at", f"{time.time() - 6:.3f}")
    counts = supervise()
    assert (counts["broken"], counts["enqueued"]) == (1, 1)  # broken and queued again in the same pass
    assert redis_client.get(f"strategy:lock:{wanted.pk}") is None
    assert not lease.renew()  # the silent engine, should it wake up, is fenced off
    assert len(queued()) == 1


def test_a_starting_engine_is_not_judged_by_the_silence_of_the_run_before_it(wanted, redis_client, settings):
    """Between taking the lease and its first status write, a new engine (on a busy host, many start at once) sits
    beside the dead run's stale hash: that silence is not the new engine's."""
    settings.STRATEGY_STALE_AFTER = 5
    dead = f"{time.time() - 60:.3f}"
    redis_client.hset(
        f"strategy:running:{wanted.pk}", mapping={"status": "running", "task_id": "job-dead", "updated_at": dead}
    )
    assert co.Lease(redis_client, wanted.pk, "job-new", ttl_seconds=30).acquire()
    assert supervise()["broken"] == 0
    assert redis_client.get(f"strategy:lock:{wanted.pk}") == "job-new"


def test_it_does_not_restart_a_failing_strategy_in_a_tight_loop(wanted, redis_client):
    co.record_failure(redis_client, wanted.pk, "binance: invalid API key")
    counts = supervise()
    assert (counts["enqueued"], counts["backing_off"]) == (0, 1)
    redis_client.delete(f"strategy:backoff:{wanted.pk}")  # the backoff ran out
    assert supervise()["enqueued"] == 1


def test_it_ignores_stopped_strategies(alice):
    make_strategy(alice, make_paper_account(alice))
    assert supervise()["wanted"] == 0
    assert queued() == []


class _FailingEngine:
    def start(self, *, first_tick: bool = True) -> None:
        raise AuthenticationError("binance: Invalid API-key, IP, or permissions for action (-2015)")


def test_a_fatal_exchange_error_shows_in_status_backs_off_and_frees_the_lease(
    wanted, redis_client, monkeypatch, caplog
):
    monkeypatch.setattr(runtime, "build_engine", lambda *args, **kwargs: _FailingEngine())
    result = runtime.StrategyRunner(wanted.pk, "job-9", client=redis_client).run()
    assert result.outcome is RunOutcome.ERROR
    # One line on the console, saying what failed and when it is tried again.
    assert [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "trading.runtime.runner"] == [
        (
            "ERROR",
            f"strategy {wanted.pk}: binance: Invalid API-key, IP, or permissions for action (-2015); retrying in 15 s",
        )
    ]
    status = redis_client.hgetall(f"strategy:running:{wanted.pk}")
    assert status["status"] == "error"
    assert "Invalid API-key" in status["last_error"]
    assert redis_client.get(f"strategy:lock:{wanted.pk}") is None
    assert str(co.backoff_error(redis_client, wanted.pk)).startswith("binance: Invalid API-key")
    assert supervise()["backing_off"] == 1


class _CrashingEngine:
    def start(self, *, first_tick: bool = True) -> None:
        raise ZeroDivisionError("a bug")


def test_an_engine_that_crashes_says_so_in_one_line_and_leaves_the_traceback_to_the_job(
    wanted, redis_client, monkeypatch, caplog
):
    monkeypatch.setattr(runtime, "build_engine", lambda *args, **kwargs: _CrashingEngine())
    with pytest.raises(ZeroDivisionError):  # RQ records the job as failed, with its traceback, once
        runtime.StrategyRunner(wanted.pk, "job-7", client=redis_client).run()
    logged = [r for r in caplog.records if r.name == "trading.runtime.runner"]
    assert [(r.levelname, r.getMessage(), r.exc_info) for r in logged] == [
        ("ERROR", f"strategy {wanted.pk}: engine failed: ZeroDivisionError: a bug; retrying in 15 s", None)
    ]


def test_a_stopped_or_deleted_strategy_is_not_run(alice, redis_client):
    strategy = make_strategy(alice, make_paper_account(alice))
    assert runtime.StrategyRunner(strategy.pk, "j", client=redis_client).run().outcome is RunOutcome.NOT_STARTED
    assert runtime.StrategyRunner(999999, "j", client=redis_client).run().outcome is RunOutcome.GONE
    assert redis_client.keys("strategy:lock:*") == []


def test_the_fence_refuses_sends_while_redis_cannot_confirm_the_lease(wanted):
    # The pulse, on virtual time, is in test_runner.py.
    unreachable = redis.Redis(port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))  # fail at once
    broken = runtime.StrategyRunner(wanted.pk, "job-6", client=unreachable)
    with pytest.raises(NetworkError, match="lease cannot be confirmed"):
        broken.fence()


class _LeaseLosingEngine:
    def start(self, *, first_tick: bool = True) -> None:
        raise runtime.LeaseLost("taken by another job")


def test_a_job_that_lost_its_lease_leaves_the_new_holders_signal_and_status_alone(wanted, redis_client, monkeypatch):
    monkeypatch.setattr(runtime, "build_engine", lambda *args, **kwargs: _LeaseLosingEngine())
    co.raise_stop(redis_client, wanted.pk, ttl_seconds=60)
    result = runtime.StrategyRunner(wanted.pk, "job-old", client=redis_client).run()
    assert result.outcome is RunOutcome.LEASE_LOST
    assert co.stop_requested(redis_client, wanted.pk) == "1"
    assert co.backoff_error(redis_client, wanted.pk) is None  # losing a lease is not a failure to back off from
