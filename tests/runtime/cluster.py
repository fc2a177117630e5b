"""Real processes for the runtime tests: a private Redis server and RQ workers, on this machine only; a paper
strategy for them to run, and how to see where it runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import redis
from django.db import connection

from exchanges.paper.store import DbPaperStore, book_key
from tests.factories import make_paper_account, make_strategy
from tests.processes import descendants
from trading.runtime.jobs import supervise

ROOT = Path(__file__).resolve().parents[2]


def worker_env(redis_url: str, **extra: str) -> dict[str, str]:
    """The environment of a worker process: the test settings, this test's database and Redis."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(
        DJANGO_SETTINGS_MODULE="tests.settings",
        REDIS_URL=redis_url,
        STRATEGY_LOCK_TTL="5",
        STRATEGY_STOP_POLL_INTERVAL="0.2",
        STRATEGY_STALE_AFTER="3",
        SUPERVISE_INTERVAL="1",
        LOG_LEVEL="WARNING",
    )
    name = connection.settings_dict["NAME"]
    if connection.vendor == "mysql":
        env["MYSQL_DATABASE"] = str(name)
    else:
        env["SQLITE_PATH"] = str(name)
    env.update(extra)
    return env


class Worker:
    """`manage.py rqworker` in a process group of its own, so that kill -9 takes any work-horse down with it. On the
    `strategies` queue it is an engine host (trading/runtime/host.py): every engine runs inside it."""

    def __init__(self, env: dict[str, str], queue: str = "strategies", worker_class: str = "") -> None:
        worker_class = worker_class or ("host.EngineHostWorker" if queue == "strategies" else "")
        if "." not in worker_class:
            worker_class = f"worker.{worker_class}"
        self.log = open(os.environ.get("ARESBOT_TEST_WORKER_LOG", os.devnull), "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "rqworker",
                queue,
                "--worker-class",
                f"trading.runtime.{worker_class}",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill_node(self) -> None:
        """kill -9 of the worker and everything it forked: a node that dies without a word.

        RQ puts each work-horse in a process group of its own, so the horse is found (psutil) as a child.
        """
        family = descendants(self.proc.pid)
        os.killpg(self.proc.pid, signal.SIGKILL)
        for pid in family:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(15)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.log.close()

    def alive(self) -> bool:
        return self.proc.poll() is None


def walking_strategy(owner, name: str = "grid", **kwargs):
    """A paper strategy whose price walks fast enough (0.3 % a second) to fill its tight grid within seconds."""
    account = make_paper_account(owner, name=f"paper {name}")
    DbPaperStore(book_key(account.pk), account.paper_balances).ensure_feed_spec(
        "BTC/USDT",
        {
            "kind": "random_walk",
            "start_price": "30000",
            "start": datetime.now(UTC).isoformat(),
            "tick": "0.01",
            "seed": 7,
            "step_seconds": 1,
            "volatility_pct": "0.3",
        },
    )
    values = {
        "grid_levels": 3,
        "buy_offset_pct": Decimal("0.1"),
        "sell_offset_pct": Decimal("0.1"),
        "order_size_quote": Decimal("50"),
        "loop_interval": Decimal("0.5"),
        "reprice_threshold_pct": Decimal("5"),
    }
    values.update(kwargs)
    return make_strategy(owner, account, name=name, **values)


def status(client, sid):
    return client.hgetall(f"strategy:running:{sid}")


def running_on(client, sid, not_task: str | None = None):
    hash_ = status(client, sid)
    if hash_.get("status") == "running" and hash_.get("current_price") and hash_.get("task_id") != not_task:
        return hash_
    return None


def resumed_elsewhere(client, sid, first_task: str):
    """Run the supervisor as its cron job would, then look for an engine other than the first one."""
    try:
        supervise()
    except redis.RedisError:
        pass  # a Redis that was just restarted; the cron job simply runs again a second later
    return running_on(client, sid, not_task=first_task)
