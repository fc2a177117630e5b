"""Who stopped a strategy: the owner (API), an admin (the admin action, the operator's command) or the system; the
stopped event a real runner on the ORM source writes says it. The engine is a recorder that stops its strategy
through the path under test during its first tick, so the runner sees the Redis signal before its database check."""

from __future__ import annotations

import io
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
import redis
from django.core.management import call_command
from django.db import DatabaseError
from django.test import Client

from strategies.models import Strategy
from strategies.runtime_source import OrmStrategySource
from strategies.services import start_strategy
from tests.factories import make_paper_account, make_strategy
from tests.runtime.fakes import FakeClock, FakeEngine
from trading.models import StrategyEvent
from trading.runtime import runner as runtime
from trading.runtime.runner import RunOutcome, StrategyRunner

pytestmark = pytest.mark.django_db


@pytest.fixture
def grid(alice):
    return make_strategy(alice, make_paper_account(alice))


class StoppingEngine(FakeEngine):
    def __init__(self, clock: FakeClock, stop: Callable[[], Any]) -> None:
        super().__init__(clock)
        self._stop = stop

    def tick(self) -> None:
        super().tick()
        if len(self.ticks) == 1:
            self._stop()


def run_and_stop(grid: Strategy, client: redis.Redis, monkeypatch, capture, stop: Callable[[], Any]) -> StrategyEvent:
    Strategy.objects.filter(pk=grid.pk).update(desired_state="running")
    clock = FakeClock()

    def stop_committed() -> None:
        with capture(execute=True):  # the signal goes out on commit, as in a request
            stop()

    engine = StoppingEngine(clock, stop_committed)
    monkeypatch.setattr(runtime, "build_engine", lambda *args, **kwargs: engine)
    source = OrmStrategySource()
    runner = StrategyRunner(grid.pk, "job-1", client=client, source=source, clock=clock, lock_ttl=3600, poll_interval=1)
    assert runner.run().outcome is RunOutcome.STOPPED
    assert engine.ticks == [1]  # stopped by the signal, before the first database check (5 s)
    return StrategyEvent.objects.filter(strategy=grid).latest("id")


def test_a_stop_through_the_api_is_by_the_owner(
    alice_client, grid, redis_client, monkeypatch, django_capture_on_commit_callbacks
):
    stopped = run_and_stop(
        grid,
        redis_client,
        monkeypatch,
        django_capture_on_commit_callbacks,
        lambda: alice_client.post(f"/api/strategies/{grid.pk}/stop"),
    )
    assert (stopped.kind, stopped.data["by"], stopped.data["cancel_mode"]) == ("stopped", "owner", "buys")
    assert Strategy.objects.get(pk=grid.pk).stopped_by == "owner"


def test_a_stop_through_the_admin_action_is_by_an_admin(
    alice, grid, redis_client, monkeypatch, django_capture_on_commit_callbacks
):
    alice.is_staff = alice.is_superuser = True
    alice.save()
    web = Client()
    web.force_login(alice)
    action = {"action": "stop_selected", "_selected_action": [grid.pk]}
    stopped = run_and_stop(
        grid,
        redis_client,
        monkeypatch,
        django_capture_on_commit_callbacks,
        lambda: web.post("/admin/strategies/strategy/", action),
    )
    assert (stopped.kind, stopped.data["by"]) == ("stopped", "admin")


def test_the_operators_stop_command_is_by_an_admin(grid, redis_client, monkeypatch, django_capture_on_commit_callbacks):
    stopped = run_and_stop(
        grid,
        redis_client,
        monkeypatch,
        django_capture_on_commit_callbacks,
        lambda: call_command("stop_strategy", grid.pk, "--cancel-all", stdout=io.StringIO()),
    )
    assert (stopped.data["by"], stopped.data["cancel_mode"]) == ("admin", "all")


def test_who_stopped_is_unknown_when_the_database_is_away_at_the_stop(
    alice_client, grid, redis_client, monkeypatch, django_capture_on_commit_callbacks
):
    written: list[Any] = []

    def stop_then_lose_the_database() -> None:
        alice_client.post(f"/api/strategies/{grid.pk}/stop")

        def away(self: OrmStrategySource, strategy_id: int) -> None:
            raise DatabaseError("gone")

        monkeypatch.setattr(OrmStrategySource, "settings", away)
        # The runner drops its connection to reconnect later; the test's transaction must stay open.
        monkeypatch.setattr(runtime, "connection", SimpleNamespace(close=lambda: None))
        monkeypatch.setattr(OrmStrategySource, "record_events", lambda self, sid, events: written.extend(events))

    run_and_stop(grid, redis_client, monkeypatch, django_capture_on_commit_callbacks, stop_then_lose_the_database)
    assert written[-1].kind == "stopped" and written[-1].data["by"] == "unknown"


def test_starting_again_forgets_who_stopped(alice_client, grid, redis_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(f"/api/strategies/{grid.pk}/start")
        alice_client.post(f"/api/strategies/{grid.pk}/stop")
    assert Strategy.objects.get(pk=grid.pk).stopped_by == "owner"
    start_strategy(Strategy.objects.get(pk=grid.pk))
    assert Strategy.objects.get(pk=grid.pk).stopped_by == ""
    assert OrmStrategySource().settings(grid.pk).stopped_by == ""  # type: ignore[union-attr]
