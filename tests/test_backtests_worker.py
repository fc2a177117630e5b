"""Backtests through a real RQ worker on the `backtests` queue (a `manage.py rqworker` subprocess, as runworker
starts it): the result equals run_backtest called directly; progress and the ETA show while it runs; a cancel stops
it mid-run with nothing stored; a work-horse killed mid-run leaves the backtest failed, not running forever."""

from __future__ import annotations

import os
import random
import signal
from collections.abc import Iterator
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.processes import RedisServer, descendants, wait_until
from tests.runtime.cluster import Worker, worker_env
from trading.backtest import BacktestOptions, run_backtest
from trading.backtests import datasets as ds
from trading.backtests import results
from trading.backtests.models import Backtest, BacktestChunk
from trading.backtests.params import engine_config, market

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

SAMPLE = "sample:BTCUSDT-1m-2022-05-05"
GRID = {
    "grid_levels": 8,
    "buy_offset_pct": "0.15",
    "sell_offset_pct": "0.2",
    "order_size_quote": "100",
    "reprice_threshold_pct": "0.4",
    "stop_loss_pct": "1.5",
}
# A dense grid on a choppy walk: an event at nearly every candle, so the run takes seconds, long enough to watch.
DENSE = {
    "symbol": "BTC/USDT",
    "grid_levels": 20,
    "buy_offset_pct": "0.05",
    "sell_offset_pct": "0.05",
    "order_size_quote": "20",
    "reprice_threshold_pct": "0.1",
    "max_positions": 40,
}


@pytest.fixture
def backtest_worker(private_redis_server: RedisServer, tmp_path, settings) -> Iterator[Worker]:
    settings.BACKTEST_CACHE_DIR = tmp_path / "web-cache"
    ds.forget_cached()
    worker = Worker(
        worker_env(private_redis_server.url, BACKTEST_CACHE_DIR=str(tmp_path / "worker-cache")),
        queue="backtests",
        worker_class="BacktestWorker",
    )
    yield worker
    worker.stop()


def walk(candles: int, seed: int = 3) -> bytes:
    """Binance-style 1-minute candles of a random walk (0.15 % a minute)."""
    rnd = random.Random(seed)
    price, start, rows = 30000.0, 1640995200000, []
    for i in range(candles):
        close = price * (1 + rnd.gauss(0, 0.0015))
        high = max(price, close) * (1 + abs(rnd.gauss(0, 0.0005)))
        low = min(price, close) * (1 - abs(rnd.gauss(0, 0.0005)))
        rows.append(f"{start + 60_000 * i},{price:.2f},{high:.2f},{low:.2f},{close:.2f},1.0\n")
        price = close
    return "".join(rows).encode()


def state(backtest_id: int) -> Backtest:
    return Backtest.objects.get(pk=backtest_id)


def test_a_backtest_on_the_worker_gives_what_run_backtest_gives(alice_client, backtest_worker):
    r = alice_client.post("/api/backtests", {**GRID, "dataset": SAMPLE}, format="json")
    assert r.status_code == 202, r.json()
    backtest_id = r.json()["id"]
    wait_until(lambda: state(backtest_id).status in ("done", "failed"), 120, "the backtest to finish", 0.2)
    shown = alice_client.get(f"/api/backtests/{backtest_id}").json()
    assert shown["status"] == "done", shown["error"]

    backtest = state(backtest_id)
    expected = run_backtest(
        ds.load_dataset(SAMPLE),
        engine_config(backtest.parameters),
        market(backtest.parameters, backtest.options),
        BacktestOptions(initial_quote=Decimal(10_000), tz=ZoneInfo(settings.TIME_ZONE)),
    )
    assert len(expected.fills) > 20
    assert shown["summary"] == expected.summary()
    assert shown["equity_curve"] == results.equity_curve(expected)
    fills = alice_client.get(f"/api/backtests/{backtest_id}/fills").json()
    assert fills == results.fills_view(results.fill_rows(expected))
    lots = alice_client.get(f"/api/backtests/{backtest_id}/positions").json()
    assert lots == results.positions_view(results.position_rows(expected))


def test_progress_shows_while_it_runs_and_a_cancel_stops_it_with_nothing_stored(alice_client, backtest_worker):
    data = walk(200_000)
    r = alice_client.post(
        "/api/backtests/datasets", {"files": [SimpleUploadedFile("walk.csv", data)], "symbol": "BTC/USDT"}, "multipart"
    )
    assert r.status_code == 201, r.json()
    r = alice_client.post("/api/backtests", {**DENSE, "dataset": r.json()["id"]}, format="json")
    backtest_id = r.json()["id"]

    def progressing():
        shown = alice_client.get(f"/api/backtests/{backtest_id}").json()
        progress = shown["progress"]
        return shown if shown["status"] == "running" and progress["done"] > 0 else None

    first = wait_until(progressing, 120, "progress while it runs", 0.1)
    assert first["progress"]["total"] == 200_000
    assert first["progress"]["eta_seconds"] is not None
    later = wait_until(
        lambda: (s := progressing()) and s["progress"]["done"] > first["progress"]["done"] and s, 60, "more progress"
    )
    assert later["progress"]["done"] < 200_000

    r = alice_client.delete(f"/api/backtests/{backtest_id}")
    assert r.status_code == 202 and r.json()["status"] == "cancelled"
    # The job ends at its next progress write (the work-horse exits), long before the run would have.
    horse_gone = wait_until(lambda: not descendants(backtest_worker.proc.pid), 30, "the run to stop")
    assert horse_gone
    backtest = state(backtest_id)
    assert backtest.status == "cancelled"
    assert backtest.summary is None and backtest.equity_curve is None
    assert not BacktestChunk.objects.filter(backtest_id=backtest_id).exists()
    assert backtest.progress_done < 200_000


def test_a_work_horse_killed_mid_run_leaves_the_backtest_failed(alice_client, backtest_worker):
    data = walk(200_000, seed=5)
    r = alice_client.post(
        "/api/backtests/datasets", {"files": [SimpleUploadedFile("walk.csv", data)], "symbol": "BTC/USDT"}, "multipart"
    )
    backtest_id = alice_client.post("/api/backtests", {**DENSE, "dataset": r.json()["id"]}, format="json").json()["id"]
    wait_until(lambda: state(backtest_id).progress_done > 0, 120, "the run to start", 0.1)
    (horse,) = descendants(backtest_worker.proc.pid)
    os.kill(horse, signal.SIGKILL)

    wait_until(lambda: state(backtest_id).status == "failed", 30, "the backtest to be marked failed", 0.2)
    backtest = state(backtest_id)
    assert "stopped before it finished" in backtest.error
    assert backtest.summary is None
    assert backtest_worker.alive()  # the worker itself goes on taking backtests
