"""Data sets downloaded from an exchange (the `backtests` queue's download job): candles fetched through the CCXT
adapter (trading.runtime.history.download_candles: paginated, rate-limited, the node's month-file cache), then
stored like an upload, so any node's worker can run backtests on them."""

from __future__ import annotations

import logging
import time
from datetime import datetime

from django.db import DatabaseError, close_old_connections
from django.db.models import Q
from django.utils.dateparse import parse_datetime
from rq import get_current_job

from exchanges.base import ExchangeError
from exchanges.markets import rules_as_dict
from trading.backtests.datasets import canonical_text, store_candles
from trading.backtests.models import BacktestDataset
from trading.backtests.states import DatasetStatus
from trading.runtime.history import download_candles, exchange_market_rules

log = logging.getLogger(__name__)

PROGRESS_INTERVAL = 0.5


class _Gone(Exception):
    """The data set was deleted while it downloaded."""


def _time(raw: str | None) -> datetime | None:
    return parse_datetime(raw) if raw else None


def execute(dataset_id: int) -> str:
    """Download the candles a "downloading" data set asks for: ready with its candles, or failed with the reason."""
    close_old_connections()
    dataset = BacktestDataset.objects.filter(pk=dataset_id, status=DatasetStatus.DOWNLOADING.value).first()
    if dataset is None:
        return "nothing to download (deleted, or done already)"
    job = get_current_job()
    if job is not None and dataset.job_id and job.id != dataset.job_id:
        return "superseded: the data set was queued again (trading.backtests.rescue)"
    # Every write is fenced by the job the row names: a job queued again by the rescue takes over, and this one (if
    # it was only lost from Redis, not dead) stops at its next progress write.
    mine = {"pk": dataset_id, "status": DatasetStatus.DOWNLOADING.value, "job_id": dataset.job_id}
    asked = dataset.request
    last = float("-inf")

    def progress(done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last < PROGRESS_INTERVAL and done < total:
            return
        last = now
        written = BacktestDataset.objects.filter(**mine).update(progress_done=done, progress_total=total)
        if not written:
            raise _Gone

    try:
        # The exchange's own rules, kept with the candles: its backtests trade by them, not by the shipped Binance
        # ones (which may lack the symbol, or differ in tick, step or minimums).
        dataset.market_rules = rules_as_dict(exchange_market_rules(asked["exchange"], asked["symbol"]))
        series = download_candles(
            asked["exchange"],
            asked["symbol"],
            asked["timeframe"],
            _time(asked["since"]) or datetime.min,
            _time(asked.get("until")),
            progress=progress,
        )
        try:
            store_candles(dataset, series, size_bytes=len(canonical_text(series)))
        except DatabaseError:
            if BacktestDataset.objects.filter(pk=dataset_id).exists():
                raise
            raise _Gone from None
    except _Gone:
        return "deleted while downloading"
    except (ValueError, ExchangeError) as exc:
        fail(dataset_id, str(exc), dataset.job_id)
        return "failed"
    except Exception as exc:
        fail(dataset_id, f"{type(exc).__name__}: {exc}", dataset.job_id)
        raise
    return "ready"


def fail(dataset_id: int, error: str, job_id: str | None) -> bool:
    """Mark a downloading data set failed, unless it names a job other than `job_id` (one queued again by the
    rescue, which downloads it); a row from before data sets named their job names none."""
    return bool(
        BacktestDataset.objects.filter(
            Q(job_id="") | Q(job_id=job_id or ""), pk=dataset_id, status=DatasetStatus.DOWNLOADING.value
        ).update(status=DatasetStatus.FAILED.value, error=error[:5000])
    )


def horse_died(dataset_id: object, job_id: str | None = None) -> None:
    """The worker's work-horse died mid-download: the data set failed (a new download can be asked for), unless
    it names another job (queued again by the rescue: that one downloads it)."""
    if isinstance(dataset_id, int):
        close_old_connections()
        fail(
            dataset_id, "The worker downloading these candles stopped before it finished; download them again.", job_id
        )
