"""The console log: RQ's routine INFO lines (every job taken, finished, its result kept) are DEBUG, so they show only
with LOG_LEVEL=DEBUG; its warnings and errors, and everything AresBot logs itself, go through unchanged."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.conf import settings

from aresbot.logging import JsonFormatter, RedactSecretsFilter, RoutineLibraryLinesAreDebug


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


# --- LOG_FORMAT=json -------------------------------------------------------------------------------------------------
API_SECRET = "s3cr3tValueThatMustNeverShow0123"


def json_lines(emit: Any) -> list[dict[str, Any]]:
    """What `emit(logger)` writes through a console handler made as settings makes it with LOG_FORMAT=json."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactSecretsFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("tests.json")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        emit(logger)
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_carry_time_in_utc_level_logger_message_and_the_strategy_id():
    [line] = json_lines(lambda log: log.warning("strategy %s paused", 7, extra={"strategy_id": 7}))
    assert line == {
        "time": line["time"],
        "level": "WARNING",
        "logger": "tests.json",
        "message": "strategy 7 paused",
        "strategy_id": 7,
    }
    assert datetime.fromisoformat(line["time"]).utcoffset() == timedelta(0)
    assert line["time"].endswith("Z")


def test_a_runtime_line_about_one_strategy_gives_its_id_as_a_field():
    lines = json_lines(lambda log: (log.info("strategy %s: handed over", 42), log.info("strategies: %s", 3)))
    assert [line.get("strategy_id") for line in lines] == [42, None]


def test_a_secret_in_a_json_message_and_in_its_traceback_is_scrubbed():
    def emit(log: logging.Logger) -> None:
        try:
            raise RuntimeError(f"GET /api/v3/account?apiKey={API_SECRET}&signature={API_SECRET}")
        except RuntimeError:
            log.exception("request failed with Authorization: Bearer %s", API_SECRET)

    [line] = json_lines(emit)
    assert API_SECRET not in json.dumps(line)
    assert line["message"] == "request failed with Authorization: Bearer [redacted]"
    assert "RuntimeError: GET /api/v3/account?apiKey=[redacted]&signature=[redacted]" in line["exception"]
    assert "Traceback (most recent call last)" in line["exception"]


def test_a_traceback_reaching_the_json_formatter_unfiltered_is_scrubbed_there():
    try:
        raise ValueError(f"secret={API_SECRET}")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    assert API_SECRET not in JsonFormatter().format(record)


def test_log_format_json_makes_the_console_write_json_scrubbed(tmp_path):
    code = (
        "import django, logging; django.setup(); "
        f"logging.getLogger('trading.runtime').error('token=%s', {API_SECRET!r}, extra={{'strategy_id': 12}})"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "LOG_FORMAT": "json",
        "SQLITE_PATH": str(tmp_path / "db.sqlite3"),
    }
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    [line] = [json.loads(text) for text in done.stderr.splitlines() if text.startswith("{")]
    assert (line["logger"], line["message"], line["strategy_id"]) == ("trading.runtime", "token=[redacted]", 12)
    assert API_SECRET not in done.stderr
