"""Running a sweep's chunks: the body of the `backtests` queue's chunk job (trading.runtime.jobs.run_sweep_chunk),
which every worker of every node serving that queue shares, and what a dead work-horse leaves behind.

execute_chunk(sweep, chunk), in the order it goes:
1. the first chunk to start marks the sweep running (a conditional UPDATE: only one wins);
2. it skips the combinations that already have their SweepResult (a retry after a work-horse died redoes only
   what was lost), loads the data set once and prepares it once for all its runs (trading.sweep.run_chunk);
3. after each combination it stores the figures (one row per combination, unique: a second write of the same
   combination is ignored, never counted twice) and looks whether the sweep is still wanted; while a run goes on,
   its progress callback looks too (at most every CANCEL_POLL seconds) and stops it by raising;
4. when its combinations are done it counts the sweep's rows, and when they are all there marks the sweep done
   with a conditional UPDATE. Each chunk counts after its own rows are committed, so the last one to commit sees
   them all (two may both see them: the UPDATE lets one win, and a cancel that came first stays).
An error marks the sweep failed with its reason and takes its queued chunks off the queue; the job then fails too
(RQ keeps the traceback). A work-horse killed mid-chunk is retried (services.CHUNK_RETRIES); the last try's death
fails the sweep (trading.runtime.worker.BacktestWorker).
"""

from __future__ import annotations

import time
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone
from rq import get_current_job
from rq.job import Job

from trading.backtest import prepare_series
from trading.backtests.datasets import DatasetUnavailable, load_dataset, market_rules_of
from trading.backtests.models import ACTIVE_BACKTEST_STATUSES, BacktestStatus
from trading.backtests.params import backtest_options, engine_config, market
from trading.sweep import Combination, SweepGrid, SweepRow, expand, run_chunk
from trading.sweeps.models import Sweep, SweepResult
from trading.sweeps.services import fail_sweep

CANCEL_POLL = 0.5  # seconds between two looks at the sweep's status while a run goes on
PROGRESS_CANDLES = 2_000  # how often a run reports (a clock read; a query at most every CANCEL_POLL)
DIED = (
    "The worker running chunk {chunk} stopped before it finished, on every try (killed, out of memory, or its node "
    "went away)."
)


class SweepStopped(Exception):
    """The sweep was cancelled, failed elsewhere or deleted: this chunk stops where it is."""


def chunk_combinations(sweep: Sweep, chunk: int) -> list[Combination]:
    combinations = expand(SweepGrid.from_json(sweep.grid), engine_config(sweep.parameters), sweep.combinations)
    return combinations[chunk * sweep.chunk_size : (chunk + 1) * sweep.chunk_size]


def execute_chunk(sweep_id: int, chunk: int) -> str:
    close_old_connections()
    sweep = Sweep.objects.filter(pk=sweep_id).first()
    if sweep is None or sweep.status not in ACTIVE_BACKTEST_STATUSES:
        return "the sweep is gone or over"
    Sweep.objects.filter(pk=sweep_id, status=BacktestStatus.QUEUED.value).update(
        status=BacktestStatus.RUNNING.value, started_at=timezone.now()
    )
    job = get_current_job()
    worker = (job.worker_name if job is not None else "") or ""
    where = f"chunk {chunk + 1} of {sweep.chunks}"
    try:
        combinations = chunk_combinations(sweep, chunk)
        stored = set(
            SweepResult.objects.filter(sweep_id=sweep_id, index__in=[c.index for c in combinations]).values_list(
                "index", flat=True
            )
        )
        todo = [c for c in combinations if c.index not in stored]
        if todo:
            _run(sweep, chunk, todo, worker)
    except SweepStopped:
        return f"chunk {chunk} stopped: the sweep was cancelled"
    except DatasetUnavailable as exc:
        fail_sweep(sweep_id, f"{where}: {exc}")
        return "failed"
    except Exception as exc:
        fail_sweep(sweep_id, f"{where}: {type(exc).__name__}: {exc}")
        raise  # RQ records the traceback for the operator
    finish_if_complete(sweep_id)
    return f"chunk {chunk}: {len(todo)} combinations run, {len(combinations) - len(todo)} found done"


def _run(sweep: Sweep, chunk: int, todo: list[Combination], worker: str) -> None:
    last_look = time.monotonic()

    def still_wanted() -> None:
        status = Sweep.objects.filter(pk=sweep.pk).values_list("status", flat=True).first()
        if status not in ACTIVE_BACKTEST_STATUSES:
            raise SweepStopped

    def progress(done: int, total: int) -> None:
        nonlocal last_look
        if time.monotonic() - last_look >= CANCEL_POLL:
            still_wanted()
            last_look = time.monotonic()

    def record(row: SweepRow) -> None:
        figures = {**row.combination.as_json(), **row.figures.as_json()}
        # ignore_conflicts: an earlier try of this chunk stored the combination already; it counts once.
        SweepResult.objects.bulk_create(
            [SweepResult(sweep_id=sweep.pk, index=row.combination.index, chunk=chunk, worker=worker, figures=figures)],
            ignore_conflicts=True,
        )
        still_wanted()

    prepared = prepare_series(load_dataset(sweep.dataset_ref))
    options = backtest_options(
        sweep.options, progress=progress, progress_every=PROGRESS_CANDLES, tz=ZoneInfo(settings.TIME_ZONE)
    )
    rules = market(sweep.parameters, sweep.options, market_rules_of(sweep.dataset_ref))
    run_chunk(prepared, engine_config(sweep.parameters), rules, options, todo, record)


def finish_if_complete(sweep_id: int) -> bool:
    sweep = Sweep.objects.filter(pk=sweep_id).only("combinations").first()
    if sweep is None or SweepResult.objects.filter(sweep_id=sweep_id).count() < sweep.combinations:
        return False
    return bool(
        Sweep.objects.filter(pk=sweep_id, status__in=ACTIVE_BACKTEST_STATUSES).update(
            status=BacktestStatus.DONE.value, finished_at=timezone.now()
        )
    )


def horse_died(job_args: tuple[Any, ...]) -> None:
    """The work-horse running a chunk (job args: sweep id, chunk) died on its last try: the sweep failed."""
    if len(job_args) == 2 and all(isinstance(a, int) for a in job_args):
        close_old_connections()
        sweep_id, chunk = job_args
        fail_sweep(sweep_id, DIED.format(chunk=chunk + 1))


def chunk_failed(job: Job, connection: Any, exc_type: type[BaseException], exc: BaseException, tb: Any) -> None:
    """RQ's failure callback of a chunk job. An error inside the chunk failed the sweep already; this is for a
    chunk whose whole node died (RQ's cleanup finds it abandoned): once no try is left, the sweep failed."""
    if not job.retries_left:  # else RQ tries it again
        horse_died(tuple(job.args))
