"""Microseconds per engine tick, at 10, 50 and 200 grid levels.

    .venv/bin/python bench/engine_tick.py [--ticks 3000] [--levels 10,50,200] [--no-orm]
    .venv/bin/python bench/engine_tick.py --all-in [--runs 3] [--levels 10] [--profile quiet|moving]

"pure": paper exchange + in-memory journal, the cost of deciding. "ORM": the same with OrmJournal on the database
named by the MYSQL_* environment (MariaDB/MySQL; a scratch test database is created and dropped), or SQLite
in memory without MYSQL_HOST. Scenarios: "quiet" — the price does not move, no order changes (the engine's
steady state); "moving" — a random walk that fills buys and take-profits now and then (journal writes show in p99);
"a year hourly" — a tick an hour for a year (`--hours`) over a random walk of ±1 % an hour, with a daily loss limit
and a loss streak set (never reached), as a backtest of hourly candles runs it: thousands of exits, so the cost of
the risk rules' view of the closed lots shows.

"--all-in": a paper engine as the runtime runs it, in a `bench._harness.Bench` (a scratch MariaDB database migrated
with manage.py, a private redis-server, `aresbot.settings`): `build_engine` on a paper account's DbPaperStore, the
OrmJournal, the lease-fenced exchange and the real status board (`LeasedStatusBoard` writing the status hash under
the lease). A fresh account and strategy per run; quiet and moving as above, one tick a second of the engine's
clock. Per tick: this process's CPU (p50/p99), wall time (p50/p99), SQL queries (Django's CaptureQueriesContext),
Redis commands (the private server's total_commands_processed) and the CPU mariadbd used meanwhile (the machine's
shared server: other clients' work shows in it too). Medians of `--runs` runs. `--profile quiet|moving` prints a
pyinstrument profile of that scenario's timed ticks instead (requirements/bench.txt).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from exchanges.clock import ManualClock
from exchanges.paper.book import InMemoryPaperStore
from exchanges.paper.exchange import PaperExchange
from exchanges.paper.feeds import RandomWalkFeed
from trading.core.engine import TradingEngine
from trading.core.memory import InMemoryJournal, InMemoryStatusBoard
from trading.core.types import EngineConfig, Journal

START = datetime(2022, 5, 5, tzinfo=UTC)


def config(levels: int, strategy_id: int = 1, **risk: Any) -> EngineConfig:
    return EngineConfig(
        strategy_id=strategy_id,
        symbol="BTC/USDT",
        grid_levels=levels,
        buy_offset_pct=Decimal("0.1"),  # 200 levels span 20 % below the price
        sell_offset_pct=Decimal("0.2"),
        order_size_quote=Decimal(20),
        reprice_threshold_pct=Decimal(1),
        max_positions=1000,
        **risk,
    )


def measure(
    levels: int, ticks: int, moving: bool, journal: Journal, strategy_id: int = 1, hourly: bool = False
) -> list[float]:
    clock = ManualClock(START)
    seconds = 3600 if hourly else 1
    feed = RandomWalkFeed(
        start_price=Decimal(30000),
        start=START,
        tick=Decimal("0.01"),
        seed=7,
        step_seconds=seconds,
        volatility_pct=Decimal(1) if hourly else Decimal("0.05") if moving else Decimal(0),
    )
    exchange = PaperExchange(InMemoryPaperStore({"USDT": "1000000000"}), feeds={"BTC/USDT": feed}, clock=clock)
    risk: dict[str, Any] = (
        {"daily_loss_limit": Decimal(10**9), "max_consecutive_losses": 100, "cooldown_minutes": 1} if hourly else {}
    )
    engine = TradingEngine(
        config(levels, strategy_id, **risk),
        exchange=exchange,
        journal=journal,
        status_board=InMemoryStatusBoard(),
        clock=clock,
        tz=ZoneInfo("UTC"),
    )
    engine.start()
    for _ in range(50):  # warm-up: ladder placed, caches filled
        clock.advance(seconds)
        engine.tick()
    samples = []
    for _ in range(ticks):
        clock.advance(seconds)
        began = time.perf_counter_ns()
        engine.tick()
        samples.append((time.perf_counter_ns() - began) / 1000)
    if engine.last_error:
        print(f"  (engine reported: {engine.last_error})")
    return samples


def p99(samples: list[float]) -> float:
    return sorted(samples)[int(len(samples) * 0.99) - 1]


def report(label: str, levels: int, samples: list[float]) -> None:
    print(f"{label:<28} {levels:>6} {statistics.median(samples):>12.1f} {p99(samples):>12.1f} {len(samples):>7}")


def orm_setup() -> tuple[Any, Any]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    if os.environ.get("MYSQL_HOST"):
        os.environ.setdefault("MYSQL_DATABASE", "aresbot_bench")  # the scratch database is test_<this>
    import django

    django.setup()
    from django.db import connection

    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    return connection, old_name


ALL_IN_MAX_SECONDS = 1800


def _redis_commands(client: Any) -> int:
    return int(client.info("stats")["total_commands_processed"])


def _all_in_engine(levels: int, moving: bool, name: str) -> tuple[Any, ManualClock, Any]:
    """A paper strategy's engine built by the runtime's own code: (engine, its clock, the runner)."""
    from django.contrib.auth import get_user_model

    from accounts.models import ExchangeAccount
    from aresbot.redis import get_redis
    from exchanges.paper.store import DbPaperStore, book_key
    from strategies.models import Strategy
    from trading.runtime.build import build_engine
    from trading.runtime.runner import FencedExchange, LeasedStatusBoard, StrategyRunner

    user, _ = get_user_model().objects.get_or_create(username="bench-tick")
    # Replayed prices: a live price source would load Binance's markets over the network to validate the grid.
    # The book's feed for the symbol is stored below, so the strategy trades on that one.
    account = ExchangeAccount(
        owner=user,
        name=name,
        exchange="paper",
        paper_balances={"USDT": "1000000"},
        price_source="replay",
        replay_dataset="BTCUSDT-1m-2022-05-05",
    )
    account.full_clean()
    account.save()
    spec = {
        "kind": "random_walk",
        "start_price": "30000",
        "start": START.isoformat(),
        "tick": "0.01",
        "seed": 7,
        "step_seconds": 1,
        "volatility_pct": "0.05" if moving else "0",
    }
    DbPaperStore(book_key(account.pk), account.paper_balances).ensure_feed_spec("BTC/USDT", spec)
    strategy = Strategy(
        owner=user,
        account=account,
        name=name,
        symbol="BTC/USDT",
        grid_levels=levels,
        buy_offset_pct=Decimal("0.1"),
        sell_offset_pct=Decimal("0.2"),
        order_size_quote=Decimal(20),
        reprice_threshold_pct=Decimal(1),
        max_positions=150,
        loop_interval=Decimal(1),
    )
    strategy.full_clean()
    strategy.save()
    # No pulse thread renews the lease here: one that outlives the run keeps every status write accepted.
    runner = StrategyRunner(strategy.pk, f"bench-{strategy.pk}", client=get_redis(), lock_ttl=3600)
    if not runner.lease.acquire():
        raise RuntimeError("the strategy's lease is taken")
    board = LeasedStatusBoard(runner.lease, {"task_id": runner.holder, "status": "running"}, runner.status_ttl)
    loaded = runner.source.load(strategy.pk)
    assert loaded is not None
    clock = ManualClock(START)
    engine = build_engine(
        loaded, status_board=board, clock=clock, wrap_exchange=lambda inner: FencedExchange(inner, runner.fence)
    )
    return engine, clock, runner


def all_in_run(levels: int, ticks: int, moving: bool, name: str, profile: bool = False) -> dict[str, float]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from aresbot.redis import get_redis
    from bench._harness import cpu_seconds, pids_named

    engine, clock, _ = _all_in_engine(levels, moving, name)
    engine.start()
    for _ in range(50):  # warm-up: ladder placed, caches filled
        clock.advance(1)
        engine.tick()
    client = get_redis()
    mariadb = pids_named("mariadbd")
    db_cpu0 = sum(cpu_seconds(pid) for pid in mariadb)
    commands0 = _redis_commands(client)
    cpu, wall = [], []
    profiler = None
    if profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0002)
        profiler.start()
    for _ in range(ticks):
        clock.advance(1)
        began, began_cpu = time.perf_counter_ns(), time.thread_time_ns()
        engine.tick()
        cpu.append((time.thread_time_ns() - began_cpu) / 1000)
        wall.append((time.perf_counter_ns() - began) / 1000)
    if profiler is not None:
        profiler.stop()
        print(profiler.output_text(unicode=True, color=False, show_all=False))
    commands = _redis_commands(client) - commands0 - 1  # the INFO that read the first count
    db_cpu = sum(cpu_seconds(pid) for pid in mariadb) - db_cpu0
    batches, queries = max(1, min(ticks, 300) // 50), 0
    counted = batches * 50
    for _ in range(batches):  # in batches: Django keeps the last 9,000 queries only
        connection.queries_log.clear()
        with CaptureQueriesContext(connection) as captured:
            for _ in range(50):
                clock.advance(1)
                engine.tick()
        queries += len(captured)
    if engine.last_error:
        print(f"  (engine reported: {engine.last_error})", file=sys.stderr)
    return {
        "cpu p50": statistics.median(cpu),
        "cpu p99": p99(cpu),
        "wall p50": statistics.median(wall),
        "wall p99": p99(wall),
        "queries": queries / counted,
        "redis": commands / ticks,
        "mariadbd": db_cpu * 1e6 / ticks,
    }


def all_in(levels: list[int], ticks: int, runs: int, profile: str) -> None:
    from bench._harness import Bench

    columns = ("cpu p50", "cpu p99", "wall p50", "wall p99", "queries", "redis", "mariadbd")
    with Bench(name="engine_tick", max_seconds=ALL_IN_MAX_SECONDS):
        if profile:
            all_in_run(levels[0], ticks, profile == "moving", "profile", profile=True)
            return
        print(
            f"{'all in (µs, per tick)':<24} {'levels':>6} {'CPU p50':>8} {'CPU p99':>8} {'wall p50':>9} "
            f"{'wall p99':>9} {'queries':>8} {'Redis':>6} {'mariadbd':>9}"
        )
        for moving in (False, True):
            for n in levels:
                results = [all_in_run(n, ticks, moving, f"{n}-{moving}-{run}") for run in range(runs)]
                median = {c: statistics.median(r[c] for r in results) for c in columns}
                label = f"{'moving' if moving else 'quiet'} (median of {runs})"
                print(
                    f"{label:<24} {n:>6} {median['cpu p50']:>8.0f} {median['cpu p99']:>8.0f} "
                    f"{median['wall p50']:>9.0f} {median['wall p99']:>9.0f} {median['queries']:>8.2f} "
                    f"{median['redis']:>6.2f} {median['mariadbd']:>9.0f}",
                    flush=True,
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ticks", type=int, default=3000)
    parser.add_argument("--levels", default="10,50,200")
    parser.add_argument("--hours", type=int, default=8760, help="Ticks of the hourly scenario (0: skip it).")
    parser.add_argument("--no-orm", action="store_true", help="Only the pure (in-memory) figures.")
    parser.add_argument("--all-in", action="store_true", help="Only the runtime's paper engine, all in (see above).")
    parser.add_argument("--runs", type=int, default=3, help="Runs per --all-in figure (their median is shown).")
    parser.add_argument("--profile", choices=("quiet", "moving"), help="With --all-in: a pyinstrument profile.")
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    if args.all_in or args.profile:
        all_in(levels, args.ticks, args.runs, args.profile or "")
        return
    print(f"{'scenario':<28} {'levels':>6} {'median µs':>12} {'p99 µs':>12} {'ticks':>7}")
    for n in levels:
        report("pure, quiet (no fill)", n, measure(n, args.ticks, False, InMemoryJournal()))
    for n in levels:
        report("pure, moving (fills)", n, measure(n, args.ticks, True, InMemoryJournal()))
    if args.hours:
        for n in levels:
            report("pure, a year hourly", n, measure(n, args.hours, True, InMemoryJournal(), hourly=True))
    if args.no_orm:
        return
    connection, old_name = orm_setup()
    from django.contrib.auth.models import User

    from accounts.models import ExchangeAccount
    from strategies.models import Strategy
    from trading.journal import OrmJournal

    vendor = f"{connection.vendor} {connection.settings_dict['NAME']}"
    try:
        owner = User.objects.create_user("bench")
        account = ExchangeAccount.objects.create(owner=owner, name="paper", exchange="paper", paper_balances={})
        for moving in (False, True):
            for n in levels:
                strategy = Strategy.objects.create(
                    owner=owner, account=account, name=f"b{n}{moving}", symbol="BTC/USDT"
                )
                samples = measure(n, args.ticks, moving, OrmJournal(strategy.pk), strategy.pk)
                label = f"ORM ({connection.vendor}), {'moving' if moving else 'quiet'}"
                report(label, n, samples)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    print(f"ORM journal database: {vendor} (dropped after the run)")


if __name__ == "__main__":
    main()
