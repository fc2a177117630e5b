"""The backtest job's body (trading.backtests.runs), in this process: a queued backtest runs to the same result as
run_backtest called directly, stores every fill and lot, and ends failed or cancelled without a half-written result.
The same job through a real RQ worker is tested in tests/test_backtests_api.py."""

from __future__ import annotations

from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings

from strategies.backtesting import resolve_parameters
from trading.backtest import BacktestOptions, run_backtest
from trading.backtests import datasets as ds
from trading.backtests import results, runs
from trading.backtests.models import Backtest, BacktestChunk
from trading.backtests.params import engine_config, market

# The job closes stale connections first, as every job does: no test transaction around it.
pytestmark = pytest.mark.django_db(transaction=True)

SAMPLE = "BTCUSDT-1m-2022-05-05"
OVERRIDES = {
    "grid_levels": 10,
    "buy_offset_pct": Decimal("0.1"),
    "sell_offset_pct": Decimal("0.15"),
    "order_size_quote": Decimal("50"),
    "reprice_threshold_pct": Decimal("0.5"),
    "stop_loss_pct": Decimal("1"),
}


@pytest.fixture(autouse=True)
def own_cache(settings, tmp_path):
    settings.BACKTEST_CACHE_DIR = tmp_path / "cache"
    ds.forget_cached()


def queued(owner, **options) -> Backtest:
    parameters = resolve_parameters(owner, None, OVERRIDES, default_symbol="BTC/USDT")
    return Backtest.objects.create(owner=owner, parameters=parameters, sample=SAMPLE, options=options)


def direct(backtest: Backtest):
    return run_backtest(
        ds.load_dataset(f"sample:{SAMPLE}"),
        engine_config(backtest.parameters),
        market(backtest.parameters, backtest.options),
        BacktestOptions(initial_quote=Decimal(10_000), tz=ZoneInfo(settings.TIME_ZONE)),
    )


def test_a_queued_backtest_runs_to_the_result_run_backtest_gives(alice):
    backtest = queued(alice)
    assert runs.execute(backtest.pk) == "done"
    backtest.refresh_from_db()
    expected = direct(backtest)
    assert backtest.status == "done"
    assert backtest.summary == expected.summary()
    assert (backtest.progress_done, backtest.progress_total) == (1440, 1440)
    assert backtest.started_at is not None and backtest.finished_at is not None
    assert len(backtest.equity_curve or []) == len(expected.equity_curve)
    assert results.read_records(backtest, results.FILLS) == results.fill_rows(expected)
    assert results.read_records(backtest, results.POSITIONS) == results.position_rows(expected)
    assert len(expected.fills) > 20  # the grid traded: the comparison above compares something


def test_the_options_reach_the_run(alice):
    backtest = queued(alice, initial_quote="500", maker_fee_pct="0", taker_fee_pct="0.2")
    runs.execute(backtest.pk)
    backtest.refresh_from_db()
    assert backtest.summary is not None
    assert backtest.summary["equity_start"] == "500"
    fees = {row[2]: row[5] for row in results.read_records(backtest, results.FILLS)}
    assert fees["grid_buy"] == "0"


def test_a_backtest_cancelled_while_running_stops_and_stores_no_result(alice, monkeypatch):
    backtest = queued(alice)
    real = runs._Progress.__call__

    def cancel_then_report(self, done, total):
        runs.cancel(backtest.pk)
        real(self, done, total)

    monkeypatch.setattr(runs._Progress, "__call__", cancel_then_report)
    monkeypatch.setattr(runs, "PROGRESS_CANDLES", 100)
    assert runs.execute(backtest.pk) == "cancelled"
    backtest.refresh_from_db()
    assert backtest.status == "cancelled"
    assert backtest.summary is None and backtest.equity_curve is None
    assert not BacktestChunk.objects.filter(backtest=backtest).exists()


def test_a_cancelled_queued_backtest_is_not_run(alice):
    backtest = queued(alice)
    assert runs.cancel(backtest.pk)
    assert runs.execute(backtest.pk).startswith("not queued")
    backtest.refresh_from_db()
    assert backtest.status == "cancelled" and backtest.started_at is None


def test_a_crash_marks_the_backtest_failed_with_the_error_and_no_result(alice, monkeypatch):
    backtest = queued(alice)

    def broken(*args, **kwargs):
        raise ZeroDivisionError("the engine divided by zero")

    monkeypatch.setattr(runs.results, "save_records", broken)
    with pytest.raises(ZeroDivisionError):
        runs.execute(backtest.pk)
    backtest.refresh_from_db()
    assert backtest.status == "failed"
    assert backtest.error == "ZeroDivisionError: the engine divided by zero"
    # The result's transaction was rolled back with it: no summary, no chunk.
    assert backtest.summary is None
    assert not BacktestChunk.objects.filter(backtest=backtest).exists()
