"""The runner's timing rules on virtual time (no sleeping): giving up a lease Redis cannot confirm, the pulse and
hang detection, and the database check that picks up edits and stops. Real Redis; the engine is a recorder."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import redis

from exchanges.base import FatalExchangeError
from tests.runtime.fakes import (
    EPOCH,
    FakeClock,
    FakeEngine,
    FakeSource,
    edited,
    make_spec,
    stopped,
    stopped_cancelling_all,
)
from trading.core.events import EventKind, event
from trading.runtime import coordination as co
from trading.runtime import runner as runtime
from trading.runtime.runner import LeaseLost, RunOutcome, StrategyRunner

SID = 41
RUNNING_KEY = f"strategy:running:{SID}"


def make_runner(
    client: redis.Redis, clock: FakeClock, source: FakeSource | None = None, **kwargs: Any
) -> StrategyRunner:
    source = source or FakeSource(make_spec(SID), clock)
    return StrategyRunner(SID, "job-1", client=client, source=source, clock=clock, **kwargs)


def updated_at(client: redis.Redis) -> float:
    return float(str(client.hget(RUNNING_KEY, "updated_at")))


def test_a_lease_redis_cannot_confirm_for_a_whole_ttl_is_given_up(redis_client):
    clock = FakeClock()
    runner = make_runner(redis_client, clock, lock_ttl=30)
    assert runner.lease.acquire()
    runner.fence()  # confirmed at 0
    clock.advance(30)
    runner.check_lease()  # a whole TTL, not longer: still ours
    clock.advance(0.5)
    with pytest.raises(LeaseLost, match="longer than the lease"):
        runner.check_lease()


def test_the_pulse_keeps_a_slow_tick_alive_until_the_lease_is_taken(redis_client):
    clock = FakeClock(beats=10)
    runner = make_runner(redis_client, clock, lock_ttl=3, poll_interval=0.1)
    assert runner.lease.acquire()
    runner.lease.write_status({"status": "running"}, 30)
    # The engine's thread is "blocked in a tick" (no progress), yet the pulse renews the lease every poll.
    runner._pulse(threading.Event())
    assert clock.now == pytest.approx(1.0)
    assert updated_at(redis_client) == pytest.approx(EPOCH + 1.0)
    runner.check_lease()
    redis_client.set(f"strategy:lock:{SID}", "another-job")
    clock.beats = clock.waits + 10
    runner._pulse(threading.Event())
    assert clock.waits == 12  # the first beat found the lease taken, and the pulse ended there
    with pytest.raises(LeaseLost, match="taken"):
        runner.check_lease()


def test_the_pulse_of_an_engine_that_makes_no_progress_stops_after_hang_after(redis_client):
    clock = FakeClock(beats=1000)
    runner = make_runner(redis_client, clock, lock_ttl=30, poll_interval=1)
    runner.hang_after = 120
    assert runner.lease.acquire()
    runner.lease.write_status({"status": "running"}, 300)
    runner._pulse(threading.Event())  # returns by itself: the lease is left to lapse
    assert clock.now == pytest.approx(121)
    assert updated_at(redis_client) == pytest.approx(EPOCH + 120)  # the last renew, within hang_after


def test_the_runner_reads_the_strategy_every_few_seconds_applies_edits_and_stops(redis_client, monkeypatch):
    clock = FakeClock()
    source = FakeSource(
        make_spec(SID, loop_interval=Decimal(1)),
        clock,
        edits={8: edited(grid_levels=5, loop_interval=Decimal(2)), 13: stopped},
    )
    engine = FakeEngine(clock)
    monkeypatch.setattr(runtime, "build_engine", lambda *args, **kwargs: engine)
    result = make_runner(redis_client, clock, source, lock_ttl=3600, poll_interval=0.5).run()
    assert result.outcome is RunOutcome.STOPPED
    assert runtime.DB_CHECK_SECONDS == 5
    assert source.reads == [0, 5, 10, 15]  # before the start, then every DB_CHECK_SECONDS
    assert [(at, config.grid_levels) for at, config in engine.reconfigured] == [(10, 5)]
    assert engine.ticks == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 14]  # every second, then every two
    assert engine.stopped == [(15, False)]  # desired state stopped: the buys go, the take-profits stay
    assert (source.events[-1].kind, source.events[-1].data["by"]) == ("stopped", "owner")
    assert not redis_client.exists(RUNNING_KEY)
    assert redis_client.get(f"strategy:lock:{SID}") is None


def test_a_stop_signal_with_cancel_all_stops_the_engine_at_the_first_poll(redis_client, monkeypatch):
    clock = FakeClock()
    engine = FakeEngine(clock)
    monkeypatch.setattr(runtime, "build_engine", lambda *args, **kwargs: engine)
    co.raise_stop(redis_client, SID, ttl_seconds=60, cancel_all=True)
    result = make_runner(redis_client, clock, lock_ttl=3600, poll_interval=0.5).run()
    assert str(result) == "stopped"
    assert engine.stopped == [(0, True)]
    assert co.stop_requested(redis_client, SID) is None  # consumed by the engine that acted on it


def test_the_started_event_precedes_what_the_engines_first_tick_journals(redis_client, monkeypatch):
    clock = FakeClock()
    source = FakeSource(make_spec(SID), clock, edits={1: stopped})
    seen_at_start: list[str] = []

    class FirstTick(FakeEngine):
        def start(self, *, first_tick: bool = True) -> None:
            seen_at_start.extend(str(e.kind) for e in source.events)

    monkeypatch.setattr(runtime, "build_engine", lambda *args, **kwargs: FirstTick(clock))
    make_runner(redis_client, clock, source, lock_ttl=3600, poll_interval=0.5).run()
    assert seen_at_start == ["started"]


def test_a_stop_seen_only_in_the_database_cancels_what_it_was_asked_to(redis_client, monkeypatch):
    """The stop signal never reached Redis: the database check finds the strategy stopped with cancel_all."""
    clock = FakeClock()
    source = FakeSource(make_spec(SID), clock, edits={3: stopped_cancelling_all})
    engine = FakeEngine(clock)
    monkeypatch.setattr(runtime, "build_engine", lambda *args, **kwargs: engine)
    result = make_runner(redis_client, clock, source, lock_ttl=3600, poll_interval=0.5).run()
    assert result.outcome is RunOutcome.STOPPED
    assert engine.stopped == [(5, True)]  # at the first database check after the stop: take-profits go too
    assert source.events[-1].data == {"by": "admin", "cancel_mode": "all", "node": runner_node()}
    assert source.reads == [0, 5]  # who stopped it came with the check that found the stop: no second read


def runner_node() -> str:
    return co.node_identity()[1]


def test_a_strategy_deleted_while_running_is_stopped_by_the_system(redis_client, monkeypatch):
    clock = FakeClock()
    source = FakeSource(make_spec(SID), clock, edits={3: lambda spec: None})
    monkeypatch.setattr(runtime, "build_engine", lambda *args, **kwargs: FakeEngine(clock))
    assert (
        make_runner(redis_client, clock, source, lock_ttl=3600, poll_interval=0.5).run().outcome is RunOutcome.STOPPED
    )
    assert source.events[-1].data["by"] == "system"


def test_a_stop_signal_reads_who_stopped_once_from_the_database(redis_client, monkeypatch):
    clock = FakeClock()
    source = FakeSource(make_spec(SID), clock, edits={2: stopped})
    monkeypatch.setattr(runtime, "build_engine", lambda *args, **kwargs: FakeEngine(clock))
    runner = make_runner(redis_client, clock, source, lock_ttl=3600, poll_interval=0.5)
    clock_at_signal = 2.0

    def signal_at_two() -> co.StopMode | None:
        return co.StopMode.CANCEL_BUYS if clock.monotonic() >= clock_at_signal else None

    monkeypatch.setattr(runner, "_stop_signal", signal_at_two)
    assert runner.run().outcome is RunOutcome.STOPPED
    assert source.reads == [0, 2]  # the start's read, then one read at the stop (before the first check at 5)
    assert source.events[-1].data["by"] == "owner"


# --- failover seen from the database when the dead run's status hash is gone ------------------------------------------


class FatalEngine(FakeEngine):
    def tick(self) -> None:
        super().tick()
        raise FatalExchangeError("invalid API key")


def run_once(client: redis.Redis, clock: FakeClock, source: FakeSource, job: str, monkeypatch, engine=None) -> Any:
    monkeypatch.setattr(runtime, "build_engine", lambda *args, **kwargs: engine or FakeEngine(clock))
    runner = StrategyRunner(SID, job, client=client, source=source, clock=clock, lock_ttl=3600, poll_interval=0.5)
    try:
        return runner.run()
    except FatalExchangeError:
        return None


def died(client: redis.Redis, source: FakeSource, job: str, node: str = "node-a") -> None:
    """A run of `job` on `node` that died: its started event is written, its lease and status hash expired."""
    source.events.append(event(EventKind.STARTED, EPOCH_DT, node=node, ip="10.0.0.1", job=job))
    client.delete(RUNNING_KEY, f"strategy:lock:{SID}")


EPOCH_DT = datetime.fromtimestamp(EPOCH, UTC)


def test_a_start_after_a_run_that_died_with_its_status_expired_fails_over_with_an_unknown_gap(
    redis_client, monkeypatch
):
    clock = FakeClock()
    source = FakeSource(make_spec(SID), clock, edits={3: stopped})
    died(redis_client, source, "job-dead")
    run_once(redis_client, clock, source, "job-2", monkeypatch)
    kinds = [str(e.kind) for e in source.events]
    assert kinds == ["started", "started", "failed_over", "stopped"]
    failed_over = source.events[2]
    assert failed_over.data == {
        "from_node": "node-a",
        "from_ip": "10.0.0.1",
        "from_job": "job-dead",
        "to_node": co.node_identity()[1],
        "to_ip": co.node_identity()[0],
        "gap_seconds": None,  # no sign of life left to measure from
    }


def test_a_start_after_a_clean_stop_or_handover_is_no_failover(redis_client, monkeypatch):
    for clean_end in (EventKind.STOPPED, EventKind.HANDED_OVER):
        clock = FakeClock()
        source = FakeSource(make_spec(SID), clock, edits={3: stopped})
        died(redis_client, source, "job-1")
        source.events.append(event(clean_end, EPOCH_DT, node="node-a"))
        run_once(redis_client, clock, source, "job-2", monkeypatch)
        assert "failed_over" not in [str(e.kind) for e in source.events], clean_end


def test_a_restart_after_a_fatal_exchange_error_is_no_failover_even_once_the_status_expired(redis_client, monkeypatch):
    clock = FakeClock()
    source = FakeSource(make_spec(SID), clock, edits={30: stopped})
    first = run_once(redis_client, clock, source, "job-1", monkeypatch, engine=FatalEngine(clock))
    assert first.outcome is RunOutcome.ERROR
    assert redis_client.hget(RUNNING_KEY, "status") == "error"
    redis_client.delete(RUNNING_KEY)  # the backoff outlasted the status hash
    co.clear_failures(redis_client, SID)
    run_once(redis_client, clock, source, "job-2", monkeypatch)
    assert [str(e.kind) for e in source.events] == ["started", "started", "stopped"]
    assert source.events[0].data["ended"] == "error"


def test_a_failover_seen_in_the_status_hash_measures_the_gap_from_its_last_write(redis_client, monkeypatch):
    clock = FakeClock()
    source = FakeSource(make_spec(SID), clock, edits={3: stopped})
    redis_client.hset(
        RUNNING_KEY,
        mapping={"status": "running", "task_id": "job-dead", "worker_hostname": "node-b", "updated_at": EPOCH - 42},
    )
    run_once(redis_client, clock, source, "job-2", monkeypatch)
    [failed_over] = [e for e in source.events if e.kind == "failed_over"]
    assert (failed_over.data["from_node"], failed_over.data["gap_seconds"]) == ("node-b", 42.0)
