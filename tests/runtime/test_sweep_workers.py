"""Sweeps on real RQ workers (subprocesses on the `backtests` queue, a private Redis, the test database): the
chunks are shared by every worker, the ranking and figures are exactly those of each combination run alone, and a
cancel takes the queued chunks off the queue and stops the running one."""

from __future__ import annotations

import os
import re
import signal
from decimal import Decimal

import pytest
from django.utils import timezone
from rq import Queue
from rq import Worker as RqWorker

from aresbot.redis import get_rq_redis
from tests.processes import RedisServer, descendants, wait_until
from tests.runtime.cluster import Worker, worker_env
from tests.test_sweep_runs import BASE
from tests.test_sweep_runs import SAMPLE as SAMPLE_NAME
from trading.backtest import run_backtest
from trading.backtests.datasets import load_dataset
from trading.backtests.params import backtest_options, engine_config, market
from trading.runtime.queues import BACKTEST_QUEUE
from trading.sweep import Figures, SweepGrid, SweepOrder, SweepRow, expand, rank
from trading.sweeps import services
from trading.sweeps.models import Sweep, SweepResult
from trading.sweeps.services import create_sweep

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

SAMPLE = f"sample:{SAMPLE_NAME}"


@pytest.fixture
def backtest_workers(private_redis_server: RedisServer, tmp_path):
    started: list[Worker] = []

    def spawn(count: int) -> list[Worker]:
        env = worker_env(private_redis_server.url, BACKTEST_CACHE_DIR=str(tmp_path / "cache"))
        new = [Worker(env, queue=BACKTEST_QUEUE, worker_class="BacktestWorker") for _ in range(count)]
        started.extend(new)
        wait_until(lambda: len(RqWorker.all(connection=get_rq_redis())) >= len(started), 30, "the workers to listen")
        return new

    yield spawn
    for worker in started:
        worker.stop()


def alone(sweep: Sweep) -> list[SweepRow]:
    """Each combination backtested by itself, in this process, with what the sweep was asked."""
    base = engine_config(sweep.parameters)
    options = backtest_options(sweep.options, tz=timezone.get_default_timezone())
    rules = market(sweep.parameters, sweep.options)
    rows = []
    for combination in expand(SweepGrid.from_json(sweep.grid), base, sweep.combinations):
        result = run_backtest(load_dataset(sweep.dataset_ref), combination.config(base), rules, options)
        rows.append(SweepRow(combination, Figures.of(result)))
    return rows


def test_a_sweep_over_two_workers_ranks_and_figures_exactly_as_each_combination_run_alone(alice, backtest_workers):
    backtest_workers(2)
    grid = SweepGrid(
        grid_levels=(3, 6),
        buy_offset_pct=(Decimal("0.2"), Decimal("0.4")),
        sell_offset_pct=(Decimal("0.3"), Decimal("0.6")),
        stop_loss_pct=(None, Decimal(1)),
    )
    sweep = create_sweep(
        owner=alice,
        parameters=BASE,
        grid=grid,
        combinations=16,
        options={"initial_quote": "2000"},
        dataset=None,
        sample=SAMPLE.removeprefix("sample:"),
        dataset_info={},
    )
    assert sweep.chunks == 16

    def finished() -> Sweep | None:
        sweep.refresh_from_db()
        return sweep if sweep.status not in ("queued", "running") else None

    wait_until(finished, 180, "the sweep to finish")
    assert sweep.status == "done", sweep.error
    assert services.progress(sweep, services.done_count(sweep)) == {"done": 16, "total": 16, "eta_seconds": 0}
    workers = set(SweepResult.objects.filter(sweep=sweep).values_list("worker", flat=True))
    assert len(workers) == 2 and "" not in workers, workers  # both workers ran chunks

    expected = alone(sweep)
    assert len({row.figures.total_pnl for row in expected}) > 4  # the parameters matter on this day
    for order in SweepOrder:
        want = [
            {**row.combination.as_json(), **row.figures.as_json(), "rank": place}
            for place, row in enumerate(rank(expected, order), start=1)
        ]
        assert services.results(sweep, order) == want, order


def test_a_cancel_takes_queued_chunks_off_the_queue_and_stops_the_running_one(alice, backtest_workers):
    backtest_workers(1)
    base = engine_config(BASE)
    grid = SweepGrid(
        grid_levels=(2, 3, 4, 5, 6, 7),
        buy_offset_pct=(Decimal("0.2"), Decimal("0.3")),
        sell_offset_pct=(Decimal("0.3"), Decimal("0.5")),
    )
    combinations = expand(grid, base, 100)
    sweep = create_sweep(
        owner=alice,
        parameters=BASE,
        grid=grid,
        combinations=len(combinations),
        options={},
        dataset=None,
        sample=SAMPLE.removeprefix("sample:"),
        dataset_info={},
        chunk_size=12,
    )
    assert sweep.chunks == 2
    queue = Queue(BACKTEST_QUEUE, connection=get_rq_redis())
    wait_until(lambda: SweepResult.objects.filter(sweep=sweep).exists(), 60, "the first combination")
    assert services.cancel_sweep(sweep)
    assert not [job_id for job_id in queue.get_job_ids() if job_id.startswith(f"sweep-{sweep.pk}-")]
    first = queue.fetch_job(f"sweep-{sweep.pk}-chunk-0")
    assert first is not None
    stopped = wait_until(lambda: first.return_value(refresh=True), 30, "the running chunk to end")
    assert stopped == "chunk 0 stopped: the sweep was cancelled"
    stored = SweepResult.objects.filter(sweep=sweep).count()
    assert 1 <= stored < 12
    sweep.refresh_from_db()
    assert (sweep.status, sweep.finished_at is not None) == ("cancelled", True)
    assert len(services.results(sweep)) == stored


def test_a_chunk_whose_work_horse_is_killed_is_retried_and_counts_each_combination_once(alice, backtest_workers):
    (worker,) = backtest_workers(1)
    grid = SweepGrid(
        grid_levels=(2, 3, 4, 5, 6, 7),
        buy_offset_pct=(Decimal("0.2"), Decimal("0.3")),
        sell_offset_pct=(Decimal("0.3"), Decimal("0.5")),
    )
    sweep = create_sweep(
        owner=alice,
        parameters=BASE,
        grid=grid,
        combinations=24,
        options={},
        dataset=None,
        sample=SAMPLE.removeprefix("sample:"),
        dataset_info={},
        chunk_size=24,
    )
    wait_until(lambda: SweepResult.objects.filter(sweep=sweep).exists(), 60, "the first combination")
    horses = descendants(worker.proc.pid)
    assert horses, "no work-horse to kill"
    for pid in horses:
        os.kill(pid, signal.SIGKILL)
    killed_after = SweepResult.objects.filter(sweep=sweep).count()
    assert killed_after < 24

    def finished() -> Sweep | None:
        sweep.refresh_from_db()
        return sweep if sweep.status not in ("queued", "running") else None

    wait_until(finished, 180, "the retried chunk to finish the sweep")
    assert sweep.status == "done", sweep.error
    assert sorted(SweepResult.objects.filter(sweep=sweep).values_list("index", flat=True)) == list(range(24))
    job = Queue(BACKTEST_QUEUE, connection=get_rq_redis()).fetch_job(f"sweep-{sweep.pk}-chunk-0")
    assert job is not None and job.retries_left == 1  # one try died, the retry finished
    said = str(job.return_value())
    ran, found = (int(n) for n in re.findall(r"(\d+) combinations run, (\d+) found done", said)[0])
    # The retry ran only what the killed try had not stored (perhaps one more than counted before the kill).
    assert (ran + found, found >= killed_after > 0) == (24, True)
    expected = [{**r.combination.as_json(), **r.figures.as_json()} for r in alone(sweep)]
    stored = [
        figures
        for _, figures in SweepResult.objects.filter(sweep=sweep).order_by("index").values_list("index", "figures")
    ]
    assert stored == expected
