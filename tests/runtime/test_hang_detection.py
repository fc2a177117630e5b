"""Hang detection: an engine thread that makes no progress lets its lease lapse, so that another worker can take
the strategy over (and the fence keeps the hung one from sending should it wake); an engine whose ticks are slow
but keep finishing keeps its lease, however long it runs."""

from __future__ import annotations

import threading

import pytest

from tests.processes import wait_until
from tests.runtime.threaded import RunnerThread, lock_holder, still_strategy
from trading.runtime import coordination as co
from trading.runtime import runner as runtime

pytestmark = pytest.mark.django_db(transaction=True)


class _SlowEngine:
    """An engine whose every tick takes `tick_seconds` (or until released). The runner sets its own `hang_after`
    when its loop starts; the first tick shortens it to `hang_after`, so the test runs in seconds."""

    def __init__(self, runner: runtime.StrategyRunner, *, hang_after: float, tick_seconds: float) -> None:
        self.runner = runner
        self.hang_after = hang_after
        self.tick_seconds = tick_seconds
        self.entered = threading.Event()
        self.release = threading.Event()
        self.ticks_done = 0

    def start(self, *, first_tick: bool = True) -> None:
        return None

    def tick(self) -> None:
        self.runner.hang_after = self.hang_after
        self.entered.set()
        self.release.wait(self.tick_seconds)
        self.ticks_done += 1

    def stop(self, *, cancel_all: bool = False) -> None:
        return None


def test_an_engine_that_makes_no_progress_lets_its_lease_lapse(alice, redis_client, monkeypatch, caplog):
    strategy = still_strategy(alice)
    runner = runtime.StrategyRunner(strategy.pk, "job-hung", client=redis_client, lock_ttl=1, poll_interval=0.1)
    engine = _SlowEngine(runner, hang_after=0.5, tick_seconds=60)
    monkeypatch.setattr(runtime, "build_engine", lambda *args, **kwargs: engine)
    try:
        with RunnerThread(runner) as run:
            wait_until(engine.entered.is_set, 20, "the engine to enter its tick")
            successor = co.Lease(redis_client, strategy.pk, "job-next", ttl_seconds=30)
            wait_until(successor.acquire, 20, "the hung engine's lease to lapse")
            engine.release.set()  # it wakes up: it finds the lease gone and ends without touching anything
            assert "lease" in run.result()
            assert lock_holder(redis_client, strategy) == "job-next"
        # The operator's one clue to a hung engine names the strategy.
        assert f"strategy {strategy.pk}: engine made no progress for 0 s; letting the lease lapse" in caplog.messages
    finally:
        engine.release.set()


@pytest.mark.slow  # three real 1 s ticks
def test_an_engine_with_slow_ticks_that_finish_keeps_its_lease(alice, redis_client, monkeypatch):
    strategy = still_strategy(alice)
    runner = runtime.StrategyRunner(strategy.pk, "job-slow", client=redis_client, lock_ttl=1, poll_interval=0.1)
    # Each tick outlasts the lease (the pulse renews it meanwhile) and three of them outlast hang_after; the margin
    # between a tick and hang_after is wide enough for a loaded machine.
    engine = _SlowEngine(runner, hang_after=2.5, tick_seconds=1.0)
    monkeypatch.setattr(runtime, "build_engine", lambda *args, **kwargs: engine)
    try:
        with RunnerThread(runner) as run:
            wait_until(lambda: engine.ticks_done >= 3 or run.ended(), 30, "three slow ticks")
            assert not run.ended()
            assert lock_holder(redis_client, strategy) == "job-slow"
            assert not co.Lease(redis_client, strategy.pk, "job-next", ttl_seconds=30).acquire()
            co.raise_stop(redis_client, strategy.pk, ttl_seconds=60)
            engine.release.set()
            assert run.result() == "stopped"
    finally:
        engine.release.set()
