"""The RQ worker class for AresBot nodes: a plain RQ worker that also keeps its node in `workers:active`."""

from __future__ import annotations

import logging
import os
import signal
from types import FrameType
from typing import Any

import redis
from django.conf import settings
from rq import SimpleWorker, Worker
from rq.job import Job

from trading.runtime import coordination as co
from trading.runtime.queues import BACKTEST_JOB, DOWNLOAD_DATASET_JOB, SWEEP_CHUNK_JOB

log = logging.getLogger(__name__)

# RQ calls heartbeat() at least this often while idle (worker_ttl − 15 s); the node key lives three times that.
WORKER_TTL = 30
NODE_TTL = 3 * (WORKER_TTL - 15)


class _NodeHeartbeat:
    connection: redis.Redis

    def register_birth(self) -> None:
        super().register_birth()  # type: ignore[misc]
        # A worker that has registered is a live node at once (`workers:active`, `manage.py strategy_status`),
        # not only after its first heartbeat.
        self.node_heartbeat()

    def node_heartbeat(self) -> None:
        ip, hostname = co.node_identity(settings.WORKER_IP)
        try:
            co.heartbeat(self.connection, ip, hostname, ttl_seconds=NODE_TTL)
        except redis.RedisError:
            pass  # RQ's own heartbeat reports a lost Redis; this one must not turn it into a crash


class StrategyWorker(_NodeHeartbeat, Worker):
    """The former design, one engine per job in a forked work-horse (about 140 MB and a database connection per
    strategy): nodes run engine hosts instead; bench/scale.py still measures this one to compare.

    RQ's warm shutdown waits for the current job to end, and an engine's job ends only when its strategy stops.
    So the first SIGTERM is passed on to the work-horse, whose engine hands the strategy over: it releases its
    lease at its next poll (placing and cancelling nothing), and the supervisor starts it on another worker.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("worker_ttl", WORKER_TTL)
        super().__init__(*args, **kwargs)

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        super().request_stop(signum, frame)
        if self.horse_pid:
            try:
                os.kill(self.horse_pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> Any:
        result = super().heartbeat(timeout, pipeline)
        self.node_heartbeat()
        return result


class ControlWorker(_NodeHeartbeat, SimpleWorker):
    """Runs the short control jobs (supervise, stop) in-process: forking for a 10 ms job would cost more."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("worker_ttl", WORKER_TTL)
        super().__init__(*args, **kwargs)

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> Any:
        result = super().heartbeat(timeout, pipeline)
        self.node_heartbeat()
        return result


class NotifyWorker(Worker):
    """Delivers notifications from the `notify` queue (notifications/outbox.py): short jobs, each bounded by
    apprise's timeouts, so a dead chat service holds up only this worker."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("worker_ttl", WORKER_TTL)
        super().__init__(*args, **kwargs)


class BacktestWorker(_NodeHeartbeat, Worker):
    """Runs backtests (and sweep chunks, data set downloads) from the `backtests` queue, one per forked work-horse:
    a run that exhausts memory takes down its horse, not the worker. A horse that dies mid-run leaves its backtest
    marked failed, never running forever."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("worker_ttl", WORKER_TTL)
        super().__init__(*args, **kwargs)

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> Any:
        result = super().heartbeat(timeout, pipeline)
        self.node_heartbeat()
        return result

    def handle_work_horse_killed(self, job: Job, retpid: int, ret_val: int, rusage: Any) -> None:
        super().handle_work_horse_killed(job, retpid, ret_val, rusage)
        try:
            if job.func_name == BACKTEST_JOB:
                from trading.backtests import runs

                runs.horse_died(tuple(job.args), job.kwargs)
            elif job.func_name == DOWNLOAD_DATASET_JOB:
                from trading.backtests import downloads

                downloads.horse_died(job.args[0] if job.args else None, job.id)
            # A sweep chunk is retried (its combinations already stored are kept); only its last try fails the sweep.
            elif job.func_name == SWEEP_CHUNK_JOB and not job.retries_left:
                from trading.sweeps.runs import horse_died as chunk_horse_died

                chunk_horse_died(tuple(job.args))
        except Exception:  # the worker must survive a database hiccup here; a backtest's stale check catches up
            log.exception("could not mark what job %s was doing failed", job.id)
