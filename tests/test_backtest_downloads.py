"""POST /api/backtests/datasets/download: a data set whose candles a backtest worker downloads from the exchange
(the job's body runs here, against the fake Binance serving a recorded day), then stored like an upload."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ccxt.fake_binance import FakeBinance, klines_from_dump
from trading.backtests import datasets as ds
from trading.backtests import downloads
from trading.backtests.models import BacktestDataset

pytestmark = pytest.mark.django_db(transaction=True)  # the job closes stale connections first, as every job does

DAY = Path(__file__).resolve().parent / "fixtures" / "BTCUSDT-1m-2022-05-05.csv"
ASK = {"exchange": "binance", "symbol": "BTC/USDT", "timeframe": "1m", "since": "2022-05-05T00:00:00Z"}


@pytest.fixture(autouse=True)
def recorded_day(settings, tmp_path, redis_client, offline_exchanges: FakeBinance) -> None:
    settings.BACKTEST_CACHE_DIR = tmp_path / "cache"
    ds.forget_cached()
    offline_exchanges.klines[("BTCUSDT", "1m")] = klines_from_dump(DAY)


def test_a_download_is_queued_then_fetched_into_a_data_set(alice_client):
    r = alice_client.post("/api/backtests/datasets/download", {**ASK, "until": "2022-05-06T00:00:00Z"}, format="json")
    assert r.status_code == 202, r.json()
    body = r.json()
    assert (body["status"], body["source"], body["symbol"]) == ("downloading", "download", "BTC/USDT")

    assert downloads.execute(body["id"]) == "ready"
    shown = alice_client.get(f"/api/backtests/datasets/{body['id']}").json()
    assert (shown["status"], shown["candles"], shown["interval_seconds"]) == ("ready", 1440, 60)
    assert shown["progress"]["done"] == shown["progress"]["total"] == 1440
    sample = ds.load_dataset("sample:BTCUSDT-1m-2022-05-05")
    loaded = ds.load_dataset(body["id"])
    assert [loaded.candle(i) for i in range(0, 1440, 97)] == [sample.candle(i) for i in range(0, 1440, 97)]
    # And a backtest runs on it.
    r = alice_client.post(
        "/api/backtests",
        {
            "dataset": body["id"],
            "grid_levels": 3,
            "buy_offset_pct": "0.5",
            "sell_offset_pct": "0.5",
            "order_size_quote": "50",
            "reprice_threshold_pct": "1",
        },
        format="json",
    )
    assert r.status_code == 202 and r.json()["parameters"]["symbol"] == "BTC/USDT"


def test_a_download_the_exchange_refuses_fails_with_the_reason(alice_client):
    body = alice_client.post("/api/backtests/datasets/download", {**ASK, "symbol": "NOPE/USDT"}, format="json").json()
    assert downloads.execute(body["id"]) == "failed"
    dataset = BacktestDataset.objects.get(pk=body["id"])
    assert dataset.status == "failed" and "NOPE/USDT" in dataset.error
    r = alice_client.post("/api/backtests", {"dataset": body["id"], "grid_levels": 3}, format="json")
    assert r.status_code == 400 and "not ready (failed)" in r.json()["dataset"][0]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"exchange": "paper"}, "exchange"),
        ({"exchange": "nosuchexchange"}, "exchange"),
        ({"symbol": "BTCUSDT"}, "symbol"),
        ({"timeframe": "1y"}, "timeframe"),
        ({"since": "soon"}, "since"),
        ({"since": "2999-01-01T00:00:00Z"}, "since"),
        ({"until": "2022-05-04T00:00:00Z"}, "until"),
    ],
)
def test_a_bad_download_request_is_a_400_naming_the_field(alice_client, change, field):
    r = alice_client.post("/api/backtests/datasets/download", {**ASK, **change}, format="json")
    assert r.status_code == 400 and field in r.json(), r.json()
    assert not BacktestDataset.objects.exists()
