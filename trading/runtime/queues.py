"""The queues and how work is put on them, by the job's dotted path.

Naming a job by its path keeps this module light: the web process, the services and the commands queue work
without importing the job modules (and with them the engine, CCXT and the exchange factory).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from rq.job import Job

from aresbot.redis import get_queue, get_redis
from trading.runtime import coordination as co

STRATEGY_QUEUE = "strategies"
CONTROL_QUEUE = "control"
BACKTEST_QUEUE = "backtests"  # backtests, sweep chunks, data set downloads (never an engine)
NOTIFY_QUEUE = "notify"  # notification delivery (notifications/outbox.py)
# Kept for a day so that an operator can read why a run ended (`rq info`, the django-rq admin pages).
RESULT_TTL = 24 * 3600
FAILURE_TTL = 7 * 24 * 3600

RUN_STRATEGY = "trading.runtime.jobs.run_strategy"
STOP_WITHOUT_ENGINE = "trading.runtime.jobs.stop_without_engine"
BACKTEST_JOB = "trading.runtime.jobs.run_backtest"
DOWNLOAD_DATASET_JOB = "trading.runtime.jobs.download_dataset"
SWEEP_CHUNK_JOB = "trading.runtime.jobs.run_sweep_chunk"


def enqueue_run(strategy_id: int) -> Job | None:
    """Queue a run job unless one is already queued and not yet started."""
    client = get_redis()
    # The mark outlives a queue wait of two leases; a job still waiting after that gets a twin that will find
    # the lease taken and end at once, which is harmless.
    if not co.mark_enqueued(client, strategy_id, 2 * settings.STRATEGY_LOCK_TTL):
        return None
    queue = get_queue(STRATEGY_QUEUE)
    return queue.enqueue(
        RUN_STRATEGY,
        strategy_id,
        job_id=f"strategy-{strategy_id}-{uuid.uuid4().hex[:12]}",
        job_timeout=-1,
        result_ttl=RESULT_TTL,
        failure_ttl=FAILURE_TTL,
        description=f"run strategy {strategy_id}",
    )


def enqueue_stop_without_engine(strategy_id: int, cancel_all: bool) -> Job:
    return get_queue(CONTROL_QUEUE).enqueue(
        STOP_WITHOUT_ENGINE, strategy_id, cancel_all, result_ttl=RESULT_TTL, failure_ttl=FAILURE_TTL
    )


def backtest_job_id(backtest_id: int) -> str:
    return f"backtest-{backtest_id}-{uuid.uuid4().hex[:12]}"


def download_job_id(dataset_id: int) -> str:
    return f"dataset-{dataset_id}-{uuid.uuid4().hex[:12]}"


def enqueue_backtest(backtest_id: int, job_id: str | None = None) -> Job:
    """Queue a backtest (after the commit that made its row: the job reads it), as `job_id` if given."""
    return _enqueue_backtests_job(
        BACKTEST_JOB, backtest_id, job_id or backtest_job_id(backtest_id), f"backtest {backtest_id}"
    )


def enqueue_dataset_download(dataset_id: int, job_id: str | None = None) -> Job:
    """Queue the download of a data set's candles (on the backtests queue: never in a web request), as `job_id`
    if given (the id the row keeps: a download job that is not the row's stops, trading.backtests.downloads)."""
    return _enqueue_backtests_job(
        DOWNLOAD_DATASET_JOB, dataset_id, job_id or download_job_id(dataset_id), f"download data set {dataset_id}"
    )


def _enqueue_backtests_job(path: str, pk: int, job_id: str, description: str) -> Job:
    return get_queue(BACKTEST_QUEUE).enqueue(
        path,
        pk,
        job_id=job_id,
        result_ttl=RESULT_TTL,
        failure_ttl=FAILURE_TTL,
        description=description,
    )
