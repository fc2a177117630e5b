"""The quick start as a newcomer meets it: `manage.py runlocal` (what `bin/run` ends in) with a Redis server of its
own, its workers, scheduler and web server as real processes, read from its console.

- "up" is said when it is true, and operator commands in a second shell reach the same Redis (through .env);
- the console shows what happens to strategies (queued, started, fills, stopped), not the supervisor's routine;
- Ctrl-C or SIGTERM stops everything in order: Redis waits for the engines to hand their strategies over, and
  nothing is left running and no traceback printed.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from pytest_django.fixtures import Settings
from rq import Worker
from rq.cron import CronScheduler
from rq.registry import FinishedJobRegistry

from aresbot.management.commands.runlocal import Command as RunLocal
from aresbot.management.commands.runlocal import choose_redis_server
from aresbot.redis import get_rq_redis, reset_clients
from strategies.models import Strategy
from strategies.services import stop_strategy
from tests.processes import Console, RedisServer, alive, descendants, free_port, wait_until
from tests.runtime.cluster import ROOT, running_on, walking_strategy, worker_env
from trading.models import Fill
from trading.runtime import coordination as co
from trading.runtime.queues import CONTROL_QUEUE

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

STARTUP = 120  # seconds: seven Django processes starting at once on a small, busy machine


@dataclass
class QuickStart:
    console: Console
    addr: str
    env_file: Path
    var: Path
    redis: redis.Redis  # text client of its Redis server, over the socket

    @property
    def pid(self) -> int:
        return self.console.proc.pid

    def interrupt(self, signum: int = signal.SIGINT) -> None:
        """What Ctrl-C does: the signal goes to the terminal's foreground process group, here runlocal's."""
        os.killpg(self.pid, signum)


def app_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The app's real settings (not the tests'), its .env and var/ in tmp_path, the test database, and no Redis
    variable: the quick start starts its own."""
    env = worker_env(
        "",
        DJANGO_SETTINGS_MODULE="aresbot.settings",
        ARESBOT_ENV_FILE=str(tmp_path / ".env"),
        ARESBOT_VAR_DIR=str(tmp_path / "var"),
        LOG_LEVEL="INFO",
        **extra,
    )
    for name in ("REDIS_URL", "REDIS_HOST", "REDIS_PORT", "REDIS_DB", "REDIS_PASSWORD"):
        env.pop(name, None)
    return env


@pytest.fixture
def quick_start(tmp_path: Path, settings: Settings) -> Iterator[Callable[[], QuickStart]]:
    started: list[QuickStart] = []

    def start() -> QuickStart:
        addr = f"127.0.0.1:{free_port()}"
        env = app_env(
            tmp_path,
            WORKER_CONCURRENCY="2",
            SUPERVISE_INTERVAL="1",
            # A lease that outlives an engine stuck for a while (the shutdown test holds one for HOLD seconds).
            STRATEGY_LOCK_TTL="30",
            STRATEGY_STALE_AFTER="20",
        )
        console = Console([sys.executable, "manage.py", "runlocal", "--addr", addr], env, cwd=ROOT)
        socket_path = tmp_path / "var" / "redis.sock"
        wait_until(socket_path.exists, 30, "runlocal's Redis server to open its socket")
        settings.REDIS_URL = f"unix://{socket_path}"
        reset_clients()
        client = redis.Redis(unix_socket_path=str(socket_path), decode_responses=True, socket_timeout=5)
        run = QuickStart(console, addr, tmp_path / ".env", tmp_path / "var", client)
        started.append(run)
        return run

    yield start
    for run in started:
        if run.console.proc.poll() is None:
            run.console.kill()
    reset_clients()


def log_lines(text: str) -> list[tuple[str, str, str]]:
    """(level, logger, message) of every line in the log format (aresbot.settings LOGGING)."""
    pattern = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (\w+) ([\w.]+): (.*)$")
    return [(m[1], m[2], m[3]) for m in map(pattern.match, text.splitlines()) if m]


def engine_hosts() -> list[int]:
    """The engine hosts (trading/runtime/host.py): the workers of the `strategies` queue, which run the engines."""
    return [w.pid for w in Worker.all(connection=get_rq_redis()) if w.queue_names() == ["strategies"] and w.pid]


# --- item 13: up when it is, and the same Redis from a second shell ------------------------------------------


def test_it_says_up_once_its_workers_listen_and_a_second_shell_reaches_its_redis(quick_start, tmp_path, settings):
    tests_redis_db = redis.Redis.from_url(os.environ["REDIS_URL"]).connection_pool.connection_kwargs["db"]
    run = quick_start()
    run.console.wait_for("AresBot is up", STARTUP)
    # At the moment it says so: both strategy workers, the backtest, notify and control workers take jobs, the
    # scheduler runs, the node is live, and the web server answers.
    family = set(descendants(run.pid))
    assert len({w.pid for w in Worker.all(connection=get_rq_redis())} & family) == 5
    assert any(scheduler.pid in family for scheduler in CronScheduler.all(get_rq_redis()))
    ip, hostname = co.node_identity()
    assert co.active_workers(run.redis) == {ip: hostname}
    with urllib.request.urlopen(f"http://{run.addr}/health", timeout=10) as answer:
        assert answer.status == 200

    assert f"REDIS_URL=unix://{run.var / 'redis.sock'}" in run.env_file.read_text().splitlines()
    # A second shell: the same checkout (.env), no Redis variable of its own. (REDIS_DB names the tests' own
    # database, so that a command ignoring .env would read that one, never the machine's database 0.)
    shell = {**app_env(tmp_path), "REDIS_DB": str(tests_redis_db)}
    status = subprocess.run(
        [sys.executable, "manage.py", "strategy_status"],
        cwd=ROOT,
        env=shell,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert status.returncode == 0, status.stderr
    assert f"workers:active: {ip} ({hostname})" in status.stdout

    run.interrupt()
    assert run.console.finish(90) == 0


# --- item 14: the console shows what happens to strategies, not the supervisor's routine ---------------------


def test_its_console_shows_a_line_per_start_stop_and_fill_and_nothing_for_routine_supervision(alice, quick_start):
    strategy = walking_strategy(alice)
    # Wanted but never queued: the supervisor must act (queue it), which is worth a line.
    Strategy.objects.filter(pk=strategy.pk).update(desired_state="running")
    run = quick_start()
    run.console.wait_for("AresBot is up", STARTUP)
    wait_until(lambda: running_on(run.redis, strategy.pk), 60, "the supervisor to start the strategy")
    wait_until(lambda: Fill.objects.filter(strategy=strategy).count() >= 2, 120, "two fills")
    passes = FinishedJobRegistry(CONTROL_QUEUE, connection=get_rq_redis())
    wait_until(lambda: passes.count >= 10, 60, "ten supervisor passes")
    stop_strategy(strategy)
    wait_until(lambda: not run.redis.exists(co.LOCK_KEY.format(id=strategy.pk)), 30, "the engine to stop")
    run.interrupt()
    assert run.console.finish(90) == 0

    lines = log_lines(run.console.text)
    sid = strategy.pk
    fills = Fill.objects.filter(strategy=strategy).count()
    kinds = {
        "queued": ("trading.runtime.jobs", rf"strategy {sid}: should run and no engine holds it; queued"),
        "started": ("trading.runtime.runner", rf"strategy {sid}: BTC/USDT engine started on \S+ \(\S+\)"),
        "filled": ("trading.journal", rf"strategy {sid}: (buy|sell) filled: [\d.]+ BTC/USDT at [\d.]+, fee .+"),
        "stopped": ("trading.runtime.runner", rf"strategy {sid}: stopped, its open buys cancelled"),
    }
    seen = dict.fromkeys(kinds, 0)
    for level, logger, message in lines:
        kind = next((k for k, (name, shape) in kinds.items() if logger == name and re.fullmatch(shape, message)), None)
        if kind is None:
            pytest.fail(f"a line that says nothing a trader needs: {level} {logger}: {message}")
        seen[kind] += 1
    assert seen == {"queued": 1, "started": 1, "filled": fills, "stopped": 1}
    assert "Traceback" not in run.console.text


# --- item 12: Ctrl-C and SIGTERM stop everything, Redis last ---------------------------------------------------

# Longer than any fixed wait a shutdown could get away with (the old one gave the workers 10 s, then stopped Redis).
HOLD = 12.0


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_stopping_waits_for_a_stuck_engine_to_hand_over_before_redis_and_leaves_nothing_behind(
    alice, quick_start, signum
):
    strategy = walking_strategy(alice)
    Strategy.objects.filter(pk=strategy.pk).update(desired_state="running")
    run = quick_start()
    run.console.wait_for("AresBot is up", STARTUP)
    wait_until(lambda: running_on(run.redis, strategy.pk), 60, "the strategy to run")
    hosts = wait_until(engine_hosts, 10, "the engine hosts")
    family = [run.pid, *descendants(run.pid)]

    # Engine hosts stuck (a slow exchange call, a machine out of CPU): they can hand over only once they run again.
    for host in hosts:
        os.kill(host, signal.SIGSTOP)
    run.interrupt(signum)
    held = time.monotonic()
    while time.monotonic() - held < HOLD:
        assert run.redis.ping(), "Redis stopped while an engine was still handing over"
        assert run.console.proc.poll() is None
        time.sleep(0.5)
    for host in hosts:
        os.kill(host, signal.SIGCONT)
    assert run.console.finish(90) == 0

    assert [pid for pid in family if alive(pid)] == []
    assert "Traceback" not in run.console.text
    assert f"strategy {strategy.pk}: worker shutting down, handing the strategy over" in run.console.text
    # Redis saved its data on the way out; read it back: the lease was released and the status removed before
    # Redis stopped, and the strategy still wants to run (a handover is not a stop).
    # With the same redis-server the quick start chose: with .venv activated, PATH's first one is the bundled 6.2,
    # which cannot read the RDB a machine's Redis 7 wrote.
    chosen, _ = choose_redis_server(*RunLocal()._find_redis_servers())
    saved = RedisServer(run.var, "--dbfilename", "redis.rdb", binary=chosen.path)
    saved.start()
    try:
        client = redis.Redis.from_url(saved.url, decode_responses=True)
        assert client.get(co.LOCK_KEY.format(id=strategy.pk)) is None
        assert not client.exists(co.RUNNING_KEY.format(id=strategy.pk))
    finally:
        saved.stop()
    assert Strategy.objects.get(pk=strategy.pk).desired_state == "running"
