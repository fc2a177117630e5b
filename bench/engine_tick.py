"""Microseconds per engine tick, at 10, 50 and 200 grid levels.

    .venv/bin/python bench/engine_tick.py [--ticks 3000] [--levels 10,50,200] [--no-orm]

"pure": paper exchange + in-memory journal, the cost of deciding. "ORM": the same with OrmJournal on the database
named by the MYSQL_* environment (MariaDB/MySQL; a scratch test database is created and dropped), or SQLite
in memory without MYSQL_HOST. Scenarios: "quiet" — the price does not move, no order changes (the engine's
steady state); "moving" — a random walk that fills buys and take-profits now and then (journal writes show in p99);
"a year hourly" — a tick an hour for a year (`--hours`) over a random walk of ±1 % an hour, with a daily loss limit
and a loss streak set (never reached), as a backtest of hourly candles runs it: thousands of exits, so the cost of
the risk rules' view of the closed lots shows.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ticks", type=int, default=3000)
    parser.add_argument("--levels", default="10,50,200")
    parser.add_argument("--hours", type=int, default=8760, help="Ticks of the hourly scenario (0: skip it).")
    parser.add_argument("--no-orm", action="store_true", help="Only the pure (in-memory) figures.")
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
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
