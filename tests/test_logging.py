"""The console log: RQ's routine INFO lines (every job taken, finished, its result kept) are DEBUG, so they show only
with LOG_LEVEL=DEBUG; its warnings and errors, and everything AresBot logs itself, go through unchanged."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings

from aresbot.logging import RoutineLibraryLinesAreDebug


def record(name: str, level: int, message: str = "Worker abc: control: Job OK (123)") -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, message, None, None)


@pytest.fixture
def root_level() -> Iterator[logging.Logger]:
    root = logging.getLogger()
    level = root.level
    yield root
    root.setLevel(level)


def test_the_console_handler_demotes_routine_library_lines_before_redacting():
    config: dict[str, Any] = settings.LOGGING
    assert config["handlers"]["console"]["filters"] == ["routine", "redact"]
    assert config["filters"]["routine"]["()"] == "aresbot.logging.RoutineLibraryLinesAreDebug"


@pytest.mark.parametrize("name", ["rq.worker", "rq.cron", "rq.job", "rq.queue"])
def test_an_rq_info_line_is_debug_and_hidden_at_info(root_level, name):
    root_level.setLevel(logging.INFO)
    line = record(name, logging.INFO)
    assert not RoutineLibraryLinesAreDebug().filter(line)
    root_level.setLevel(logging.DEBUG)
    line = record(name, logging.INFO)
    assert RoutineLibraryLinesAreDebug().filter(line)
    assert (line.levelno, line.levelname) == (logging.DEBUG, "DEBUG")


@pytest.mark.parametrize(
    ("name", "level"),
    [
        ("rq.worker", logging.WARNING),  # a cold shutdown
        ("rq.worker", logging.ERROR),  # a job's traceback, a lost Redis
        ("trading.runtime.runner", logging.INFO),  # a strategy started, stopped, handed over
        ("trading.journal", logging.INFO),  # a fill
        ("rqx", logging.INFO),
    ],
)
def test_everything_else_passes_unchanged(root_level, name, level):
    root_level.setLevel(logging.INFO)
    line = record(name, level)
    assert RoutineLibraryLinesAreDebug().filter(line)
    assert line.levelno == level
