"""Backtest data sets: the samples AresBot ships and the users' own candles, stored in the database.

A worker on any node must be able to read any data set, and nodes share only the database and Redis, so a user's
candles are stored in the database: one canonical text ("ms,open,high,low,close,volume" lines, the prices as the
file wrote them) in compressed chunks (trading.backtests.blobs). Its SHA-256 names it in a cache on each node
(BACKTEST_CACHE_DIR/datasets: the parsed columns and rows, so a second run neither reads the database nor parses),
and the process keeps the last few series it loaded in memory.

`load_dataset` is the one way in: a BacktestDataset, its id, or "sample:<name>" for a shipped one.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import tempfile
import threading
import zipfile
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction

from exchanges.paper.feeds import DATA_DIR, EPOCH
from exchanges.paper.series import CandleSeries, load_series, parse_series
from exchanges.paper.sources import DATASETS
from trading.backtest import usual_interval_ms
from trading.backtests.blobs import read_chunks, write_chunks
from trading.backtests.models import BacktestDataset, DatasetChunk, DatasetSource, DatasetStatus

log = logging.getLogger(__name__)

SAMPLE_PREFIX = "sample:"
_MEMORY_ENTRIES = 4  # series kept in a process (a sweep's chunks run the same data set many times)
_CACHE_VERSION = 1


class DatasetUnavailable(LookupError):
    """A data set that cannot be loaded: unknown, deleted, not downloaded (yet)."""


@dataclass(frozen=True)
class DatasetFacts:
    """What a data set's list shows, computed from its candles."""

    interval_seconds: int
    start: datetime
    end: datetime
    candles: int
    gaps: int

    @classmethod
    def of(cls, series: CandleSeries) -> DatasetFacts:
        interval = usual_interval_ms(series.open_ms)
        # The backtester's own rule (trading.backtest): a gap where the next candle opens after a usual interval.
        gaps = int(np.count_nonzero(np.diff(series.open_ms) > interval)) if len(series) > 1 else 0
        return cls(
            interval_seconds=max(1, interval // 1000),
            start=_at(int(series.open_ms[0])),
            end=_at(int(series.open_ms[-1])),
            candles=len(series),
            gaps=gaps,
        )


def _at(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=ms)


# --- samples ---------------------------------------------------------------------------------------------------------
def is_sample_ref(ref: object) -> bool:
    return isinstance(ref, str) and ref.startswith(SAMPLE_PREFIX)


def sample_series(name: str) -> CandleSeries:
    dataset = DATASETS.get(name)
    if dataset is None:
        known = ", ".join(f"{SAMPLE_PREFIX}{n}" for n in DATASETS)
        raise DatasetUnavailable(f"No sample data set named {name!r}; the samples are {known}.")
    return _remembered(f"sample:{name}", lambda: load_series([DATA_DIR / dataset.file]))


def sample_facts(name: str) -> DatasetFacts:
    return _sample_facts.get(name) or _sample_facts.setdefault(name, DatasetFacts.of(sample_series(name)))


_sample_facts: dict[str, DatasetFacts] = {}


# --- storing ---------------------------------------------------------------------------------------------------------
def canonical_text(series: CandleSeries) -> bytes:
    """The candles as stored: "ms,open,high,low,close,volume" per line, prices exactly as the data wrote them (so
    the series loaded back trades on the same Decimals), times in ms whatever unit the file used."""
    lines = []
    for ms, row in zip(series.open_ms.tolist(), series.rows, strict=True):
        fields = row.split(",", 6)
        volume = fields[5].strip() if len(fields) > 5 and fields[5].strip() else "0"
        lines.append(f"{ms},{fields[1].strip()},{fields[2].strip()},{fields[3].strip()},{fields[4].strip()},{volume}\n")
    return "".join(lines).encode()


def store_candles(dataset: BacktestDataset, series: CandleSeries, *, size_bytes: int) -> BacktestDataset:
    """Save `series` as the candles of `dataset` (new, or a download being filled in), with the facts the list
    shows, in one transaction: a data set is there with all its candles or not at all."""
    text = canonical_text(series)
    facts = DatasetFacts.of(series)
    dataset.interval_seconds = facts.interval_seconds
    dataset.start, dataset.end = facts.start, facts.end
    dataset.candles, dataset.gaps = facts.candles, facts.gaps
    dataset.size_bytes = size_bytes
    dataset.content_hash = hashlib.sha256(text).hexdigest()
    dataset.status = DatasetStatus.READY.value
    dataset.progress_done = dataset.progress_total = facts.candles
    with transaction.atomic():
        # A download's row is updated, never made again: deleted meanwhile, this raises (DatabaseError).
        dataset.save(force_update=dataset.pk is not None)
        DatasetChunk.objects.filter(dataset=dataset).delete()
        dataset.stored_bytes = write_chunks(lambda i, data: DatasetChunk(dataset=dataset, index=i, data=data), text)
        BacktestDataset.objects.filter(pk=dataset.pk).update(stored_bytes=dataset.stored_bytes)
    _remember(dataset.content_hash, series)
    return dataset


def create_uploaded_dataset(
    owner: User, name: str, series: CandleSeries, *, symbol: str, size_bytes: int
) -> BacktestDataset:
    dataset = BacktestDataset(owner=owner, name=name[:200], source=DatasetSource.UPLOAD.value, symbol=symbol)
    return store_candles(dataset, series, size_bytes=size_bytes)


def parse_files(files: Sequence[tuple[str, bytes]], *, unpacked_limit: int | None = None) -> CandleSeries:
    """Uploaded files (name, bytes), in the order given, as one checked series; CandleDataError naming the file,
    line and reason for the first problem found. A zip archive (Binance ships its dumps zipped, a month each) counts
    as its files in their order inside it, up to `unpacked_limit` bytes unpacked in all (ValueError beyond)."""
    return CandleSeries.concat([parse_series(name, data) for name, data in unpacked(files, unpacked_limit)])


def unpacked(files: Sequence[tuple[str, bytes]], limit: int | None = None) -> list[tuple[str, bytes]]:
    """The files with each zip archive replaced by its members ("archive.zip/member.csv"), unpacked with a limit
    on their total size: a small archive can unpack to gigabytes."""
    out: list[tuple[str, bytes]] = []
    left = limit if limit is not None else 1 << 62
    for name, data in files:
        if data[:4] != b"PK\x03\x04":
            out.append((name, data))
            continue
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                members = [m for m in archive.infolist() if not m.is_dir()]
                if not members:
                    raise ValueError(f"{name}: the zip archive holds no file")
                for member in members:
                    with archive.open(member) as fh:
                        content = fh.read(left + 1)
                    left -= len(content)
                    if left < 0:
                        raise ValueError(f"{name}: unpacks to more than {limit} bytes, the most one upload may hold")
                    out.append((f"{name}/{member.filename}", content))
        except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError) as exc:
            raise ValueError(f"{name}: not a zip archive AresBot can read ({exc})") from None
    return out


# --- loading ---------------------------------------------------------------------------------------------------------
def load_dataset(dataset_or_ref: BacktestDataset | int | str) -> CandleSeries:
    """The candles of a data set: a BacktestDataset row, its id (int or digits), or "sample:<name>".

    No ownership check here: callers (the API, jobs reading their own backtest's data set) decide who may.
    DatasetUnavailable when there is no such data set or its candles are not ready."""
    if is_sample_ref(dataset_or_ref):
        return sample_series(str(dataset_or_ref)[len(SAMPLE_PREFIX) :])
    if isinstance(dataset_or_ref, BacktestDataset):
        dataset = dataset_or_ref
    else:
        try:
            pk = int(dataset_or_ref)
        except (TypeError, ValueError):
            raise DatasetUnavailable(f"{dataset_or_ref!r} is neither a data set id nor sample:<name>.") from None
        found = BacktestDataset.objects.filter(pk=pk).only("pk", "name", "status", "content_hash").first()
        if found is None:
            raise DatasetUnavailable(f"Data set {pk} does not exist (deleted?).")
        dataset = found
    if dataset.status != DatasetStatus.READY.value or not dataset.content_hash:
        raise DatasetUnavailable(f"Data set {dataset.name!r} is not ready ({dataset.status}).")
    return _remembered(dataset.content_hash, lambda: _cached_or_stored(dataset))


def market_rules_of(ref: str) -> dict[str, Any] | None:
    """The exchange rules a data set was downloaded with (exchanges.markets.rules_as_dict), which its backtests
    trade by; None for a sample, an upload, or a download from before data sets kept them (the shipped rules)."""
    if is_sample_ref(ref) or not str(ref).isdigit():
        return None
    found: dict[str, Any] | None = (
        BacktestDataset.objects.filter(pk=int(ref)).values_list("market_rules", flat=True).first()
    )
    return found or None


def _cached_or_stored(dataset: BacktestDataset) -> CandleSeries:
    key = dataset.content_hash
    cached = _read_disk(key)
    if cached is not None:
        return cached
    rows = DatasetChunk.objects.filter(dataset_id=dataset.pk).order_by("index").values_list("data", flat=True)
    text = read_chunks(rows.iterator(chunk_size=4))
    if not text:
        raise DatasetUnavailable(f"Data set {dataset.name!r} has no candles stored.")
    if hashlib.sha256(text).hexdigest() != key:
        raise DatasetUnavailable(f"Data set {dataset.name!r} is damaged: its candles do not match their hash.")
    series = parse_series(f"data set {dataset.pk}", text)
    _write_disk(key, series, text)
    return series


# --- caches ----------------------------------------------------------------------------------------------------------
_memory: OrderedDict[str, CandleSeries] = OrderedDict()
_memory_lock = threading.Lock()


def _remembered(key: str, load: Any) -> CandleSeries:
    with _memory_lock:
        series = _memory.get(key)
        if series is not None:
            _memory.move_to_end(key)
            return series
    series = load()
    _remember(key, series)
    return series


def _remember(key: str, series: CandleSeries) -> None:
    with _memory_lock:
        _memory[key] = series
        _memory.move_to_end(key)
        while len(_memory) > _MEMORY_ENTRIES:
            _memory.popitem(last=False)


def forget_cached() -> None:
    """Empty this process's memory cache (tests)."""
    with _memory_lock:
        _memory.clear()
    _sample_facts.clear()


def cache_dir() -> Path:
    return Path(settings.BACKTEST_CACHE_DIR) / "datasets"  # beside the downloads' month files (exchanges/ccxt/ohlcv)


def _cache_file(key: str) -> Path:
    return cache_dir() / f"{key}.v{_CACHE_VERSION}.npz"


def _read_disk(key: str) -> CandleSeries | None:
    path = _cache_file(key)
    try:
        with np.load(path, allow_pickle=False) as data:
            text = data["text"].tobytes().decode()
            series = CandleSeries(
                open_ms=data["open_ms"],
                open=data["open"],
                high=data["high"],
                low=data["low"],
                close=data["close"],
                rows=text.split("\n")[:-1],
            )
        os.utime(path)  # recently used: the pruning keeps it
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError) as exc:
        log.warning("backtest cache file %s unreadable (%s): reading the data set from the database", path, exc)
        return None
    if len(series.rows) != len(series.open_ms):
        return None
    return series


def _write_disk(key: str, series: CandleSeries, text: bytes) -> None:
    """Best effort: a node that cannot write its cache reads the database every time, and says so once."""
    directory = cache_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
    except OSError as exc:
        log.warning("backtest cache %s not writable (%s): data sets are read from the database", directory, exc)
        return
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(
                fh,
                open_ms=series.open_ms,
                open=series.open,
                high=series.high,
                low=series.low,
                close=series.close,
                text=np.frombuffer(text, dtype=np.uint8),
            )
        os.replace(tmp, _cache_file(key))  # atomic: another worker never reads half a file
        _prune(directory, settings.BACKTEST_CACHE_MAX_BYTES)
    except OSError as exc:
        log.warning("backtest cache %s not writable (%s): data sets are read from the database", directory, exc)
        Path(tmp).unlink(missing_ok=True)


def _prune(directory: Path, limit: int) -> None:
    files = sorted(directory.glob("*.npz"), key=lambda p: p.stat().st_mtime, reverse=True)
    total = 0
    for path in files:
        total += path.stat().st_size
        if total > limit:
            path.unlink(missing_ok=True)
