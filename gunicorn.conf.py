"""gunicorn's settings for the web app, read from the working directory by `gunicorn aresbot.wsgi:application` (the
Dockerfile's and docker-compose's commands); their command-line flags still win.

prometheus_client's multiprocess mode: every gunicorn worker writes its metrics to files in PROMETHEUS_MULTIPROC_DIR
and /metrics sums them, so one scrape sees the whole server, not whichever worker answered. The variable must be set
before a worker imports prometheus_client, hence here in the master (a fresh directory when it is unset); the files
of an earlier run are removed at start, since their processes' counts would otherwise add to this run's.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

chosen = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
metrics_dir = Path(chosen or tempfile.mkdtemp(prefix="aresbot-metrics-"))
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)


def on_starting(server: Any) -> None:
    metrics_dir.mkdir(parents=True, exist_ok=True)
    for stale in metrics_dir.glob("*.db"):
        stale.unlink()


def child_exit(server: Any, worker: Any) -> None:
    """A live-only gauge of a worker that exited stops counting (its counters and histograms stay in the sums)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server: Any) -> None:
    if not chosen:
        shutil.rmtree(metrics_dir, ignore_errors=True)
