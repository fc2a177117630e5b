"""WorkerPool: a node's RQ worker processes (engine hosts, control, backtest and notify workers) — started, replaced
when one dies, and stopped so engines hand over.

`manage.py runworker` runs one on every worker node, `manage.py runlocal` one in the quick start. Each worker is
`manage.py rqworker` in a session of its own, so a Ctrl-C at the terminal reaches only the pool's process, which
then signals each worker exactly once: a second signal is RQ's cold shutdown, which kills the engine mid-tick.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import redis
from django.conf import settings
from rq import Worker

from trading.runtime.queues import BACKTEST_QUEUE, CONTROL_QUEUE, NOTIFY_QUEUE, STRATEGY_QUEUE

# A worker that lived this long was healthy: it is replaced at once. One that died sooner (Redis away, a broken
# setting) is replaced after 1, 2, 4 … up to MAX_RESTART_DELAY seconds, instead of in a tight loop.
HEALTHY_AFTER = 30.0
MAX_RESTART_DELAY = 60.0
# How long a stop waits for busy workers' engines to hand over before it stops the workers hard: an engine hands
# over at its next stop poll, or when a slow exchange call returns. Under Docker's stop_grace_period (60 s), so
# that the hard stop is done before Docker kills the container.
HANDOVER_GRACE = 50.0
# RQ ignores a second signal that comes within a second of the first (it takes it for the terminal's copy).
_RQ_SIGNAL_DEBOUNCE = 1.1


# The environment variable that tells a node's engine host its 0-based index (its metrics port: METRICS_PORT + it).
WORKER_INDEX_ENV = "ARESBOT_WORKER_INDEX"


@dataclass
class _Slot:
    label: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    quick_deaths: int = 0
    restart_at: float = 0.0


def exit_description(code: int) -> str:
    """ "exited with code 1", or "was killed by SIGKILL" for a process a signal ended."""
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


class WorkerPool:
    def __init__(
        self,
        strategy_workers: int,
        *,
        control: bool = True,
        backtest_workers: int = 0,
        notify_workers: int = 0,
        env: Mapping[str, str] | None = None,
        say: Callable[[str], None] = print,
    ) -> None:
        manage = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "rqworker"]
        self.slots = [
            _Slot(
                f"engine host {n}",
                [*manage, STRATEGY_QUEUE, "--worker-class", "trading.runtime.host.EngineHostWorker"],
                {WORKER_INDEX_ENV: str(n - 1)},
            )
            for n in range(1, strategy_workers + 1)
        ]
        if control:
            self.slots.append(
                _Slot(
                    "control worker", [*manage, CONTROL_QUEUE, "--worker-class", "trading.runtime.worker.ControlWorker"]
                )
            )
        # Backtests on workers of their own: an engine host never takes one, so a long backtest cannot keep a
        # strategy waiting for an engine.
        self.slots.extend(
            _Slot(
                f"backtest worker {n}",
                [*manage, BACKTEST_QUEUE, "--worker-class", "trading.runtime.worker.BacktestWorker"],
            )
            for n in range(1, backtest_workers + 1)
        )
        # Notification delivery: a slow or dead chat service holds up only this worker.
        self.slots.extend(
            _Slot(
                f"notify worker {n}",
                [*manage, NOTIFY_QUEUE, "--worker-class", "trading.runtime.worker.NotifyWorker"],
            )
            for n in range(1, notify_workers + 1)
        )
        self.strategy_workers = strategy_workers
        self.backtest_workers = backtest_workers
        self.notify_workers = notify_workers
        self.control = control
        self.env = dict(env) if env is not None else None
        self.say = say

    def __str__(self) -> str:
        parts = [f"{self.strategy_workers} engine host{'s' if self.strategy_workers != 1 else ''}"]
        if self.backtest_workers:
            parts.append(f"{self.backtest_workers} backtest worker{'s' if self.backtest_workers != 1 else ''}")
        if self.notify_workers:
            parts.append(f"{self.notify_workers} notify worker{'s' if self.notify_workers != 1 else ''}")
        if self.control:
            parts.append("1 control worker")
        return ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]

    # --- running -----------------------------------------------------------------------------------------------------
    def start(self) -> None:
        for slot in self.slots:
            self._spawn(slot)

    def _spawn(self, slot: _Slot) -> None:
        env = {**(os.environ if self.env is None else self.env), **slot.env}
        slot.proc = subprocess.Popen(slot.argv, env=env, start_new_session=True)  # noqa: S603
        slot.started_at = time.monotonic()

    def replace_dead(self) -> None:
        """Start a new worker for each one that died; its engine's strategy resumes through the supervisor."""
        now = time.monotonic()
        for slot in self.slots:
            if slot.proc is not None and slot.proc.poll() is not None:
                lived = now - slot.started_at
                slot.quick_deaths = 0 if lived >= HEALTHY_AFTER else slot.quick_deaths + 1
                delay = min(MAX_RESTART_DELAY, 2.0 ** (slot.quick_deaths - 1)) if slot.quick_deaths else 0.0
                when = f"in {delay:.0f} s" if delay else "now"
                self.say(
                    f"{slot.label} (pid {slot.proc.pid}) {exit_description(slot.proc.returncode)} after "
                    f"{lived:.0f} s; starting a new one {when}"
                )
                slot.proc, slot.restart_at = None, now + delay
            if slot.proc is None and now >= slot.restart_at:
                self._spawn(slot)

    def pids(self) -> set[int]:
        return {slot.proc.pid for slot in self.slots if slot.proc is not None and slot.proc.poll() is None}

    def listening(self, connection: redis.Redis) -> bool:
        """Every worker runs and has registered with Redis (RQ registers a worker just before it takes jobs)."""
        alive = self.pids()
        if len(alive) < len(self.slots):
            return False
        try:
            registered = {worker.pid for worker in Worker.all(connection=connection)}
        except redis.RedisError:
            return False
        return alive <= registered

    # --- stopping ----------------------------------------------------------------------------------------------------
    def stop(self, grace: float, forced: Callable[[], bool] = lambda: False) -> bool:
        """Signal each worker once and wait for all to exit: a busy one first waits for its engine to hand the
        strategy over (lease released, orders untouched). After `grace` seconds, or once `forced()`, the rest are
        stopped hard: RQ's cold shutdown (kills the work-horse), then SIGKILL for anything still there.

        True when every worker left on its own."""
        running = [slot.proc for slot in self.slots if slot.proc is not None and slot.proc.poll() is None]
        for proc in running:
            proc.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        deadline = signalled + grace
        while any(p.poll() is None for p in running) and time.monotonic() < deadline and not forced():
            time.sleep(0.1)
        left = [p for p in running if p.poll() is None]
        if not left:
            return True
        self.say(
            f"{len(left)} worker(s) still busy; stopping them without waiting for their engines (their strategies "
            f"move on when the lease runs out, within {settings.STRATEGY_LOCK_TTL} s)"
        )
        # Taken before any worker dies: a work-horse is in a process group of its own and outlives its worker.
        families = {p.pid: _descendants(p.pid) for p in left}
        time.sleep(max(0.0, signalled + _RQ_SIGNAL_DEBOUNCE - time.monotonic()))
        for proc in left:
            _signal(proc.pid, signal.SIGTERM)
        end = time.monotonic() + 5
        while any(p.poll() is None for p in left) and time.monotonic() < end:
            time.sleep(0.1)
        for proc in left:
            for pid in [proc.pid, *families[proc.pid]]:
                _signal(pid, signal.SIGKILL)
            proc.wait()
        return False


def _descendants(pid: int) -> list[int]:
    try:
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass
