"""Work left waiting after its RQ job was lost: a backtest still queued, a sweep's chunks not all done, a data set
still downloading, whose job is not in Redis any more (Redis flushed, or restarted without its data; the job
expired) or ended without taking the row (finished, failed, stopped). Nothing else would ever run it: the row
would stay queued for ever.

The control queue's cron (aresbot/cron.py) runs `rescue_lost` every RESCUE_INTERVAL. A row that has waited
LOST_AFTER (since it was made, or last queued again) with its job lost is queued again once, under a new job id
that the row names first (a conditional UPDATE: of two passes on two nodes only one queues it); a second loss marks
it failed with the reason. Queuing again is safe even if the lost job turns up: a backtest's job claims its row
queued → running (one wins), a sweep's chunk skips the combinations stored, and a download's job stops unless the
row names it.

The jobs' states are read before the rows' progress, so that a job that ends between the two reads is seen done
rather than lost.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta

import redis
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from rq.job import Job, JobStatus

from aresbot.redis import get_rq_redis
from trading.backtests import downloads, runs
from trading.backtests.models import ACTIVE_BACKTEST_STATUSES, Backtest, BacktestDataset, BacktestStatus
from trading.backtests.states import DatasetStatus
from trading.runtime.queues import backtest_job_id, download_job_id, enqueue_backtest, enqueue_dataset_download
from trading.sweeps import services as sweeps
from trading.sweeps.models import Sweep, SweepResult

log = logging.getLogger(__name__)

RESCUE_INTERVAL = 30  # seconds between two passes
LOST_AFTER = timedelta(minutes=1)  # longer than any gap between a row's commit and its job's enqueue
REQUEUES = 1  # a row is queued again this often; the next loss fails it
_ENDED = {JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED}
LOST_AGAIN = (
    "The job queue lost this {what} twice before a worker took it (Redis flushed or restarted without its data, "
    "or the job expired); nothing ran. Start it again."
)


def rescue_lost(*, now: datetime | None = None, connection: redis.Redis | None = None) -> dict[str, int]:
    """One pass: queue again (or fail) every backtest, sweep and download whose job was lost. Counts by what
    happened ("backtests_requeued", "sweeps_failed", …)."""
    now = now or timezone.now()
    connection = connection or get_rq_redis()
    counts: Counter[str] = Counter()
    _backtests(connection, now, counts)
    _downloads(connection, now, counts)
    _sweeps(connection, now, counts)
    if counts:
        log.warning("rescue of lost backtest jobs: %s", dict(counts))
    return dict(counts)


def _waited(queryset: QuerySet, now: datetime) -> QuerySet:
    cutoff = now - LOST_AFTER
    return queryset.filter(created_at__lt=cutoff).filter(Q(requeued_at__isnull=True) | Q(requeued_at__lt=cutoff))


def lost(connection: redis.Redis, job_ids: Sequence[str]) -> list[bool]:
    """For each job id: True when there is no such job, or it ended (it can no longer take its row)."""
    named = [job_id for job_id in job_ids if job_id]
    found = dict(zip(named, Job.fetch_many(named, connection=connection), strict=True)) if named else {}
    return [found.get(job_id) is None or _ended(found[job_id]) for job_id in job_ids]


def _ended(job: Job | None) -> bool:
    return job is None or job.get_status(refresh=False) in _ENDED


def _backtests(connection: redis.Redis, now: datetime, counts: Counter[str]) -> None:
    queued = _waited(Backtest.objects.filter(status=BacktestStatus.QUEUED.value), now)
    rows = list(queued.values_list("pk", "job_id", "requeued"))
    for (pk, job_id, requeued), gone in zip(rows, lost(connection, [row[1] for row in rows]), strict=True):
        if not gone:
            continue
        if requeued >= REQUEUES:
            if runs.fail(pk, LOST_AGAIN.format(what="backtest"), statuses=(BacktestStatus.QUEUED.value,)):
                counts["backtests_failed"] += 1
            continue
        new_id = backtest_job_id(pk)
        mine = Backtest.objects.filter(pk=pk, status=BacktestStatus.QUEUED.value, job_id=job_id, requeued=requeued)
        if mine.update(job_id=new_id, requeued=F("requeued") + 1, requeued_at=now):
            enqueue_backtest(pk, new_id)
            log.warning("backtest %s: its job %r was lost; queued again as %s", pk, job_id, new_id)
            counts["backtests_requeued"] += 1


def _downloads(connection: redis.Redis, now: datetime, counts: Counter[str]) -> None:
    waiting = _waited(BacktestDataset.objects.filter(status=DatasetStatus.DOWNLOADING.value), now)
    rows = list(waiting.values_list("pk", "job_id", "requeued"))
    for (pk, job_id, requeued), gone in zip(rows, lost(connection, [row[1] for row in rows]), strict=True):
        if not gone:
            continue
        if requeued >= REQUEUES:
            if downloads.fail(pk, LOST_AGAIN.format(what="download"), job_id):
                counts["downloads_failed"] += 1
            continue
        new_id = download_job_id(pk)
        mine = BacktestDataset.objects.filter(
            pk=pk, status=DatasetStatus.DOWNLOADING.value, job_id=job_id, requeued=requeued
        )
        if mine.update(job_id=new_id, requeued=F("requeued") + 1, requeued_at=now):
            enqueue_dataset_download(pk, new_id)
            log.warning("data set %s: its download job %r was lost; queued again as %s", pk, job_id, new_id)
            counts["downloads_requeued"] += 1


def _sweeps(connection: redis.Redis, now: datetime, counts: Counter[str]) -> None:
    for sweep in _waited(Sweep.objects.filter(status__in=ACTIVE_BACKTEST_STATUSES), now):
        chunks = range(sweep.chunks)
        gone = lost(connection, [sweeps.chunk_job_id(sweep, chunk) for chunk in chunks])
        stored = Counter(
            index // sweep.chunk_size
            for index in SweepResult.objects.filter(sweep_id=sweep.pk).values_list("index", flat=True)
        )
        todo = [
            chunk
            for chunk in chunks
            if gone[chunk] and stored[chunk] < min(sweep.chunk_size, sweep.combinations - chunk * sweep.chunk_size)
        ]
        if not todo:
            continue
        if sweep.requeued >= REQUEUES:
            if sweeps.fail_sweep(sweep.pk, LOST_AGAIN.format(what="sweep's chunks")):
                counts["sweeps_failed"] += 1
            continue
        mine = Sweep.objects.filter(pk=sweep.pk, status__in=ACTIVE_BACKTEST_STATUSES, requeued=sweep.requeued)
        if mine.update(requeued=F("requeued") + 1, requeued_at=now):
            sweeps.enqueue_chunks(sweep, todo)
            log.warning("sweep %s: the jobs of chunks %s were lost; queued again", sweep.pk, [c + 1 for c in todo])
            counts["sweeps_requeued"] += 1
