"""Running a Backtest row: the body of the `backtests` queue's job (trading.runtime.jobs.run_backtest), making and
cancelling backtests, and what a dead worker leaves behind.

States move by conditional UPDATEs, so that a cancel and the worker never both win: queued → running (the job
starts), running → done (the result, written in the same transaction, all of it or nothing), queued/running →
cancelled (the API; the running job sees it at its next progress write and stops), running → failed (an error, a
timeout, a worker that died).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import close_old_connections, transaction
from django.db.models import QuerySet
from django.utils import timezone

from trading.backtest import BacktestResult, run_backtest
from trading.backtests import results
from trading.backtests.datasets import DatasetUnavailable, load_dataset, market_rules_of
from trading.backtests.models import ACTIVE_BACKTEST_STATUSES, Backtest, BacktestStatus
from trading.backtests.params import backtest_options, engine_config, market

log = logging.getLogger(__name__)

PROGRESS_INTERVAL = 0.5  # seconds between progress writes (and cancel checks)
PROGRESS_CANDLES = 2_000  # how often run_backtest reports; the writes are thinned to PROGRESS_INTERVAL
# A running backtest whose row has not been written for this long lost its worker (the node died): failed.
STALE_AFTER = timedelta(minutes=3)
DIED = "The worker running this backtest stopped before it finished (killed, out of memory, or its node went away)."


class Cancelled(Exception):
    """The backtest was cancelled (or deleted) while it ran."""


class _Progress:
    """run_backtest's progress callback: writes done/total and the ETA at most every PROGRESS_INTERVAL, and raises
    Cancelled (ending the run) when the row is no longer running."""

    def __init__(self, backtest_id: int) -> None:
        self.backtest_id = backtest_id
        self.started = time.monotonic()
        self.last = float("-inf")

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.last < PROGRESS_INTERVAL:
            return
        self.last = now
        elapsed = now - self.started
        eta = round(elapsed * (total - done) / done) if done else None
        written = Backtest.objects.filter(pk=self.backtest_id, status=BacktestStatus.RUNNING.value).update(
            progress_done=done, progress_total=total, eta_seconds=eta, updated_at=timezone.now()
        )
        if not written:
            raise Cancelled


def execute(backtest_id: int) -> str:
    """Run queued backtest `backtest_id` to its end: done with its results, failed with the reason, or cancelled."""
    close_old_connections()
    started = timezone.now()
    claimed = Backtest.objects.filter(pk=backtest_id, status=BacktestStatus.QUEUED.value).update(
        status=BacktestStatus.RUNNING.value, started_at=started, updated_at=started
    )
    if not claimed:
        return "not queued any more (cancelled or deleted)"
    backtest = Backtest.objects.filter(pk=backtest_id).first()
    if backtest is None:
        return "deleted"
    try:
        series = load_dataset(backtest.dataset_ref)
        Backtest.objects.filter(pk=backtest_id, status=BacktestStatus.RUNNING.value).update(
            progress_total=len(series), updated_at=timezone.now()
        )
        options = backtest_options(
            backtest.options,
            progress=_Progress(backtest_id),
            progress_every=PROGRESS_CANDLES,
            tz=ZoneInfo(settings.TIME_ZONE),
        )
        rules = market(backtest.parameters, backtest.options, market_rules_of(backtest.dataset_ref))
        result = run_backtest(series, engine_config(backtest.parameters), rules, options)
        saved = save_result(backtest_id, result)
    except Cancelled:
        return "cancelled"
    except DatasetUnavailable as exc:
        fail(backtest_id, str(exc))
        return "failed"
    except Exception as exc:
        fail(backtest_id, f"{type(exc).__name__}: {exc}")
        raise  # RQ records the traceback for the operator
    return "done" if saved else "cancelled"


def save_result(backtest_id: int, result: BacktestResult) -> bool:
    """The results, all in one transaction, if the backtest is still running (False when it was cancelled)."""
    with transaction.atomic():
        finished = Backtest.objects.filter(pk=backtest_id, status=BacktestStatus.RUNNING.value).update(
            status=BacktestStatus.DONE.value,
            finished_at=timezone.now(),
            updated_at=timezone.now(),
            progress_done=result.candles,
            progress_total=result.candles,
            eta_seconds=0,
            summary=result.summary(),
            equity_curve=results.equity_curve(result),
            gaps=results.gaps(result),
        )
        if not finished:
            return False
        results.save_records(backtest_id, results.FILLS, results.fill_rows(result))
        results.save_records(backtest_id, results.POSITIONS, results.position_rows(result))
    return True


def fail(backtest_id: int, error: str, *, statuses: tuple[str, ...] = ACTIVE_BACKTEST_STATUSES) -> bool:
    now = timezone.now()
    return bool(
        Backtest.objects.filter(pk=backtest_id, status__in=statuses).update(
            status=BacktestStatus.FAILED.value, error=error[:5000], finished_at=now, updated_at=now, eta_seconds=None
        )
    )


def cancel(backtest_id: int) -> bool:
    """Cancel a queued or running backtest; False when it had already ended. A running job stops at its next
    progress write; a queued one finds itself cancelled when a worker takes it."""
    now = timezone.now()
    return bool(
        Backtest.objects.filter(pk=backtest_id, status__in=ACTIVE_BACKTEST_STATUSES).update(
            status=BacktestStatus.CANCELLED.value, finished_at=now, updated_at=now, eta_seconds=None
        )
    )


def fail_stale(backtests: QuerySet[Backtest]) -> int:
    """Mark failed the running backtests among `backtests` that nothing has written for STALE_AFTER: their worker
    is gone (a killed work-horse is caught by the worker itself; this is for a node that died whole)."""
    cutoff = timezone.now() - STALE_AFTER
    stale = backtests.filter(status=BacktestStatus.RUNNING.value, updated_at__lt=cutoff).values_list("pk", flat=True)
    return sum(fail(pk, DIED, statuses=(BacktestStatus.RUNNING.value,)) for pk in list(stale))


def horse_died(job_args: tuple[Any, ...], job_kwargs: Mapping[str, Any]) -> None:
    """The backtests worker's work-horse died (killed, out of memory): the backtest it ran failed."""
    backtest_id = job_args[0] if job_args else job_kwargs.get("backtest_id")
    if isinstance(backtest_id, int):
        close_old_connections()
        fail(backtest_id, DIED)
