"""Strategy events on the ORM: the repeat rule, the transaction they share with the change they describe, the
retention purge (trading/events.py)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from exchanges.paper.faults import Fault, FaultInjector
from strategies.runtime_source import OrmStrategySource
from tests.core.harness import Harness
from tests.factories import make_paper_account, make_strategy
from trading.core.types import EngineState as CoreState
from trading.events import (
    REPEAT_WINDOW,
    EventKind,
    event,
    purge_events,
    record_events,
    summary,
    write_events,
)
from trading.journal import OrmJournal
from trading.models import EngineState, StrategyEvent

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def strategy(alice):
    return make_strategy(alice, make_paper_account(alice))


def test_an_error_repeating_every_tick_is_one_row_with_a_count(strategy):
    for second in range(5):
        error = event(EventKind.ERROR, T0 + timedelta(seconds=second), key="error:NetworkError", message=f"t{second}")
        record_events(strategy.pk, [error])
    row = StrategyEvent.objects.get()
    assert (row.kind, row.severity, row.count) == ("error", "error", 5)
    assert (row.first_at, row.at, row.data) == (T0, T0 + timedelta(seconds=4), {"message": "t4"})


def test_an_error_on_100_ticks_in_10_s_is_one_insert_and_at_most_one_update_with_the_exact_count(strategy):
    faults = FaultInjector()
    h = Harness("30000", faults=faults, journal=OrmJournal(strategy.pk), strategy_id=strategy.pk)
    h.start()
    faults.add("fetch_price", Fault.NETWORK, times=100)
    writes = CaptureQueriesContext(connection)
    with writes:
        for _ in range(100):
            h.step("30000", seconds=0.1)
    changes = [q["sql"] for q in writes.captured_queries if StrategyEvent._meta.db_table in q["sql"]]
    inserts = [q for q in changes if q.lstrip().upper().startswith("INSERT")]
    updates = [q for q in changes if q.lstrip().upper().startswith("UPDATE")]
    assert len(inserts) == 2 and len(updates) == 0  # the error, and the "exchange down" pause it began
    row = StrategyEvent.objects.get(kind="error")
    assert row.count == 1  # the 99 repeats are held back, not written tick by tick
    h.step("30000", seconds=30)  # a healthy tick REPEAT_FLUSH later hands them on: one UPDATE
    row.refresh_from_db()
    assert row.count == 100 and row.dedupe_key == "error:NetworkError"
    assert StrategyEvent.objects.filter(kind="error").count() == 1


def test_a_fatal_error_writes_the_repeats_held_back_before_it(strategy):
    faults = FaultInjector()
    h = Harness("30000", faults=faults, journal=OrmJournal(strategy.pk), strategy_id=strategy.pk)
    h.start()
    faults.add("fetch_price", Fault.NETWORK, times=5)
    for _ in range(5):
        h.step("30000")
    h.engine.state = CoreState.STOPPED  # as a stop or a fatal error leaves it: no tick will follow
    h.engine.publish(h.clock.now())
    assert StrategyEvent.objects.get(kind="error").count == 5


def test_a_repeat_after_the_window_or_with_another_key_is_a_new_row(strategy):
    record_events(strategy.pk, [event(EventKind.ERROR, T0, key="error:A")])
    record_events(strategy.pk, [event(EventKind.ERROR, T0 + timedelta(seconds=1), key="error:B")])
    record_events(strategy.pk, [event(EventKind.ERROR, T0 + REPEAT_WINDOW + timedelta(seconds=1), key="error:A")])
    assert list(StrategyEvent.objects.order_by("id").values_list("dedupe_key", "count")) == [
        ("error:A", 1),
        ("error:B", 1),
        ("error:A", 1),
    ]


def test_a_pause_after_its_resume_is_a_new_row_so_the_timeline_ends_on_what_is_true(strategy):
    def turn(kind, prefix, second):
        return event(kind, T0 + timedelta(seconds=second), key=f"{prefix}:cooldown", reason="cooldown")

    record_events(strategy.pk, [turn(EventKind.PAUSED, "paused", 0)])
    record_events(strategy.pk, [turn(EventKind.PAUSED, "paused", 1)])  # a repeat: counted
    record_events(strategy.pk, [turn(EventKind.RESUMED, "resumed", 2)])
    record_events(strategy.pk, [turn(EventKind.PAUSED, "paused", 3)])  # after its resume: a new row
    # another cause's records are not in the way of this one's repeats
    record_events(strategy.pk, [event(EventKind.PAUSED, T0, key="paused:max_positions")])
    record_events(strategy.pk, [turn(EventKind.PAUSED, "paused", 4)])
    assert list(StrategyEvent.objects.order_by("id").values_list("kind", "count")) == [
        ("paused", 2),
        ("resumed", 1),
        ("paused", 2),
        ("paused", 1),
    ]


def test_events_without_a_key_are_never_merged_and_ids_follow_their_order(strategy):
    fills = [event(EventKind.BUY_FILLED, T0, price=D("29700.00"), amount=D("0.001")) for _ in range(3)]
    write_events(strategy.pk, [*fills, event(EventKind.STOPPED, T0, by="alice")])
    rows = list(StrategyEvent.objects.order_by("id"))
    assert [r.kind for r in rows] == ["buy_filled"] * 3 + ["stopped"]
    assert rows[0].data == {"price": "29700", "amount": "0.001"}  # money as plain decimal strings


def test_an_event_saved_with_the_journal_rolls_back_with_it(strategy):
    journal = OrmJournal(strategy.pk)

    def crash_after_the_save() -> None:
        with transaction.atomic():
            journal.save(anchor=D("30000"), events=[event(EventKind.LADDER_PLACED, T0, anchor=D("30000"))])
            raise RuntimeError("crash after the save, before the outer commit")

    with pytest.raises(RuntimeError):
        crash_after_the_save()
    assert not StrategyEvent.objects.exists()
    assert not EngineState.objects.exists()
    journal.save(anchor=D("30000"), events=[event(EventKind.LADDER_PLACED, T0, anchor=D("30000"))])
    assert StrategyEvent.objects.get().data == {"anchor": "30000"}


def test_the_purge_deletes_only_events_older_than_the_retention(strategy, settings):
    settings.EVENT_RETENTION_DAYS = 30
    now = timezone.now()
    record_events(
        strategy.pk,
        [
            event(EventKind.STARTED, now - timedelta(days=31)),
            event(EventKind.STOPPED, now - timedelta(days=29)),
        ],
    )
    assert purge_events() == 1
    assert list(StrategyEvent.objects.values_list("kind", flat=True)) == ["stopped"]


def test_a_strategys_events_go_with_it(strategy):
    record_events(strategy.pk, [event(EventKind.STARTED, T0, node="n1")])
    strategy.delete()
    assert not StrategyEvent.objects.exists()


def test_an_engine_on_the_orm_journal_writes_its_fills_events_with_the_fills(strategy):
    h = Harness("30000", journal=OrmJournal(strategy.pk), strategy_id=strategy.pk, grid_levels=3)
    h.start()
    h.step("29650")
    h.step("29997.01")
    rows = list(StrategyEvent.objects.filter(strategy=strategy).order_by("id"))
    assert [r.kind for r in rows] == ["ladder_placed", "buy_filled", "take_profit_filled"]
    assert rows[2].data["lot_pnl"] == "0.15899301"
    # a restart reconciles the same fills again: no event is written twice
    h.restart()
    h.step("29997.01")
    assert StrategyEvent.objects.filter(strategy=strategy, kind__endswith="filled").count() == 2


def test_a_stop_that_finds_no_engine_running_records_who_stopped_and_what_it_cancelled(
    strategy, redis_client, monkeypatch
):
    from trading.runtime import jobs

    # The job closes its connection first (a worker's is stale); the test's transaction must stay open.
    monkeypatch.setattr(jobs, "close_old_connections", lambda: None)
    strategy.__class__.objects.filter(pk=strategy.pk).update(stopped_by="admin")  # as the admin's stop records it
    assert jobs.stop_without_engine(strategy.pk, cancel_all=True) == "stopped"
    [stopped] = StrategyEvent.objects.filter(strategy=strategy)
    assert (stopped.kind, stopped.data) == ("stopped", {"by": "admin", "cancel_mode": "all"})


def test_the_last_run_event_is_the_latest_start_stop_or_handover_and_a_failed_run_is_noted_on_its_start(strategy):
    source = OrmStrategySource()
    assert source.last_run_event(strategy.pk) is None
    record_events(strategy.pk, [event(EventKind.STARTED, T0, node="a", job="job-1")])
    record_events(strategy.pk, [event(EventKind.ERROR, T0, key="error:X"), event(EventKind.BUY_FILLED, T0)])
    last = source.last_run_event(strategy.pk)
    assert last is not None and (last.kind, last.data) == (EventKind.STARTED, {"node": "a", "job": "job-1"})
    source.run_ended_on_error(strategy.pk, "job-other")  # not the latest run: nothing to note
    assert "ended" not in source.last_run_event(strategy.pk).data  # type: ignore[union-attr]
    source.run_ended_on_error(strategy.pk, "job-1")
    assert source.last_run_event(strategy.pk).data["ended"] == "error"  # type: ignore[union-attr]
    record_events(strategy.pk, [event(EventKind.STARTED, T0, job="job-2"), event(EventKind.HANDED_OVER, T0)])
    assert source.last_run_event(strategy.pk).kind == EventKind.HANDED_OVER  # type: ignore[union-attr]
    with CaptureQueriesContext(connection) as reads:
        source.last_run_event(strategy.pk)
    assert len(reads.captured_queries) == 1


def test_the_summary_of_a_failover_without_a_gap_says_it_is_unknown():
    assert summary("failed_over", {"from_node": "a", "to_node": "b", "gap_seconds": None}).endswith("an unknown gap")
    assert summary("failed_over", {"from_node": "a", "to_node": "b", "gap_seconds": 3.5}).endswith("after 3.5 s")
