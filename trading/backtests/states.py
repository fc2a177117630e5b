"""The states and sources of backtests and their data sets, defined once (models, API, jobs and schema use them)."""

from __future__ import annotations

from enum import StrEnum


class DatasetSource(StrEnum):
    SAMPLE = "sample"  # shipped with AresBot (exchanges/paper/sources.py DATASETS); never a row
    UPLOAD = "upload"
    DOWNLOAD = "download"


class DatasetStatus(StrEnum):
    READY = "ready"
    DOWNLOADING = "downloading"
    FAILED = "failed"


class BacktestStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
