"""Failover time: seconds from `kill -9` of the node running a strategy to the strategy ticking on another worker.

    .venv/bin/python bench/failover.py [--runs 5] [--configs default,ttl5,ttl5-stale5] [--max-minutes 20]

The real pieces, as separate processes on a private redis-server and a scratch MariaDB database:
two `manage.py rqworker strategies --worker-class trading.runtime.worker.StrategyWorker`, one
`manage.py rqworker control --worker-class trading.runtime.worker.ControlWorker` and the RQ cron scheduler
`manage.py rqcron aresbot.cron` (supervise every SUPERVISE_INTERVAL). One paper strategy (1 s loop) on a
random-walk feed. Per run: wait until it ticks, wait a random 0..SUPERVISE_INTERVAL s (so that the kill does not
always fall at the same phase of the supervisor), kill -9 the worker that runs it and its work-horse, then poll
`strategy:running:{id}` every 20 ms until it shows a new task_id, status running and a current_price written after
the kill. (Right after the kill the bench deletes the dead engine's current_price from the hash, so that the new
engine's first publish is seen as such: its start-up `touch` writes task_id/status but not the price.) A fresh
StrategyWorker replaces the killed one before the next run, so there are always two.

Phases: "lease gone" = kill → strategy:lock:{id} no longer names the dead job (broken by the supervisor as stale,
or expired); "job up" = → the new job's runner has taken the lease and written its task_id; "ticking" = → the
first status with a price from the new engine (the total).
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import Bench, Proc, log, print_table
from tests.processes import wait_until

CONFIGS: dict[str, tuple[str, dict[str, str]]] = {
    "default": (
        "default lease (TTL 30, stale 8, supervise 3)",
        {"STRATEGY_LOCK_TTL": "30", "STRATEGY_STALE_AFTER": "8", "SUPERVISE_INTERVAL": "3"},
    ),
    "ttl5": (
        "5 s lease (TTL 5, stale 8, supervise 3)",
        {"STRATEGY_LOCK_TTL": "5", "STRATEGY_STALE_AFTER": "8", "SUPERVISE_INTERVAL": "3"},
    ),
    "ttl5-stale5": (
        "5 s lease + stale 5 (TTL 5, stale 5, supervise 3)",
        {"STRATEGY_LOCK_TTL": "5", "STRATEGY_STALE_AFTER": "5", "SUPERVISE_INTERVAL": "3"},
    ),
}
GOAL_SECONDS = 15.0
WORKERS = 2


@dataclass
class Run:
    lease_gone: float = math.nan
    job_up: float = math.nan
    ticking: float = math.nan
    pulse_age: float = math.nan  # how old the dead engine's last pulse (updated_at) was at the kill


def create_strategy() -> Any:
    from django.contrib.auth import get_user_model

    from accounts.models import ExchangeAccount
    from exchanges.paper.store import DbPaperStore, book_key
    from strategies.models import Strategy

    user = get_user_model().objects.create_user("bench-failover", password="bench-failover-password")
    account = ExchangeAccount(owner=user, name="paper", exchange="paper", paper_balances={"USDT": "10000"})
    account.full_clean()
    account.save()
    DbPaperStore(book_key(account.pk), account.paper_balances).ensure_feed_spec(
        "BTC/USDT",
        {
            "kind": "random_walk",
            "start_price": "30000",
            "start": datetime.now(UTC).isoformat(),
            "tick": "0.01",
            "seed": 11,
            "step_seconds": 0.2,
            "volatility_pct": "0.05",
        },
    )
    strategy = Strategy(
        owner=user,
        account=account,
        name="failover",
        symbol="BTC/USDT",
        grid_levels=5,
        buy_offset_pct=Decimal("0.2"),
        sell_offset_pct=Decimal("0.2"),
        order_size_quote=Decimal("20"),
        loop_interval=Decimal("1"),
    )
    strategy.full_clean()
    strategy.save()
    return strategy


def rq_workers_ready(count: int) -> bool:
    from rq import Worker

    from aresbot.redis import get_rq_redis
    from trading.runtime.queues import STRATEGY_QUEUE

    workers = [w for w in Worker.all(connection=get_rq_redis()) if STRATEGY_QUEUE in w.queue_names()]
    return len(workers) >= count


def node_running(workers: list[Proc], task_id: str) -> Proc:
    """The worker process whose RQ registration says it runs `task_id` (and that has a work-horse)."""
    from rq import Worker

    from aresbot.redis import get_rq_redis

    pids = {w.pid for w in Worker.all(connection=get_rq_redis()) if w.get_current_job_id() == task_id}
    for proc in workers:
        if proc.pid in pids and proc.alive():
            return proc
    raise RuntimeError(f"no live worker runs job {task_id}")


def ticking(client: Any, sid: int, not_task: str | None = None, after: float = 0.0) -> dict[str, str] | None:
    from trading.runtime import coordination as co

    h: dict[str, str] = client.hgetall(co.RUNNING_KEY.format(id=sid))
    if (
        h.get("status") == "running"
        and h.get("current_price")
        and h.get("task_id") != not_task
        and float(h.get("updated_at") or 0) > after
    ):
        return h
    return None


def one_run(bench: Bench, env: dict[str, str], workers: list[Proc], sid: int, supervise: float, n: int) -> Run:
    from aresbot.redis import get_redis
    from trading.runtime import coordination as co

    client = get_redis()
    wait_until(lambda: rq_workers_ready(WORKERS), 60, f"{WORKERS} strategy workers")
    first = wait_until(lambda: ticking(client, sid, after=time.time() - 2), 90, "the strategy to tick")
    time.sleep(3 + random.uniform(0, supervise))  # some ticks, then a random phase against the supervisor
    before = ticking(client, sid, after=time.time() - 2) or first
    old_task = before["task_id"]
    node = node_running(workers, old_task)
    run = Run()
    killed_at = time.time()
    node.kill_node()
    client.hdel(co.RUNNING_KEY.format(id=sid), "current_price")
    run.pulse_age = killed_at - float(client.hget(co.RUNNING_KEY.format(id=sid), "updated_at") or killed_at)
    workers.remove(node)
    lock_key = co.LOCK_KEY.format(id=sid)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        now = time.time()
        if math.isnan(run.lease_gone) and client.get(lock_key) != old_task:
            run.lease_gone = now - killed_at
        h = client.hgetall(co.RUNNING_KEY.format(id=sid))
        if h and h.get("task_id") != old_task:
            if math.isnan(run.job_up):
                run.job_up = now - killed_at
            if h.get("status") == "running" and h.get("current_price") and float(h.get("updated_at") or 0) > killed_at:
                run.ticking = now - killed_at
                break
        time.sleep(0.02)
    workers.append(bench.strategy_worker(f"strategy-worker-{n + WORKERS}", env))
    return run


def fmt(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.2f}"


def summary(values: list[float]) -> tuple[float, float, float]:
    good = [v for v in values if not math.isnan(v)]
    if not good:
        return math.nan, math.nan, math.nan
    return statistics.median(good), min(good), max(good)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--configs", default=",".join(CONFIGS), help=f"comma list of {', '.join(CONFIGS)}")
    parser.add_argument("--max-minutes", type=float, default=20)
    parser.add_argument("--seed", type=int, default=None, help="seed of the random kill phase")
    args = parser.parse_args()
    chosen = [c.strip() for c in args.configs.split(",") if c.strip()]
    unknown = [c for c in chosen if c not in CONFIGS]
    if unknown:
        parser.error(f"unknown config(s): {', '.join(unknown)}")
    random.seed(args.seed)

    results: dict[str, list[Run]] = {}
    with Bench("failover", max_seconds=args.max_minutes * 60) as bench:
        from aresbot.redis import get_redis
        from strategies.services import start_strategy

        strategy = create_strategy()
        client = get_redis()
        for key in chosen:
            label, settings_env = CONFIGS[key]
            env = bench.env(**settings_env)
            client.flushall()  # the private server; nothing runs between configurations
            log(f"--- {label}: starting scheduler, control worker and {WORKERS} strategy workers")
            bench.control_worker("control-worker", env)
            bench.scheduler("rqcron", env)
            workers = [bench.strategy_worker(f"strategy-worker-{i}", env) for i in range(WORKERS)]
            if strategy.desired_state != "running":
                strategy = start_strategy(strategy)  # the API's path; later configs resume via the supervisor
            runs = results[key] = []
            for n in range(args.runs):
                run = one_run(bench, env, workers, strategy.pk, float(settings_env["SUPERVISE_INTERVAL"]), n)
                runs.append(run)
                log(
                    f"{key} run {n + 1}/{args.runs}: lease gone {fmt(run.lease_gone)} s, job up {fmt(run.job_up)} s,"
                    f" ticking {fmt(run.ticking)} s (last pulse {run.pulse_age:.2f} s before the kill)"
                )
            bench.stop_all()

    rows = []
    for key, runs in results.items():
        median, low, high = summary([r.ticking for r in runs])
        failed = sum(math.isnan(r.ticking) for r in runs)
        rows.append(
            [
                CONFIGS[key][0],
                f"{len(runs) - failed}/{len(runs)}",
                fmt(median),
                fmt(low),
                fmt(high),
                fmt(summary([r.lease_gone for r in runs])[0]),
                fmt(summary([r.job_up for r in runs])[0]),
                "yes" if median <= GOAL_SECONDS else "NO",
            ]
        )
    print_table(
        "Failover: kill -9 of the node running a 1 s paper strategy -> ticking on another worker (seconds)",
        [
            "configuration",
            "ok",
            "median",
            "min",
            "max",
            "lease gone (median)",
            "new job up (median)",
            f"<= {GOAL_SECONDS:.0f} s",
        ],
        rows,
    )
    print_table(
        "Every run (seconds after the kill)",
        ["configuration", "run", "last pulse age", "lease gone", "new job up", "ticking"],
        [
            [key, i + 1, fmt(r.pulse_age), fmt(r.lease_gone), fmt(r.job_up), fmt(r.ticking)]
            for key, runs in results.items()
            for i, r in enumerate(runs)
        ],
    )
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
