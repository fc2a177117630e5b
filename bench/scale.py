"""Scale of the one-work-horse-per-strategy design: N paper strategies at a 1 s loop on this machine.

    .venv/bin/python bench/scale.py [--counts 20,50,100] [--seconds 60] [--settle 10] [--max-minutes 14] [--hosts 2]

With --hosts N the strategies run on N engine hosts (trading/runtime/host.py, many engines per process) instead;
the figures keep their names ("strategy workers" are then the hosts, and there are no work-horses).

Each strategy has its own paper account and its own random-walk feed (so engines do not serialize on one paper
book row), a 1 s loop_interval, 5 grid levels 0.2 % apart. One `manage.py rqworker strategies --worker-class
trading.runtime.worker.StrategyWorker` process per strategy (each forks one work-horse that runs the engine for as long
as the strategy runs), one control worker and the RQ cron scheduler, on a private redis-server and a scratch
MariaDB database, all with the default runtime settings. Counts are run in ascending order on the same cluster:
workers and strategies are added up to the next count, then, once every strategy ticks, the bench waits
--settle seconds and measures for --seconds.

Tick lag. `updated_at` of the status hash cannot tell ticks apart: every lease renewal (each stop poll, 0.8 s)
rewrites it. So the ticks are taken from Redis itself: `redis-cli monitor` runs during the window, and each
status write by a tick is the Lua `HSET strategy:running:{id} … current_price …` it logs, time-stamped by the
server. Per strategy, lag = interval between successive tick writes − loop_interval (the late part of a tick;
an interval shorter than the loop shows as a negative lag, after a late tick). "late vs schedule" rebuilds the
runner's schedule (next = max(next + interval, now)) from the write times: how far behind its own schedule
each tick wrote its status. A pipeline of HMGETs every 0.25 s checks that every strategy stays running and how
stale its hash gets.

Memory: RSS and PSS (/proc/<pid>/smaps_rollup) of every strategy worker and work-horse. CPU: the machine's busy
share over the window (/proc/stat), CPU-seconds per second of each group of processes (/proc/<pid>/stat),
and the CPU pressure stall share (/proc/pressure/cpu "some": the share of time at least one runnable task
waited for a CPU). Database: SHOW GLOBAL STATUS deltas (server-wide: other users of the server count too).
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import re
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import (
    Bench,
    Proc,
    cpu_seconds,
    log,
    machine_cpu,
    mem_total_mb,
    memory_kb,
    mysql_connections,
    mysql_status,
    percentile,
    pids_named,
    print_table,
)
from tests.processes import descendants, wait_until

LOOP_INTERVAL = 1.0
TICK_WRITE = re.compile(r'^(\d+\.\d+) \[\d+ lua\] "HSET" "strategy:running:(\d+)" (.*)$')
DB_COUNTERS = ("Questions", "Com_commit", "Innodb_row_lock_waits", "Innodb_row_lock_time", "Slow_queries")


@dataclass
class Window:
    count: int
    seconds: float = 0.0
    ticks: int = 0
    lags: list[float] = field(default_factory=list)
    late: list[float] = field(default_factory=list)
    never_ticked: int = 0
    min_running: int = 0
    max_stale: float = 0.0
    machine_busy: float = 0.0  # share of both cores
    pressure: float = math.nan  # share of time some task waited for a CPU
    cpu: dict[str, float] = field(default_factory=dict)  # group → CPU-seconds per second
    rss_mb: dict[str, float] = field(default_factory=dict)
    pss_mb: dict[str, float] = field(default_factory=dict)
    db: dict[str, float] = field(default_factory=dict)
    loadavg: str = ""
    db_connections: int = 0
    max_connections: int = 0

    @property
    def other_cpu(self) -> float:
        """Cores used by processes outside this benchmark (other users of the machine)."""
        return max(0.0, self.machine_busy * (os.cpu_count() or 1) - sum(self.cpu.values()))


def create_strategies(count: int) -> list[Any]:
    from django.contrib.auth import get_user_model

    from accounts.models import ExchangeAccount
    from exchanges.paper.store import DbPaperStore, book_key
    from strategies.models import Strategy

    user = get_user_model().objects.create_user("bench-scale", password="bench-scale-password")
    start = datetime.now(UTC).isoformat()
    strategies = []
    for i in range(count):
        account = ExchangeAccount(owner=user, name=f"paper {i:03d}", exchange="paper", paper_balances={"USDT": "10000"})
        account.full_clean()
        account.save()
        DbPaperStore(book_key(account.pk), account.paper_balances).ensure_feed_spec(
            "BTC/USDT",
            {
                "kind": "random_walk",
                "start_price": "30000",
                "start": start,
                "tick": "0.01",
                "seed": 1000 + i,
                "step_seconds": 1,
                "volatility_pct": "0.05",
            },
        )
        strategy = Strategy(
            owner=user,
            account=account,
            name=f"grid {i:03d}",
            symbol="BTC/USDT",
            grid_levels=5,
            buy_offset_pct=Decimal("0.2"),
            sell_offset_pct=Decimal("0.2"),
            order_size_quote=Decimal("20"),
            loop_interval=Decimal(str(LOOP_INTERVAL)),
        )
        strategy.full_clean()
        strategy.save()
        strategies.append(strategy)
    return strategies


def rq_strategy_workers() -> int:
    from rq import Worker

    from aresbot.redis import get_rq_redis

    return sum("strategies" in w.queue_names() for w in Worker.all(connection=get_rq_redis()))


def workers_at_least(count: int) -> bool:
    return rq_strategy_workers() >= count


def all_fresh(ids: list[int]) -> bool:
    return fresh_count(ids) == len(ids)


def fresh_count(ids: list[int], max_age: float = 3.0) -> int:
    from aresbot.redis import get_redis
    from trading.runtime import coordination as co

    pipe = get_redis().pipeline(transaction=False)
    for sid in ids:
        pipe.hmget(co.RUNNING_KEY.format(id=sid), ["status", "current_price", "updated_at"])
    now = time.time()
    return sum(
        status == "running" and bool(price) and now - float(updated or 0) < max_age
        for status, price, updated in pipe.execute()
    )


def cpu_pressure_us() -> float:
    try:
        for line in Path("/proc/pressure/cpu").read_text().splitlines():
            if line.startswith("some"):
                return float(line.rsplit("total=", 1)[1])
    except (OSError, ValueError, IndexError):
        pass
    return math.nan


def groups(workers: list[Proc], control: Proc, cron: Proc, redis_pid: int) -> dict[str, list[int]]:
    horses = [pid for w in workers for pid in descendants(w.pid)]
    return {
        "work-horses": horses,
        "strategy workers": [w.pid for w in workers],
        "control+cron": [*control.family(), *cron.family()],
        "mariadbd": pids_named("mariadbd", "mysqld"),
        "redis-server": [redis_pid],
        "bench": [os.getpid()],
    }


def parse_ticks(path: Path, ids: set[int], since: float, until: float) -> dict[int, list[float]]:
    """Server time of every tick's status write, per strategy, from a `redis-cli monitor` log."""
    writes: dict[int, list[float]] = defaultdict(list)
    with path.open(errors="replace") as lines:
        for line in lines:
            if '"current_price"' not in line:
                continue
            found = TICK_WRITE.match(line)
            if found is None:
                continue
            at, sid = float(found.group(1)), int(found.group(2))
            if sid in ids and since <= at <= until:
                writes[sid].append(at)
    return writes


def lags_of(writes: list[float], interval: float) -> tuple[list[float], list[float]]:
    """(interval − loop for each pair of successive writes, lateness against the rebuilt schedule)."""
    lags = [b - a - interval for a, b in itertools.pairwise(writes)]
    late = []
    scheduled = writes[0] if writes else 0.0
    for at in writes:
        late.append(max(0.0, at - scheduled))
        scheduled = max(scheduled + interval, at)
    return lags, late[1:]


def measure(
    bench: Bench, count: int, ids: list[int], workers: list[Proc], control: Proc, cron: Proc, seconds: float
) -> Window:
    from aresbot.redis import get_redis
    from trading.runtime import coordination as co

    assert bench.redis.proc is not None
    client = get_redis()
    window = Window(count=count, min_running=count)
    monitor = bench.spawn(f"monitor-{count}", ["redis-cli", "-p", str(bench.redis.port), "monitor"], os.environ.copy())
    time.sleep(0.5)
    pids = groups(workers, control, cron, bench.redis.proc.pid)
    cpu_before = {name: sum(cpu_seconds(p) for p in members) for name, members in pids.items()}
    busy0, total0 = machine_cpu()
    pressure0 = cpu_pressure_us()
    db0 = mysql_status(DB_COUNTERS)
    started = time.time()
    mono0 = time.monotonic()
    while time.monotonic() - mono0 < seconds:
        pipe = client.pipeline(transaction=False)
        for sid in ids:
            pipe.hmget(co.RUNNING_KEY.format(id=sid), ["status", "updated_at"])
        now = time.time()
        answers = pipe.execute()
        window.min_running = min(window.min_running, sum(status == "running" for status, _ in answers))
        ages = [now - float(updated) for _, updated in answers if updated]
        window.max_stale = max([window.max_stale, *ages])
        time.sleep(0.25)
    ended = time.time()
    elapsed = time.monotonic() - mono0
    busy1, total1 = machine_cpu()
    pressure1 = cpu_pressure_us()
    db1 = mysql_status(DB_COUNTERS)
    window.cpu = {
        name: (sum(cpu_seconds(p) for p in members) - cpu_before[name]) / elapsed for name, members in pids.items()
    }
    window.machine_busy = (busy1 - busy0) / max(0.01, total1 - total0)
    window.pressure = (pressure1 - pressure0) / 1e6 / elapsed
    window.db = {name: (db1[name] - db0[name]) / elapsed for name in DB_COUNTERS}
    window.loadavg = f"{os.getloadavg()[0]:.2f}"
    window.db_connections, window.max_connections = mysql_connections(bench.database)
    for name in ("work-horses", "strategy workers"):
        mem = [memory_kb(pid) for pid in pids[name]]
        window.rss_mb[name] = sum(m[0] for m in mem) / 1024
        window.pss_mb[name] = sum(m[1] for m in mem) / 1024
    monitor.stop(timeout=2)
    window.seconds = ended - started
    writes = parse_ticks(monitor.log_path, set(ids), started, ended)
    monitor.log_path.unlink(missing_ok=True)
    for sid in ids:
        times = sorted(writes.get(sid, []))
        if not times:
            window.never_ticked += 1
            continue
        window.ticks += len(times)
        lags, late = lags_of(times, LOOP_INTERVAL)
        window.lags.extend(lags)
        window.late.extend(late)
    return window


def ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{round(value * 1000) + 0:.0f}"


def report(window: Window) -> None:
    n = window.count
    expected = n * window.seconds / LOOP_INTERVAL
    cpu = window.cpu
    horse_ms = cpu.get("work-horses", 0) / max(1e-9, window.ticks / window.seconds) * 1000
    db_ms = cpu.get("mariadbd", 0) / max(1e-9, window.ticks / window.seconds) * 1000
    cpu_rows: list[list[object]] = [[f"CPU {name} (cores)", f"{value:.2f}"] for name, value in cpu.items()]
    cpu_rows.append(["CPU other processes on the machine (cores)", f"{window.other_cpu:.2f}"])
    rows: list[list[object]] = [
        ["strategies (1 s loop), worker processes", f"{n}, {n} workers + {n} work-horses"],
        ["window", f"{window.seconds:.0f} s"],
        ["ticks written / expected", f"{window.ticks} / {expected:.0f} ({window.ticks / max(1, expected):.0%})"],
        ["strategies that never ticked in the window", window.never_ticked],
        [
            "tick lag p50 / p99 / max (interval − 1 s), ms",
            f"{ms(percentile(window.lags, 50))} / "
            f"{ms(percentile(window.lags, 99))} / {ms(max(window.lags, default=math.nan))}",
        ],
        [
            "late vs schedule p50 / p99 / max, ms",
            f"{ms(percentile(window.late, 50))} / "
            f"{ms(percentile(window.late, 99))} / {ms(max(window.late, default=math.nan))}",
        ],
        ["ticks more than 1 s late (interval > 2 s)", f"{sum(lag > 1.0 for lag in window.lags)}"],
        ["running (min seen) / max hash staleness", f"{window.min_running}/{n} / {window.max_stale:.1f} s"],
        ["machine CPU busy (2 cores) / CPU pressure", f"{window.machine_busy:.0%} / {window.pressure:.0%}"],
        ["load average (1 min)", window.loadavg],
        *cpu_rows,
        ["CPU per tick: work-horse / mariadbd, ms", f"{horse_ms:.1f} / {db_ms:.1f}"],
        [
            "RSS workers + horses, MB",
            f"{window.rss_mb['strategy workers']:.0f} + {window.rss_mb['work-horses']:.0f}"
            f" = {sum(window.rss_mb.values()):.0f}",
        ],
        [
            "PSS workers + horses, MB",
            f"{window.pss_mb['strategy workers']:.0f} + {window.pss_mb['work-horses']:.0f}"
            f" = {sum(window.pss_mb.values()):.0f} ({sum(window.pss_mb.values()) / n:.0f} per strategy)",
        ],
        ["DB connections of this database / max_connections", f"{window.db_connections} / {window.max_connections}"],
        ["DB queries/s, commits/s", f"{window.db['Questions']:.0f}, {window.db['Com_commit']:.0f}"],
        [
            "DB row lock waits/s, lock wait ms/s",
            f"{window.db['Innodb_row_lock_waits']:.1f}, {window.db['Innodb_row_lock_time']:.0f}",
        ],
    ]
    print_table(f"N = {n} strategies", ["figure", "value"], rows)


@dataclass
class HostEstimate:
    engines: int
    base_mb: float
    mb_per_engine: float
    cpu_ms_per_tick: float


def engine_host_estimate(ids: list[int]) -> HostEstimate:
    """K engines in this one process (what an engine host would hold): the memory each adds, and the CPU of a
    bare tick. Run after the cluster has stopped, on the same strategies, with a status board in memory."""
    import gc

    import trading.runtime.factory  # noqa: F401 (imports are the per-process cost, not the per-engine one)
    from trading.core.memory import InMemoryStatusBoard
    from trading.runtime.build import build_engine
    from trading.runtime.spec import strategy_source

    gc.collect()
    before = memory_kb(os.getpid())[0]
    engines = []
    for spec in filter(None, map(strategy_source().load, ids)):
        engine = build_engine(spec, status_board=InMemoryStatusBoard())
        engine.start()
        engines.append(engine)
    cpu0 = time.process_time()
    rounds = 3
    for _ in range(rounds):
        for engine in engines:
            engine.tick()
    cpu = time.process_time() - cpu0
    gc.collect()
    after = memory_kb(os.getpid())[0]
    return HostEstimate(
        engines=len(engines),
        base_mb=before / 1024,
        mb_per_engine=(after - before) / 1024 / max(1, len(engines)),
        cpu_ms_per_tick=cpu / (rounds * len(engines)) * 1000,
    )


def verdict(windows: list[Window], host: HostEstimate | None, baseline_connections: int) -> None:
    print("\nWhat limits it:")
    for w in windows:
        p99 = percentile(w.lags, 99)
        ok = not math.isnan(p99) and p99 < 1.0 and w.never_ticked == 0
        print(
            f"  N={w.count}: p99 lag {ms(p99)} ms -> {'meets' if ok else 'MISSES'} p99 < 1 s; machine CPU "
            f"{w.machine_busy:.0%} busy, CPU pressure {w.pressure:.0%}; work-horses {w.cpu.get('work-horses', 0):.2f}"
            f" cores, mariadbd {w.cpu.get('mariadbd', 0):.2f}, redis {w.cpu.get('redis-server', 0):.2f}; "
            f"PSS {sum(w.pss_mb.values()):.0f} MB; {w.db_connections} DB connections; "
            f"row lock waits {w.db['Innodb_row_lock_waits']:.1f}/s"
        )
    last = windows[-1]
    ticks_per_s = last.ticks / last.seconds
    ours = sum(v for k, v in last.cpu.items() if k != "bench")
    cpu_ms = ours / max(1e-9, ticks_per_s) * 1000
    cores = os.cpu_count() or 1
    pss_each = sum(last.pss_mb.values()) / last.count
    conns_each = max(0, last.db_connections - baseline_connections) / last.count
    mem = mem_total_mb()
    by_cpu = cores * 1000 / cpu_ms * LOOP_INTERVAL
    by_mem = mem / pss_each
    by_conn = (last.max_connections - baseline_connections) / max(1e-9, conns_each)
    print(
        f"  Budgets at N={last.count} (1 s loop): CPU {cpu_ms:.1f} ms per tick over all processes (work-horses,"
        f" workers, MariaDB, Redis) -> {cores} cores saturate near {by_cpu:.0f} strategies; memory {pss_each:.0f} MB"
        f" PSS per strategy (a Django worker plus its work-horse, each with its own imports) -> {mem / 1024:.1f} GB"
        f" of RAM (no swap here) is full near {by_mem:.0f} strategies; MariaDB connections {conns_each:.2f} per"
        f" strategy (besides {baseline_connections} for the bench and the control worker) ->"
        f" max_connections={last.max_connections} is reached near {by_conn:.0f} strategies."
    )
    limit = min((by_cpu, "CPU"), (by_mem, "memory"), (by_conn, "MariaDB max_connections"))
    print(
        f"  So the first wall for one work-horse per strategy on this machine is {limit[1]} (~{limit[0]:.0f}"
        " strategies); Redis and DB row locks are far from limiting."
    )
    if host is not None:
        print(
            f"  Engine host estimate: {host.engines} engines built and ticked in one process add"
            f" {host.mb_per_engine:.2f} MB each and cost {host.cpu_ms_per_tick:.1f} ms of CPU per bare tick; so"
            f" K engines per process (each under its own lease, ticks scheduled on one loop, one DB connection per"
            f" host) would hold {last.count} strategies in a few processes of ~{host.base_mb:.0f} MB RSS (this"
            f" process with the engine's modules loaded) + {host.mb_per_engine:.1f} MB per engine instead of"
            f" {pss_each:.0f} MB PSS per strategy, and drop the per-process"
            " stop polls and lease renewals that the work-horses spend CPU on between ticks."
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--counts", default="20,50,100")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--settle", type=float, default=10)
    parser.add_argument("--max-minutes", type=float, default=14)
    parser.add_argument("--no-host-estimate", dest="host_estimate", action="store_false")
    parser.add_argument(
        "--hosts",
        type=int,
        default=0,
        help="run the strategies on this many engine hosts (trading/runtime/host.py) instead of a worker each",
    )
    parser.add_argument(
        "--preload",
        action="store_true",
        help="experiment: workers import the engine's modules (and ccxt) before forking (bench/_preload.py)",
    )
    args = parser.parse_args()
    counts = sorted({int(c) for c in args.counts.split(",") if c.strip()})
    if not counts or counts[0] < 1:
        parser.error("--counts needs positive numbers")

    windows: list[Window] = []
    with Bench("scale", max_seconds=args.max_minutes * 60) as bench:
        from strategies.services import start_strategy

        env = bench.env()
        worker_class = (
            "trading.runtime.host.EngineHostWorker"
            if args.hosts
            else "bench._preload.PreloadStrategyWorker"
            if args.preload
            else "trading.runtime.worker.StrategyWorker"
        )
        strategies = create_strategies(counts[-1])
        control = bench.control_worker("control-worker", env)
        cron = bench.scheduler("rqcron", env)
        workers: list[Proc] = []
        time.sleep(4)  # the control worker connects to the database at its first supervise pass
        baseline_connections = mysql_connections(bench.database)[0]
        for count in counts:
            began = time.monotonic()
            wanted = args.hosts or count
            log(f"--- N={count}: adding {max(0, wanted - len(workers))} strategy workers")
            while len(workers) < wanted:
                name = f"{'engine-host' if args.hosts else 'strategy-worker'}-{len(workers):03d}"
                workers.append(bench.strategy_worker(name, env, worker_class))
            wait_until(partial(workers_at_least, wanted), 240, f"{wanted} RQ strategy workers", 1.0)
            log(f"N={count}: workers up after {time.monotonic() - began:.0f} s; starting strategies")
            for strategy in strategies[:count]:
                if strategy.desired_state != "running":
                    start_strategy(strategy)
                    strategy.desired_state = "running"
            ids = [s.pk for s in strategies[:count]]
            wait_until(partial(all_fresh, ids), 240, f"all {count} strategies to tick", 1.0)
            log(f"N={count}: all ticking after {time.monotonic() - began:.0f} s; settling {args.settle:.0f} s")
            time.sleep(args.settle)
            log(f"N={count}: measuring {args.seconds:.0f} s")
            window = measure(bench, count, ids, workers, control, cron, args.seconds)
            windows.append(window)
            report(window)
        log("stopping the cluster")
        bench.stop_all()
        host = None
        if args.host_estimate:
            log(f"engine host estimate: {len(strategies)} engines in this process")
            host = engine_host_estimate([s.pk for s in strategies])
    print_table(
        "Summary: one RQ work-horse per strategy, 1 s loop, 2 cores",
        [
            "N",
            "ticks/expected",
            "lag p50 ms",
            "lag p99 ms",
            "late p99 ms",
            "CPU busy",
            "horses cores",
            "mariadbd cores",
            "PSS MB",
            "PSS/strategy MB",
        ],
        [
            [
                w.count,
                f"{w.ticks / max(1.0, w.count * w.seconds / LOOP_INTERVAL):.0%}",
                ms(percentile(w.lags, 50)),
                ms(percentile(w.lags, 99)),
                ms(percentile(w.late, 99)),
                f"{w.machine_busy:.0%}",
                f"{w.cpu.get('work-horses', 0):.2f}",
                f"{w.cpu.get('mariadbd', 0):.2f}",
                f"{sum(w.pss_mb.values()):.0f}",
                f"{sum(w.pss_mb.values()) / w.count:.0f}",
            ]
            for w in windows
        ],
    )
    verdict(windows, host, baseline_connections)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
