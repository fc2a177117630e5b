"""Plumbing shared by the runtime benchmarks (failover.py, scale.py, api_running.py).

A `Bench` owns everything a run creates and removes it again, on success, error, Ctrl-C, SIGTERM or its own
deadline: a scratch MariaDB database (`aresbot_bench_<name>`, migrated with `manage.py migrate`), a private
redis-server on a free loopback port (never the shared 6379), and the processes it starts (RQ workers, the RQ
cron scheduler, gunicorn), each in a session of its own so that it and its work-horses can be found and killed.

Processes get explicit settings: `aresbot.settings` with DEBUG off, freshly generated keys, ARESBOT_ENV_FILE=""
(no developer .env), the scratch database and the private Redis.
"""

from __future__ import annotations

import contextlib
import math
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

import psutil

from tests.processes import RedisServer, descendants

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

# One set of keys per script run: real-looking, so that DEBUG=false settings accept them.
_SECRET_KEY = secrets.token_urlsafe(50)
_ENCRYPTION_KEY = secrets.token_hex(32)


class Deadline(Exception):
    """The run exceeded its time budget."""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- figures ------------------------------------------------------------------------------------------------------
def percentile(values: Sequence[float], pct: float) -> float:
    """Linear interpolation between closest ranks (numpy's default); nan for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    line = "+".join("-" * (w + 2) for w in widths)
    print(f"\n{title}")
    print(line)
    for index, row in enumerate(cells):
        padded = [
            c.ljust(w) if i == 0 or index == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        print(" " + " | ".join(padded))
        if index == 0:
            print(line)
    print(line, flush=True)


# --- process and machine figures (psutil) --------------------------------------------------------------------------
def snapshot(pids: Sequence[int]) -> list[psutil.Process]:
    """The processes among `pids` that exist now. psutil remembers each one's start time, so a signal sent through
    the snapshot later never reaches another process that reused the pid."""
    found = []
    for pid in pids:
        try:
            found.append(psutil.Process(pid))
        except psutil.NoSuchProcess:
            continue
    return found


def kill_snapshot(processes: Sequence[psutil.Process], signum: int = signal.SIGKILL) -> None:
    """Signal the processes of a snapshot that are still the same processes (never a reused pid)."""
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            process.send_signal(signum)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (0 when it is gone)."""
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.NoSuchProcess:
        return 0.0
    return times.user + times.system


def memory_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in kB; (0, 0) when the process is gone."""
    try:
        memory = psutil.Process(pid).memory_full_info()
    except psutil.NoSuchProcess:
        return 0, 0
    return memory.rss // 1024, memory.pss // 1024


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, all cores together."""
    times = psutil.cpu_times()
    # guest time is already inside user and nice: adding guest and guest_nice would count it twice
    total = times.user + times.nice + times.system + times.idle + times.iowait + times.irq + times.softirq + times.steal
    return total - times.idle - times.iowait, total


def pids_named(*names: str) -> list[int]:
    return [process.pid for process in psutil.process_iter(["name"]) if process.info["name"] in names]


# --- processes ------------------------------------------------------------------------------------------------------
class Proc:
    """A child in a session of its own; RQ forks work-horses into process groups of their own, found as its children."""

    def __init__(self, name: str, args: Sequence[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "ab")  # noqa: SIM115 (closed in stop())
        self.proc = subprocess.Popen(
            list(args), cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.pid = self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def family(self) -> list[int]:
        return [self.pid, *descendants(self.pid)]

    def kill_node(self) -> None:
        """kill -9 of the process and everything it forked: a node that dies without a word."""
        family = snapshot(descendants(self.pid))
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
        kill_snapshot(family)
        self.proc.wait(10)

    def terminate(self) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)

    def stop(self, timeout: float = 10) -> None:
        family = snapshot(descendants(self.pid))
        self.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout)
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
        kill_snapshot(family)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)
        self._log.close()

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


# --- the database ---------------------------------------------------------------------------------------------------
def _mysql(sql: str) -> None:
    import MySQLdb

    conn = MySQLdb.connect(host="127.0.0.1", port=3306, user="root", passwd="")
    try:
        conn.cursor().execute(sql)
    finally:
        conn.close()


def mysql_status(names: Sequence[str]) -> dict[str, float]:
    """SHOW GLOBAL STATUS values (server-wide: other users of the server count too)."""
    import MySQLdb

    conn = MySQLdb.connect(host="127.0.0.1", port=3306, user="root", passwd="")
    try:
        cursor = conn.cursor()
        cursor.execute("SHOW GLOBAL STATUS")
        found = {str(k): v for k, v in cursor.fetchall()}
    finally:
        conn.close()
    out = {}
    for name in names:
        try:
            out[name] = float(found.get(name, "nan"))
        except (TypeError, ValueError):
            out[name] = math.nan
    return out


def mysql_connections(database: str) -> tuple[int, int]:
    """(connections open on `database`, the server's max_connections)."""
    import MySQLdb

    conn = MySQLdb.connect(host="127.0.0.1", port=3306, user="root", passwd="")
    try:
        cursor = conn.cursor()
        cursor.execute("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE db = %s", [database])
        row = cursor.fetchone()
        cursor.execute("SELECT @@max_connections")
        limit = cursor.fetchone()
    finally:
        conn.close()
    return int(row[0] if row else 0), int(limit[0] if limit else 0)


def mem_total_mb() -> float:
    return psutil.virtual_memory().total / 1024 / 1024


@dataclass
class Bench:
    """Context manager that owns a run's database, Redis and processes, and always cleans them up."""

    name: str
    max_seconds: float
    env_extra: dict[str, str] = field(default_factory=dict)
    procs: list[Proc] = field(default_factory=list)
    engine: str = "mysql"  # or "sqlite": a database file in the run's temporary folder

    def __post_init__(self) -> None:
        if self.engine not in ("mysql", "sqlite"):
            raise ValueError(f"engine must be mysql or sqlite, not {self.engine!r}")
        self.database = f"aresbot_bench_{self.name}"
        self.tmp = Path(tempfile.mkdtemp(prefix=f"aresbot-bench-{self.name}-"))
        self.redis = RedisServer(self.tmp, "--maxclients", "10000")
        self._db_created = False
        self._old_handlers: dict[int, Any] = {}

    # --- lifecycle ----------------------------------------------------------------------------------------------------
    def __enter__(self) -> Bench:
        for signum in (signal.SIGTERM, signal.SIGHUP):
            self._old_handlers[signum] = signal.signal(signum, self._on_signal)
        # Ctrl-C raises KeyboardInterrupt even when the shell started this in the background with SIGINT ignored.
        self._old_handlers[signal.SIGINT] = signal.signal(signal.SIGINT, signal.default_int_handler)
        self._old_handlers[signal.SIGALRM] = signal.signal(signal.SIGALRM, self._on_alarm)
        signal.setitimer(signal.ITIMER_REAL, self.max_seconds)
        try:
            where = self.database if self.engine == "mysql" else self.tmp / "bench.sqlite3"
            log(f"scratch database {where}, private Redis, logs in {self.tmp}")
            if self.engine == "mysql":
                _mysql(f"DROP DATABASE IF EXISTS `{self.database}`")  # a leftover of a killed run
                _mysql(f"CREATE DATABASE `{self.database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
                self._db_created = True
            (self.tmp / "static").mkdir()
            self.redis.start()
            started = time.monotonic()
            subprocess.run(
                [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"],
                cwd=ROOT,
                env=self.env(),
                check=True,
                stdout=subprocess.DEVNULL,
            )
            log(f"migrated in {time.monotonic() - started:.1f} s")
            os.environ.update(self.env())
            import django

            django.setup()
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        # Ctrl-C during the cleanup must not leave processes behind: finish the cleanup first.
        previous_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            if exc_type is not None and not issubclass(exc_type, SystemExit | KeyboardInterrupt):
                log(f"aborted: {exc_type.__name__}: {exc}")
                for proc in self.procs:
                    if proc.tail():
                        log(f"last lines of {proc.name}:\n{proc.tail(8)}")
                        break
            elif exc_type is not None:
                log(f"interrupted ({exc_type.__name__}); cleaning up")
            self.stop_all()
            self.redis.stop()
            if "django" in sys.modules:
                from django.db import connections

                connections.close_all()
            if self._db_created:
                _mysql(f"DROP DATABASE IF EXISTS `{self.database}`")
                log(f"dropped {self.database}")
            shutil.rmtree(self.tmp, ignore_errors=True)
        finally:
            signal.signal(signal.SIGINT, previous_int)
            for signum, handler in self._old_handlers.items():
                signal.signal(signum, handler)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    def _on_alarm(self, signum: int, frame: FrameType | None) -> None:
        raise Deadline(f"the run took longer than its budget of {self.max_seconds:.0f} s")

    # --- settings and processes ---------------------------------------------------------------------------------------
    def env(self, **extra: str) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("MYSQL_", "REDIS_", "STRATEGY_", "SUPERVISE_", "DJANGO_", "PYTEST", "SQLITE_"))
        }
        env.update(
            DJANGO_SETTINGS_MODULE="aresbot.settings",
            ARESBOT_ENV_FILE="",
            DEBUG="false",
            DJANGO_SECRET_KEY=_SECRET_KEY,
            ENCRYPTION_KEY=_ENCRYPTION_KEY,
            REDIS_URL=self.redis.url,
            STATIC_ROOT=str(self.tmp / "static"),
            LOG_LEVEL="WARNING",
            TIME_ZONE="UTC",
            PYTHONPATH=str(ROOT),
        )
        if self.engine == "mysql":
            env.update(
                MYSQL_HOST="127.0.0.1",
                MYSQL_PORT="3306",
                MYSQL_USER="root",
                MYSQL_PASSWORD="",
                MYSQL_DATABASE=self.database,
            )
        else:
            env.update(SQLITE_PATH=str(self.tmp / "bench.sqlite3"))
        env.update(self.env_extra)
        env.update(extra)
        return env

    def spawn(self, name: str, args: Sequence[str], env: dict[str, str]) -> Proc:
        proc = Proc(name, args, env, self.tmp)
        self.procs.append(proc)
        return proc

    def strategy_worker(
        self, name: str, env: dict[str, str], worker_class: str = "trading.runtime.worker.StrategyWorker"
    ) -> Proc:
        args = [PYTHON, "manage.py", "rqworker", "strategies", "--worker-class", worker_class]
        return self.spawn(name, args, env)

    def control_worker(self, name: str, env: dict[str, str]) -> Proc:
        args = [PYTHON, "manage.py", "rqworker", "control", "--worker-class", "trading.runtime.worker.ControlWorker"]
        return self.spawn(name, args, env)

    def scheduler(self, name: str, env: dict[str, str]) -> Proc:
        return self.spawn(name, [PYTHON, "manage.py", "rqcron", "aresbot.cron", "--logging-level", "WARNING"], env)

    def stop_all(self) -> None:
        """SIGTERM everything at once (workers hand their strategies over), then SIGKILL what is left."""
        running = [p for p in self.procs if p.alive()]
        families = [member for p in running for member in snapshot(descendants(p.pid))]
        for proc in running:
            proc.terminate()
        deadline = time.monotonic() + 10
        for proc in running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.proc.wait(max(0.1, deadline - time.monotonic()))
        kill_snapshot(families)
        for proc in self.procs:
            proc.stop(timeout=1)
        self.procs.clear()


@contextlib.contextmanager
def timed(label: str) -> Iterator[None]:
    started = time.monotonic()
    yield
    log(f"{label}: {time.monotonic() - started:.1f} s")
