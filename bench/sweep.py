"""A parameter sweep on this machine's backtest workers: wall time and combinations per second, loading included.

    .venv/bin/python bench/sweep.py [--workers 2] [--runs 3] [--days 365] [--engine mysql|sqlite] [--max-minutes 20]

The data set is bench/backtest.py's synthetic year of 1-minute BTC/USDT candles (a seeded random walk, σ 0.08 % a
minute), its first --days days, stored as an uploaded data set in a scratch database (bench/_harness.py). The sweep
is 100 combinations: grid_levels 5, 10, 15, 20, 25 × buy_offset_pct 0.3, 0.5, 0.7, 1 × sell_offset_pct 0.4, 0.6,
0.8, 1, 1.2 (order size 100 USDT, reprice 1 %, max_positions = levels, 10,000 USDT), made through the same service
as POST /api/sweeps and run as chunks on the `backtests` queue by --workers real `rqworker backtests` processes
(trading.runtime.worker.BacktestWorker, one work-horse per chunk, as `manage.py runworker` starts them). Each run
times from the sweep's creation to its last chunk marking it done. Before the runs, one combination's backtest is
timed in this process (loading apart), which says what one combination costs and extrapolates to 1,000.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil

from bench._harness import PYTHON, Bench, log, machine_cpu, print_table
from bench.backtest import synthetic_year

GRID: dict[str, list[Any]] = {
    "grid_levels": [5, 10, 15, 20, 25],
    "buy_offset_pct": ["0.3", "0.5", "0.7", "1"],
    "sell_offset_pct": ["0.4", "0.6", "0.8", "1", "1.2"],
}
BASE = {
    "symbol": "BTC/USDT",
    "grid_levels": 20,
    "buy_offset_pct": "0.5",
    "sell_offset_pct": "0.6",
    "order_size_quote": "100",
    "reprice_threshold_pct": "1",
    "max_positions": 25,
}


def workers_cpu(pids: list[int]) -> float:
    """CPU seconds of the worker processes and of the work-horses they forked and reaped (one per chunk)."""
    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--engine", choices=("mysql", "sqlite"), default="mysql")
    parser.add_argument("--max-minutes", type=float, default=20)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="aresbot-bench-sweep-data-") as data_dir:
        paths = synthetic_year(Path(data_dir))
        raw = b"".join(p.read_bytes() for p in paths)
        lines = raw.splitlines(keepends=True)[: args.days * 1440]
        data = b"".join(lines)
    bench = Bench("sweep", max_seconds=args.max_minutes * 60, engine=args.engine)
    # One cache folder for this process and the workers, as on one node: the first load parses and writes it.
    bench.env_extra["BACKTEST_CACHE_DIR"] = str(bench.tmp / "backtest-cache")
    with bench:
        from django.contrib.auth import get_user_model
        from rest_framework.renderers import JSONRenderer

        from exchanges.paper.series import parse_series
        from strategies.api.sweeps import SweepDetailSerializer
        from trading.backtest import prepare_series, run_backtest
        from trading.backtests.datasets import create_uploaded_dataset, forget_cached, load_dataset
        from trading.backtests.models import BacktestStatus
        from trading.backtests.params import backtest_options, engine_config, market
        from trading.sweep import SweepGrid, expand
        from trading.sweeps import services
        from trading.sweeps.models import Sweep, SweepResult
        from trading.sweeps.services import create_sweep

        owner = get_user_model().objects.create_user("bench", password=None)
        series = parse_series("synthetic.csv", data)
        dataset = create_uploaded_dataset(owner, "synthetic", series, symbol="BTC/USDT", size_bytes=len(data))
        grid = SweepGrid.from_json(GRID)
        combinations = expand(grid, engine_config(BASE), 10_000)

        # One combination alone, in this process: the cost of a run and of loading, apart.
        forget_cached()
        started = time.perf_counter()
        load_dataset(dataset.pk)  # from the database, parsed, written to the node's cache
        first_load = time.perf_counter() - started
        forget_cached()
        started = time.perf_counter()
        loaded = load_dataset(dataset.pk)  # from the node's cache, as every chunk after the first
        load_seconds = time.perf_counter() - started
        prepared = prepare_series(loaded)
        singles = []
        for combination in (combinations[0], combinations[len(combinations) // 2], combinations[-1]):
            started = time.process_time()
            run_backtest(prepared, combination.config(engine_config(BASE)), market(BASE, {}), backtest_options({}))
            singles.append(time.process_time() - started)
        log(f"one combination alone: {', '.join(f'{s:.2f}' for s in singles)} CPU s; loading {load_seconds:.2f} s")

        env = bench.env()
        workers = [
            bench.spawn(
                f"backtest-worker-{n}",
                [
                    PYTHON,
                    "manage.py",
                    "rqworker",
                    "backtests",
                    "--worker-class",
                    "trading.runtime.worker.BacktestWorker",
                ],
                env,
            )
            for n in range(args.workers)
        ]
        time.sleep(3)  # the workers' start-up (Django, imports) is not the sweep's
        walls: list[float] = []
        loads: list[float] = []
        workers_used: list[int] = []
        cpus: list[float] = []
        for run in range(args.runs):
            busy_before, total_before = machine_cpu()
            load_before = os.getloadavg()[0]
            cpu_before = workers_cpu([w.pid for w in workers])
            started = time.perf_counter()
            sweep = create_sweep(
                owner=owner,
                parameters=BASE,
                grid=grid,
                combinations=len(combinations),
                options={},
                dataset=dataset,
                sample="",
                dataset_info={},
            )
            while True:
                sweep.refresh_from_db()
                if sweep.status not in (BacktestStatus.QUEUED.value, BacktestStatus.RUNNING.value):
                    break
                time.sleep(0.05)
            wall = time.perf_counter() - started
            if sweep.status != BacktestStatus.DONE.value:
                raise SystemExit(f"the sweep ended {sweep.status}: {sweep.error}")
            busy_after, total_after = machine_cpu()
            cpus.append(workers_cpu([w.pid for w in workers]) - cpu_before)
            walls.append(wall)
            loads.append(max(load_before, os.getloadavg()[0]))
            used = SweepResult.objects.filter(sweep=sweep).values_list("worker", flat=True).distinct().count()
            workers_used.append(used)
            log(
                f"run {run + 1}: {wall:.2f} s, {len(combinations) / wall:.2f} combinations/s, {sweep.chunks} chunks of "
                f"{sweep.chunk_size} on {used} workers, {cpus[-1]:.1f} CPU s in the workers; machine busy "
                f"{(busy_after - busy_before) / max(total_after - total_before, 1e-9):.0%}"
            )
            if run < args.runs - 1:
                Sweep.objects.filter(pk=sweep.pk).delete()

        # Reading a sweep of 5,000 combinations: the last sweep's rows copied 50 times over, read and ranked as
        # GET /api/sweeps/{id} does (its serializer and JSON renderer, without the HTTP round trip).
        rows = list(SweepResult.objects.filter(sweep=sweep).values_list("figures", flat=True))
        big = Sweep.objects.create(
            owner=owner, parameters=BASE, grid=GRID, combinations=50 * len(rows), chunk_size=20, status="done"
        )
        SweepResult.objects.bulk_create(
            (
                SweepResult(sweep=big, index=i, chunk=i // 20, figures=rows[i % len(rows)])
                for i in range(50 * len(rows))
            ),
            batch_size=1000,
        )
        reads: dict[str, list[float]] = {}
        for order in ("total_pnl", "max_drawdown", "pnl_per_drawdown"):
            for _ in range(5):
                started = time.perf_counter()
                detail = SweepDetailSerializer(big, context={"results": services.results(big, order)}).data
                JSONRenderer().render(detail)
                reads.setdefault(order, []).append(time.perf_counter() - started)

        median = statistics.median(walls)
        single = statistics.median(singles)
        per_combination = statistics.median(cpus) / len(combinations)
        print_table(
            f"sweep of {len(combinations)} combinations over {len(series):,} 1-minute candles ({args.days} days), "
            f"{args.workers} backtest workers, {args.engine} ({args.runs} runs; load average up to "
            f"{max(loads):.1f} on {os.cpu_count()} cores)",
            ["figure", "median", "min", "max"],
            [
                ["wall time (s)", f"{median:.2f}", f"{min(walls):.2f}", f"{max(walls):.2f}"],
                [
                    "combinations/s",
                    f"{len(combinations) / median:.2f}",
                    f"{len(combinations) / max(walls):.2f}",
                    f"{len(combinations) / min(walls):.2f}",
                ],
                ["workers that ran chunks", statistics.median(workers_used), min(workers_used), max(workers_used)],
            ],
        )
        print_table(
            "per combination",
            ["figure", "value"],
            [
                ["one backtest alone, in process, median of 3 (CPU s)", f"{single:.2f}"],
                ["loading the data set from the database, the first time on a node (s)", f"{first_load:.2f}"],
                ["loading it from the node's cache, once per chunk (s)", f"{load_seconds:.2f}"],
                ["worker CPU seconds per combination in the sweep (work-horses included)", f"{per_combination:.2f}"],
                *[
                    [
                        f"reading and ranking 5,000 results by {order}, median of 5 (ms)",
                        f"{statistics.median(t) * 1000:.0f}",
                    ]
                    for order, t in reads.items()
                ],
                [
                    "1,000 combinations × a year at the rate measured here (min)",
                    f"{1000 / (len(combinations) / median) * 365 / args.days / 60:.1f}",
                ],
                [
                    f"1,000 combinations × a year on {args.workers} idle cores (extrapolated from the CPU s, min)",
                    f"{1000 * per_combination * 365 / args.days / args.workers / 60:.1f}",
                ],
            ],
        )


if __name__ == "__main__":
    main()
