"""A sweep's chunk jobs run in this process (trading.sweeps.runs): queued as chunks on the backtests queue, each
combination recorded once however often its chunk runs, the last chunk to finish marking the sweep done, a failing
chunk failing it, cancel, the ETA. The same jobs on real workers: tests/runtime/test_sweep_workers.py."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D
from typing import Any

import pytest
from django.utils import timezone
from rq import Queue

from aresbot.redis import get_rq_redis
from trading.runtime.jobs import run_sweep_chunk
from trading.runtime.queues import BACKTEST_QUEUE
from trading.sweep import SweepGrid, SweepOrder
from trading.sweeps import services
from trading.sweeps.models import Sweep, SweepResult

pytestmark = [pytest.mark.usefixtures("redis_client"), pytest.mark.django_db(transaction=True)]

SAMPLE = "BTCUSDT-1m-2022-05-05"
BASE = {
    "symbol": "BTC/USDT",
    "grid_levels": 3,
    "buy_offset_pct": "0.3",
    "sell_offset_pct": "0.4",
    "order_size_quote": "100",
    "reprice_threshold_pct": "1",
}
GRID = SweepGrid(grid_levels=(3, 6), buy_offset_pct=(D("0.2"), D("0.4")), sell_offset_pct=(D("0.5"),))


def make_sweep(owner: Any, chunk_size: int, **fields: Any) -> Sweep:
    return services.create_sweep(
        owner=owner,
        parameters=BASE,
        grid=GRID,
        combinations=4,
        options={"initial_quote": "2000"},
        dataset=None,
        sample=fields.get("sample", SAMPLE),
        dataset_info={"id": f"sample:{SAMPLE}", "name": SAMPLE},
        chunk_size=chunk_size,
    )


def queued(sweep: Sweep) -> list[str]:
    queue = Queue(BACKTEST_QUEUE, connection=get_rq_redis())
    return sorted(j for j in queue.get_job_ids() if j.startswith(f"sweep-{sweep.pk}-"))


def test_a_sweep_is_queued_as_chunks_and_the_last_chunk_to_finish_marks_it_done(alice):
    sweep = make_sweep(alice, chunk_size=1)
    assert sweep.chunks == 4
    assert queued(sweep) == [f"sweep-{sweep.pk}-chunk-{i}" for i in range(4)]
    for chunk in (2, 0, 3):
        run_sweep_chunk(sweep.pk, chunk)
        sweep.refresh_from_db()
        assert sweep.status == "running" and sweep.finished_at is None
        assert sweep.started_at is not None
    assert services.progress(sweep, services.done_count(sweep))["done"] == 3
    assert len(services.results(sweep)) == 3  # the combinations done so far
    run_sweep_chunk(sweep.pk, 1)
    sweep.refresh_from_db()
    assert sweep.status == "done" and sweep.finished_at is not None
    assert services.progress(sweep, services.done_count(sweep)) == {"done": 4, "total": 4, "eta_seconds": 0}
    ranked = services.results(sweep)
    assert [r["rank"] for r in ranked] == [1, 2, 3, 4]
    assert sorted((r["grid_levels"], r["buy_offset_pct"]) for r in ranked) == [
        (3, "0.2"),
        (3, "0.4"),
        (6, "0.2"),
        (6, "0.4"),
    ]
    pnls = [D(r["total_pnl"]) for r in ranked]
    assert pnls == sorted(pnls, reverse=True)
    drawdowns = [D(r["max_drawdown"]) for r in services.results(sweep, SweepOrder.MAX_DRAWDOWN)]
    assert drawdowns == sorted(drawdowns)


def test_a_chunk_run_again_counts_each_combination_once(alice):
    sweep = make_sweep(alice, chunk_size=2)
    run_sweep_chunk(sweep.pk, 0)
    first = list(SweepResult.objects.filter(sweep=sweep).values_list("index", "figures"))
    assert [index for index, _ in first] == [0, 1]
    # A retry after a work-horse died mid-chunk: one combination's row was written before it died, one was not.
    SweepResult.objects.filter(sweep=sweep, index=1).delete()
    assert run_sweep_chunk(sweep.pk, 0) == "chunk 0: 1 combinations run, 1 found done"
    assert list(SweepResult.objects.filter(sweep=sweep).values_list("index", "figures")) == first
    assert run_sweep_chunk(sweep.pk, 0) == "chunk 0: 0 combinations run, 2 found done"
    sweep.refresh_from_db()
    assert (sweep.status, services.done_count(sweep)) == ("running", 2)
    run_sweep_chunk(sweep.pk, 1)
    run_sweep_chunk(sweep.pk, 1)
    sweep.refresh_from_db()
    assert (sweep.status, services.done_count(sweep)) == ("done", 4)


def test_a_failing_chunk_fails_the_sweep_with_its_reason_and_takes_the_rest_off_the_queue(alice):
    sweep = make_sweep(alice, chunk_size=1, sample="no-such-sample")
    assert run_sweep_chunk(sweep.pk, 0) == "failed"
    sweep.refresh_from_db()
    assert sweep.status == "failed"
    assert sweep.error.startswith("chunk 1 of 4: ") and "no-such-sample" in sweep.error
    assert queued(sweep) == []
    assert run_sweep_chunk(sweep.pk, 1) == "the sweep is gone or over"


def test_a_chunk_that_raises_fails_the_sweep_and_its_job(alice):
    sweep = make_sweep(alice, chunk_size=2)
    Sweep.objects.filter(pk=sweep.pk).update(parameters={**BASE, "symbol": "NOPE/USDT"})
    with pytest.raises(KeyError, match="NOPE/USDT") as caught:
        run_sweep_chunk(sweep.pk, 1)
    sweep.refresh_from_db()
    assert sweep.status == "failed"
    assert sweep.error == f"chunk 2 of 2: {type(caught.value).__name__}: {caught.value}"
    assert queued(sweep) == []


def test_cancel_takes_the_queued_chunks_off_and_later_chunks_do_nothing(alice):
    sweep = make_sweep(alice, chunk_size=1)
    run_sweep_chunk(sweep.pk, 0)
    assert services.cancel_sweep(sweep)
    assert not services.cancel_sweep(sweep)  # already over
    assert queued(sweep) == []
    assert run_sweep_chunk(sweep.pk, 1) == "the sweep is gone or over"
    sweep.refresh_from_db()
    assert (sweep.status, services.done_count(sweep)) == ("cancelled", 1)


def test_the_eta_follows_the_rate_combinations_were_done_at(alice):
    now = timezone.now()
    sweep = Sweep(owner=alice, combinations=100, chunk_size=5, status="running", started_at=now - timedelta(seconds=30))
    assert services.progress(sweep, 20, now) == {"done": 20, "total": 100, "eta_seconds": 120}
    assert services.progress(sweep, 0, now)["eta_seconds"] is None
    sweep.status = "queued"
    assert services.progress(sweep, 0, now)["eta_seconds"] is None


def test_chunks_are_small_enough_for_many_workers_and_never_over_the_setting(settings):
    settings.SWEEP_CHUNK_SIZE = 20
    assert [services.chunk_size_for(n) for n in (1, 8, 32, 33, 100, 640, 5000)] == [1, 1, 1, 2, 4, 20, 20]


def test_sweeps_and_their_results_are_read_only_in_the_admin(alice):
    from django.test import Client
    from django.urls import reverse

    alice.is_staff = alice.is_superuser = True
    alice.save()
    web = Client()
    web.force_login(alice)
    sweep = make_sweep(alice, chunk_size=4)
    run_sweep_chunk(sweep.pk, 0)
    result = SweepResult.objects.filter(sweep=sweep).first()
    assert result is not None
    for row in (sweep, result):
        name = f"admin:trading_{type(row)._meta.model_name}"
        assert web.get(reverse(f"{name}_changelist")).status_code == 200
        detail = web.get(reverse(f"{name}_change", args=[row.pk]))
        assert detail.status_code == 200 and 'name="_save"' not in detail.content.decode()
        assert web.get(reverse(f"{name}_add")).status_code == 403
        assert web.post(reverse(f"{name}_delete", args=[row.pk]), {"post": "yes"}).status_code == 403
    assert Sweep.objects.filter(pk=sweep.pk).exists() and SweepResult.objects.count() == 4


def test_a_chunk_abandoned_by_a_dead_node_fails_the_sweep_only_on_its_last_try(alice):
    from rq.exceptions import AbandonedJobError

    from trading.sweeps.runs import chunk_failed

    sweep = make_sweep(alice, chunk_size=2)
    job = Queue(BACKTEST_QUEUE, connection=get_rq_redis()).fetch_job(f"sweep-{sweep.pk}-chunk-1")
    assert job is not None and job.retries_left == services.CHUNK_RETRIES
    chunk_failed(job, job.connection, AbandonedJobError, AbandonedJobError(), None)
    sweep.refresh_from_db()
    assert sweep.status == "queued"  # RQ retries it
    job.retries_left = 0
    chunk_failed(job, job.connection, AbandonedJobError, AbandonedJobError(), None)
    sweep.refresh_from_db()
    assert sweep.status == "failed"
    assert sweep.error.startswith("The worker running chunk 2 stopped before it finished, on every try")
    assert queued(sweep) == []
