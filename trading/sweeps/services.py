"""Making, cancelling and reading sweeps: the functions the API (and the admin, the tests) call."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import redis
from django.conf import settings
from django.utils import timezone
from rq import Callback, Retry

from aresbot.errors import ServiceUnavailable
from aresbot.redis import get_queue
from trading.backtests.models import ACTIVE_BACKTEST_STATUSES, BacktestDataset, BacktestStatus
from trading.runtime.queues import BACKTEST_QUEUE, FAILURE_TTL, RESULT_TTL, SWEEP_CHUNK_JOB
from trading.sweep import Combination, Figures, SweepGrid, SweepOrder, SweepRow, rank
from trading.sweeps.models import Sweep, SweepResult

CHUNK_FAILED = "trading.sweeps.runs.chunk_failed"

# A chunk is retried this often when its work-horse dies (a node lost mid-chunk): the retry redoes only the
# combinations not yet stored.
CHUNK_RETRIES = 2
# A sweep is cut into at least this many chunks when it has that many combinations, so that up to as many workers
# share it; at most SWEEP_CHUNK_SIZE combinations in one, so that the last chunk never keeps the others waiting.
SPREAD = 32


def chunk_size_for(combinations: int) -> int:
    return max(1, min(settings.SWEEP_CHUNK_SIZE, -(-combinations // SPREAD)))


def create_sweep(
    *,
    owner: Any,
    parameters: Mapping[str, Any],
    grid: SweepGrid,
    combinations: int,
    options: Mapping[str, Any],
    dataset: BacktestDataset | None,
    sample: str,
    dataset_info: Mapping[str, Any],
    strategy_id: int | None = None,
    chunk_size: int | None = None,
) -> Sweep:
    """Store a sweep whose grid and parameters were checked (trading.sweep.expand) and queue its chunks (of
    `chunk_size` combinations; by default chunk_size_for the count). ServiceUnavailable, with the sweep failed,
    when the queue (Redis) cannot be reached."""
    sweep = Sweep.objects.create(
        owner=owner,
        strategy_id=strategy_id,
        parameters=dict(parameters),
        grid=grid.as_json(),
        combinations=combinations,
        chunk_size=chunk_size or chunk_size_for(combinations),
        options=dict(options),
        dataset=dataset,
        sample=sample,
        dataset_info=dict(dataset_info),
    )
    try:
        enqueue_chunks(sweep)
    except redis.RedisError:
        fail_sweep(sweep.pk, "The job queue (Redis) could not be reached; nothing ran.")
        raise ServiceUnavailable("The job queue (Redis) cannot be reached; try again later.") from None
    return sweep


def chunk_job_id(sweep: Sweep, chunk: int) -> str:
    return f"sweep-{sweep.pk}-chunk-{chunk}"


def enqueue_chunks(sweep: Sweep, chunks: Iterable[int] | None = None) -> None:
    """Queue the sweep's chunks (all, or those named: the rescue of lost ones, trading.backtests.rescue)."""
    queue = get_queue(BACKTEST_QUEUE)
    queue.enqueue_many(
        [
            queue.prepare_data(
                SWEEP_CHUNK_JOB,
                (sweep.pk, chunk),
                job_id=chunk_job_id(sweep, chunk),
                retry=Retry(max=CHUNK_RETRIES),
                # Called by RQ when the chunk fails, and for a chunk whose whole node died (an abandoned job).
                on_failure=Callback(CHUNK_FAILED),
                result_ttl=RESULT_TTL,
                failure_ttl=FAILURE_TTL,
                description=f"sweep {sweep.pk}, chunk {chunk + 1} of {sweep.chunks}",
            )
            for chunk in (range(sweep.chunks) if chunks is None else chunks)
        ]
    )


def dequeue_chunks(sweep: Sweep) -> None:
    """Take the sweep's chunks that no worker has started off the queue (a running one stops by itself)."""
    queue = get_queue(BACKTEST_QUEUE)
    with queue.connection.pipeline() as pipe:
        for chunk in range(sweep.chunks):
            job_id = chunk_job_id(sweep, chunk)
            queue.remove(job_id, pipeline=pipe)
        pipe.execute()


def fail_sweep(sweep_id: int, reason: str) -> bool:
    """Mark a queued or running sweep failed with `reason` and take its queued chunks off the queue."""
    failed = Sweep.objects.filter(pk=sweep_id, status__in=ACTIVE_BACKTEST_STATUSES).update(
        status=BacktestStatus.FAILED.value, error=reason[:5000], finished_at=timezone.now()
    )
    if failed:
        dequeue_chunks(Sweep.objects.get(pk=sweep_id))
    return bool(failed)


def cancel_sweep(sweep: Sweep) -> bool:
    """Cancel a queued or running sweep: False when it had already ended."""
    cancelled = Sweep.objects.filter(pk=sweep.pk, status__in=ACTIVE_BACKTEST_STATUSES).update(
        status=BacktestStatus.CANCELLED.value, finished_at=timezone.now()
    )
    if cancelled:
        dequeue_chunks(sweep)
    return bool(cancelled)


def done_count(sweep: Sweep) -> int:
    return SweepResult.objects.filter(sweep_id=sweep.pk).count()


def progress(sweep: Sweep, done: int, now: datetime | None = None) -> dict[str, int | None]:
    """{done, total, eta_seconds}: the ETA at the rate combinations were done since the sweep started."""
    eta: int | None = None
    if sweep.status == BacktestStatus.RUNNING.value and sweep.started_at is not None and 0 < done < sweep.combinations:
        elapsed = ((now or timezone.now()) - sweep.started_at).total_seconds()
        eta = round(elapsed / done * (sweep.combinations - done))
    elif sweep.status == BacktestStatus.DONE.value:
        eta = 0
    return {"done": done, "total": sweep.combinations, "eta_seconds": eta}


def results(sweep: Sweep, order: SweepOrder | str = SweepOrder.TOTAL_PNL) -> list[dict[str, Any]]:
    """The combinations done so far, ranked by `order` (trading.sweep.rank), each with its rank from 1."""
    rows = []
    for index, stored in SweepResult.objects.filter(sweep_id=sweep.pk).values_list("index", "figures"):
        rows.append(SweepRow(Combination.from_json(index, stored), Figures.from_json(stored)))
    found = []
    for place, row in enumerate(rank(rows, order), start=1):
        found.append({**row.combination.as_json(), **row.figures.as_json(), "rank": place})
    return found
