"""Work whose RQ job was lost (trading.backtests.rescue): a queued backtest, a sweep's chunks, a download whose job
is gone from a real Redis is queued again once and then runs on a real worker; a second loss fails it with the
reason; a job that is still there, or a row younger than a minute, is left alone."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest
import redis
from django.utils import timezone
from rq import Queue, SimpleWorker
from rq.job import Job, JobStatus

from aresbot.redis import get_rq_redis
from tests.ccxt.fake_binance import FakeBinance, klines_from_dump
from tests.processes import RedisServer, wait_until
from tests.runtime.cluster import Worker, worker_env
from trading.backtests import datasets as ds
from trading.backtests import downloads
from trading.backtests.models import Backtest, BacktestDataset
from trading.backtests.rescue import LOST_AFTER, lost, rescue_lost
from trading.runtime.queues import BACKTEST_QUEUE
from trading.sweep import SweepGrid
from trading.sweeps import services
from trading.sweeps.models import Sweep
from trading.sweeps.runs import execute_chunk

pytestmark = pytest.mark.django_db(transaction=True)

SAMPLE = "sample:BTCUSDT-1m-2022-05-05"
GRID = {
    "grid_levels": 3,
    "buy_offset_pct": "0.3",
    "sell_offset_pct": "0.4",
    "order_size_quote": "100",
    "reprice_threshold_pct": "1",
}
DAY = Path(__file__).resolve().parent / "fixtures" / "BTCUSDT-1m-2022-05-05.csv"


def later(minutes: float = 2) -> datetime:
    return timezone.now() + timedelta(minutes=minutes)


def queue() -> Queue:
    return Queue(BACKTEST_QUEUE, connection=get_rq_redis())


def run_queued() -> None:
    """A real RQ worker, in this process (no fork), until the backtests queue is empty."""
    SimpleWorker([queue()], connection=get_rq_redis()).work(burst=True)


def make_backtest(client) -> Backtest:
    r = client.post("/api/backtests", {**GRID, "dataset": SAMPLE}, format="json")
    assert r.status_code == 202, r.json()
    return Backtest.objects.get(pk=r.json()["id"])


@pytest.fixture
def rq_redis(redis_client) -> redis.Redis:
    return get_rq_redis()


def test_only_a_missing_or_ended_job_counts_as_lost(rq_redis):
    q = queue()
    waiting = q.enqueue("trading.runtime.jobs.run_backtest", 1, job_id="waiting")
    ended = {s: q.enqueue("trading.runtime.jobs.run_backtest", 1, job_id=f"job-{s.value}") for s in JobStatus}
    for status, job in ended.items():
        job.set_status(status)
    assert lost(rq_redis, ["waiting", "", "never-queued"]) == [False, True, True]
    assert waiting.get_status() == JobStatus.QUEUED
    gone = {
        status for status, is_lost in zip(ended, lost(rq_redis, [j.id for j in ended.values()]), strict=True) if is_lost
    }
    assert gone == {JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED}


def test_a_backtest_whose_job_vanished_is_queued_again_once_then_failed(alice_client, rq_redis):
    backtest = make_backtest(alice_client)
    first_job = backtest.job_id
    assert rescue_lost(now=later()) == {}  # its job is there: nothing to do
    rq_redis.flushdb()  # Redis lost everything
    assert rescue_lost() == {}  # younger than a minute: its job may still be on the way
    assert rescue_lost(now=later()) == {"backtests_requeued": 1}
    backtest.refresh_from_db()
    assert backtest.status == "queued" and backtest.requeued == 1 and backtest.job_id != first_job
    assert queue().get_job_ids() == [backtest.job_id]
    assert rescue_lost(now=later()) == {}  # queued again and still there; and a second pass does not queue twice

    # Lost again: failed, with the reason.
    rq_redis.flushdb()
    assert rescue_lost(now=later(2)) == {}  # queued again less than a minute before
    assert rescue_lost(now=later(2) + LOST_AFTER) == {"backtests_failed": 1}
    shown = alice_client.get(f"/api/backtests/{backtest.pk}").json()
    assert shown["status"] == "failed" and "lost this backtest twice" in shown["error"]


def test_a_backtest_queued_again_runs_once_even_when_its_lost_job_turns_up(alice_client, rq_redis):
    backtest = make_backtest(alice_client)
    old = Job.fetch(backtest.job_id, connection=rq_redis)
    old.delete()
    assert rescue_lost(now=later()) == {"backtests_requeued": 1}
    queue().enqueue_job(old, at_front=True)  # the lost job turns up, and a worker takes it first
    run_queued()
    backtest.refresh_from_db()
    assert backtest.status == "done", backtest.error
    results = {Job.fetch(i, connection=rq_redis).return_value() for i in (old.id, backtest.job_id)}
    assert results == {"done", "not queued any more (cancelled or deleted)"}


def test_a_download_whose_job_vanished_is_queued_again_and_its_lost_job_stands_down(
    alice_client, rq_redis, settings, tmp_path, offline_exchanges: FakeBinance
):
    settings.BACKTEST_CACHE_DIR = tmp_path / "cache"
    ds.forget_cached()
    offline_exchanges.klines[("BTCUSDT", "1m")] = klines_from_dump(DAY)
    r = alice_client.post(
        "/api/backtests/datasets/download",
        {"exchange": "binance", "symbol": "BTC/USDT", "timeframe": "1m", "since": "2022-05-05T00:00:00Z"},
        format="json",
    )
    dataset = BacktestDataset.objects.get(pk=r.json()["id"])
    old = Job.fetch(dataset.job_id, connection=rq_redis)
    assert queue().get_job_ids() == [old.id]
    old.delete()
    assert rescue_lost(now=later()) == {"downloads_requeued": 1}
    dataset.refresh_from_db()
    assert dataset.status == "downloading" and dataset.job_id != old.id
    # The lost job's work-horse dying leaves the download to the new job; the new one's fails it.
    downloads.horse_died(dataset.pk, old.id)
    assert BacktestDataset.objects.get(pk=dataset.pk).status == "downloading"
    queue().enqueue_job(old, at_front=True)  # the lost job turns up, and a worker takes it first
    run_queued()
    dataset.refresh_from_db()
    assert (dataset.status, dataset.candles) == ("ready", 1440), dataset.error
    assert str(Job.fetch(old.id, connection=rq_redis).return_value()).startswith("superseded")
    assert Job.fetch(dataset.job_id, connection=rq_redis).return_value() == "ready"

    # A second loss fails the download with the reason.
    r = alice_client.post(
        "/api/backtests/datasets/download",
        {"exchange": "binance", "symbol": "BTC/USDT", "timeframe": "1m", "since": "2022-05-05T00:00:00Z"},
        format="json",
    )
    rq_redis.flushdb()
    assert rescue_lost(now=later()) == {"downloads_requeued": 1}
    rq_redis.flushdb()
    assert rescue_lost(now=later(4)) == {"downloads_failed": 1}
    failed = BacktestDataset.objects.get(pk=r.json()["id"])
    assert failed.status == "failed" and "lost this download twice" in failed.error


def make_sweep(owner) -> Sweep:
    return services.create_sweep(
        owner=owner,
        parameters={"symbol": "BTC/USDT", **GRID},
        grid=SweepGrid(grid_levels=(3, 6), buy_offset_pct=(D("0.2"), D("0.4")), sell_offset_pct=(D("0.5"),)),
        combinations=4,
        options={"initial_quote": "2000"},
        dataset=None,
        sample=SAMPLE.removeprefix("sample:"),
        dataset_info={"id": SAMPLE, "name": SAMPLE},
        chunk_size=1,
    )


def test_a_sweeps_lost_chunks_are_queued_again_and_finish_it(alice, rq_redis):
    sweep = make_sweep(alice)
    assert execute_chunk(sweep.pk, 0).startswith("chunk 0: 1 combinations run")
    rq_redis.flushdb()
    assert rescue_lost(now=later()) == {"sweeps_requeued": 1}
    # Only the chunks with combinations still to run.
    assert sorted(queue().get_job_ids()) == [services.chunk_job_id(sweep, c) for c in (1, 2, 3)]
    run_queued()
    sweep.refresh_from_db()
    assert sweep.status == "done" and services.done_count(sweep) == 4
    assert rescue_lost(now=later(4)) == {}

    again = make_sweep(alice)
    rq_redis.flushdb()
    assert rescue_lost(now=later()) == {"sweeps_requeued": 1}
    rq_redis.flushdb()
    assert rescue_lost(now=later(4)) == {"sweeps_failed": 1}
    again.refresh_from_db()
    assert again.status == "failed" and "lost this sweep's chunks twice" in again.error


# --- a real worker process, as runworker starts it -------------------------------------------------------------------
@pytest.mark.slow
def test_after_redis_lost_everything_the_cron_job_requeues_a_backtest_and_a_worker_runs_it(
    alice_client, private_redis_server: RedisServer, tmp_path, settings
):
    settings.BACKTEST_CACHE_DIR = tmp_path / "web-cache"
    ds.forget_cached()
    backtest = make_backtest(alice_client)
    get_rq_redis().flushall()  # before any worker took it
    Backtest.objects.filter(pk=backtest.pk).update(created_at=timezone.now() - 2 * LOST_AFTER)
    from trading.runtime.jobs import rescue_lost_jobs  # the cron job itself

    assert rescue_lost_jobs() == {"backtests_requeued": 1}
    worker = Worker(
        worker_env(private_redis_server.url, BACKTEST_CACHE_DIR=str(tmp_path / "worker-cache")),
        queue="backtests",
        worker_class="BacktestWorker",
    )
    try:
        wait_until(lambda: Backtest.objects.get(pk=backtest.pk).status in ("done", "failed"), 120, "the run", 0.2)
    finally:
        worker.stop()
    backtest.refresh_from_db()
    assert backtest.status == "done" and backtest.requeued == 1, backtest.error


def test_the_dying_work_horse_of_the_job_a_download_names_fails_it(alice, rq_redis):
    dataset = BacktestDataset.objects.create(owner=alice, name="d", status="downloading", job_id="dataset-1-new")
    downloads.horse_died(dataset.pk, "dataset-1-old")
    assert BacktestDataset.objects.get(pk=dataset.pk).status == "downloading"
    downloads.horse_died(dataset.pk, "dataset-1-new")
    failed = BacktestDataset.objects.get(pk=dataset.pk)
    assert failed.status == "failed" and "stopped before it finished" in failed.error
