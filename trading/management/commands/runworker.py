"""manage.py runworker: this node's workers — WORKER_CONCURRENCY engine hosts, BACKTEST_WORKERS backtest workers
(the `backtests` queue), NOTIFY_WORKERS notify workers and one control worker.

Each engine host runs up to ENGINE_HOST_CAPACITY strategies' engines in its own process (trading/runtime/host.py),
so this node runs up to WORKER_CONCURRENCY × ENGINE_HOST_CAPACITY strategies. A worker that dies is replaced (at
once when it had run a while, with a growing delay when it keeps dying young); its strategies resume through the
supervisor. SIGTERM/SIGINT stop every worker: each host hands all its strategies over, with their leases released;
a second signal, or HANDOVER_GRACE seconds without the engines done, stops the workers hard.
"""

from __future__ import annotations

import signal
import time
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from aresbot.redis import get_rq_redis
from trading.runtime.pool import HANDOVER_GRACE, WorkerPool


class Command(BaseCommand):
    help = (
        "Run this node's RQ workers: WORKER_CONCURRENCY engine hosts, BACKTEST_WORKERS backtest, NOTIFY_WORKERS "
        "notify and one control worker."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--concurrency", type=int, default=None, help="Default: WORKER_CONCURRENCY.")
        parser.add_argument("--no-control", action="store_true", help="No control worker on this node.")
        parser.add_argument(
            "--backtests",
            type=int,
            default=None,
            help="Backtest workers on this node (0: none). Default: BACKTEST_WORKERS.",
        )
        parser.add_argument(
            "--notify",
            type=int,
            default=None,
            help="Notify workers on this node (0: none). Default: NOTIFY_WORKERS.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        signals = 0

        def count(signum: int, frame: FrameType | None) -> None:
            nonlocal signals
            signals += 1

        signal.signal(signal.SIGTERM, count)
        signal.signal(signal.SIGINT, count)
        pool = WorkerPool(
            options["concurrency"] or settings.WORKER_CONCURRENCY,
            control=not options["no_control"],
            backtest_workers=settings.BACKTEST_WORKERS if options["backtests"] is None else options["backtests"],
            notify_workers=settings.NOTIFY_WORKERS if options["notify"] is None else options["notify"],
            say=lambda line: self.stdout.write(line),
        )
        pool.start()
        announced = False
        while not signals:
            pool.replace_dead()
            if not announced and pool.listening(get_rq_redis()):
                self.stdout.write(f"{pool} listening")
                announced = True
            time.sleep(0.2)
        pool.stop(HANDOVER_GRACE, forced=lambda: signals > 1)
