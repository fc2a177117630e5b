"""Backtest data sets in the database: stored as compressed chunks any node's worker can read, loaded back as the
very candles that were uploaded, cached per node by content hash; the shipped samples by "sample:<name>"."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from exchanges.paper.series import load_series
from trading.backtests import blobs
from trading.backtests import datasets as ds
from trading.backtests.models import BacktestDataset, DatasetChunk

FIXTURES = Path(__file__).resolve().parent / "fixtures"
DAY = FIXTURES / "BTCUSDT-1m-2022-05-05.csv"
OUTAGE = FIXTURES / "BTCUSDT-1h-2018-02-07_11-outage.csv"


@pytest.fixture(autouse=True)
def own_cache(settings, tmp_path):
    settings.BACKTEST_CACHE_DIR = tmp_path / "cache"
    ds.forget_cached()
    yield
    ds.forget_cached()


def store(owner, path: Path) -> BacktestDataset:
    series = ds.parse_files([(path.name, path.read_bytes())])
    return ds.create_uploaded_dataset(owner, path.name, series, symbol="BTC/USDT", size_bytes=path.stat().st_size)


def same_candles(a, b) -> bool:
    return len(a) == len(b) and all(a.candle(i) == b.candle(i) for i in range(len(a)))


def test_a_stored_data_set_loads_back_as_the_same_candles_with_its_facts(alice):
    dataset = store(alice, DAY)
    ds.forget_cached()

    loaded = ds.load_dataset(dataset.pk)

    assert same_candles(loaded, load_series([DAY]))
    dataset.refresh_from_db()
    assert (dataset.candles, dataset.interval_seconds, dataset.gaps) == (1440, 60, 0)
    assert dataset.start is not None and dataset.start.isoformat() == "2022-05-05T00:00:00+00:00"
    assert dataset.end is not None and dataset.end.isoformat() == "2022-05-05T23:59:00+00:00"
    assert len(dataset.content_hash) == 64
    # Stored compressed, well under the upload's size.
    assert 0 < dataset.stored_bytes < dataset.size_bytes / 3


def test_gaps_are_counted_as_the_backtester_reports_them(alice):
    dataset = store(alice, OUTAGE)
    assert (dataset.interval_seconds, dataset.gaps) == (3600, 1)


def test_candles_are_cut_into_chunks_of_whole_lines_none_over_the_limit(alice, monkeypatch):
    monkeypatch.setattr(blobs, "CHUNK_BYTES", 10_000)
    dataset = store(alice, DAY)
    chunks = list(DatasetChunk.objects.filter(dataset=dataset).order_by("index"))
    assert len(chunks) > 5
    pieces = [blobs.read_chunks([c.data]) for c in chunks]
    assert all(len(p) <= 10_000 and p.endswith(b"\n") for p in pieces)
    ds.forget_cached()
    assert same_candles(ds.load_dataset(str(dataset.pk)), load_series([DAY]))


def test_a_second_load_on_a_node_reads_its_cache_not_the_chunks(alice):
    dataset = store(alice, DAY)
    ds.forget_cached()
    with CaptureQueriesContext(connection) as first:
        ds.load_dataset(dataset.pk)
    assert any("datasetchunk" in q["sql"].lower() for q in first.captured_queries)
    assert list(Path(ds.cache_dir()).glob(f"{dataset.content_hash}*.npz"))

    ds.forget_cached()  # a new work-horse: nothing in memory, the node's cache on disk
    with CaptureQueriesContext(connection) as second:
        again = ds.load_dataset(dataset.pk)
    assert not any("datasetchunk" in q["sql"].lower() for q in second.captured_queries)
    assert same_candles(again, load_series([DAY]))


def test_a_damaged_cache_file_is_ignored_and_the_database_read(alice):
    dataset = store(alice, DAY)
    ds.forget_cached()
    ds.load_dataset(dataset.pk)
    (cached,) = Path(ds.cache_dir()).glob("*.npz")
    cached.write_bytes(b"not a cache file")
    ds.forget_cached()
    assert same_candles(ds.load_dataset(dataset.pk), load_series([DAY]))


def test_samples_load_by_name_and_unknown_ones_are_refused():
    sample = ds.load_dataset("sample:BTCUSDT-1m-2022-05-05")
    assert len(sample) == 1440
    with pytest.raises(ds.DatasetUnavailable, match="sample:ETHUSDT-1h-2021-01"):
        ds.load_dataset("sample:nope")


def test_a_missing_or_unfinished_data_set_is_unavailable(alice):
    with pytest.raises(ds.DatasetUnavailable, match="does not exist"):
        ds.load_dataset(987654)
    pending = BacktestDataset.objects.create(owner=alice, name="dl", source="download", status="downloading")
    with pytest.raises(ds.DatasetUnavailable, match="not ready"):
        ds.load_dataset(pending)
