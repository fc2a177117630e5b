"""manage.py runworker: this node's workers — WORKER_CONCURRENCY strategy workers and one control worker.

Each strategy worker runs one engine at a time (one RQ job per running strategy), so WORKER_CONCURRENCY is the
number of strategies this node runs at once. SIGTERM/SIGINT stop every worker: RQ passes the signal to each
work-horse, whose engine leaves at its next poll with its status written and its lease released.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from trading.runtime.queues import CONTROL_QUEUE, STRATEGY_QUEUE


class Command(BaseCommand):
    help = "Run this node's RQ workers: WORKER_CONCURRENCY strategy workers plus one control worker."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--concurrency", type=int, default=None, help="Default: WORKER_CONCURRENCY.")
        parser.add_argument("--no-control", action="store_true", help="No control worker on this node.")

    def handle(self, *args: Any, **options: Any) -> None:
        count = options["concurrency"] or settings.WORKER_CONCURRENCY
        manage = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "rqworker"]
        commands = [[*manage, STRATEGY_QUEUE, "--worker-class", "trading.runtime.worker.StrategyWorker"]] * count
        if not options["no_control"]:
            commands.append([*manage, CONTROL_QUEUE, "--worker-class", "trading.runtime.worker.ControlWorker"])
        children = [subprocess.Popen(cmd) for cmd in commands]  # noqa: S603
        self.stdout.write(f"{count} strategy worker(s){'' if options['no_control'] else ' + 1 control worker'} up")
        stopping = False

        def stop(signum: int, frame: Any) -> None:
            nonlocal stopping
            stopping = True
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        while any(child.poll() is None for child in children):
            if not stopping:
                for index, child in enumerate(children):
                    if child.poll() is not None:
                        # A worker that died is replaced; its strategy resumes through the supervisor.
                        children[index] = subprocess.Popen(commands[index])  # noqa: S603
            time.sleep(1)
