"""Latency of `GET /api/trades/stats` and the PnL series (`GET /api/trades/pnl`) over 100,000 fills, on SQLite and
on MariaDB.

    .venv/bin/python bench/trades_stats.py [--fills 100000] [--requests 60] [--engines sqlite,mysql] [--clients 20]

For each database: a scratch database (a SQLite file, or a MariaDB database `aresbot_bench_stats`), migrated; a
private redis-server; the app under gunicorn (2 sync workers: the machine has 2 cores, DEBUG off, TIME_ZONE
Europe/Berlin, so the local days cross summer-time changes). One user has `--fills` fills on 10 strategies (7
quoted in USDT, 3 in BTC): round trips of a buy and its sell a little later, each closing a position, spread over
400 days; every 20th buy is still open. Another user has a tenth as many, never counted. Rows are written with
bulk inserts, as the engine's journal writes them (orders, fills, positions).

The scheduler's two tally passes (trading/tally.py) run after the seeding, as they would within two minutes.
Each endpoint is asked `--requests` times by one client (after a warm-up of every gunicorn worker): p50 and p95 of
the answer time, every answer checked (200, and the stats count all the user's fills). Then `--clients` clients
ask for the stats at once, as the earlier figure was taken (a closed loop of 20 clients). The clients run on the
same 2 cores as the server; the table says how busy the machine was.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import PYTHON, Bench, log, machine_cpu, percentile, print_table
from tests.processes import free_port, wait_until

GOAL_MS = 100.0
STRATEGIES = [
    *(("BTC/USDT", "30000"), ("ETH/USDT", "2000"), ("SOL/USDT", "100"), ("BNB/USDT", "300")),
    *(("XRP/USDT", "0.5"), ("ADA/USDT", "0.4"), ("DOGE/USDT", "0.1")),
    *(("ETH/BTC", "0.06"), ("BNB/BTC", "0.01"), ("SOL/BTC", "0.003")),
]


@dataclass
class Seeded:
    token: str
    fills: int  # the user's
    strategy: int  # one of the user's strategies
    since: str  # 30 days before the last trade


@dataclass
class Result:
    label: str
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    machine_busy: float = 0.0


def seed(fills: int) -> Seeded:
    """The rows, written in bulk with explicit ids (so no insert has to hand its ids back)."""
    from django.contrib.auth import get_user_model

    from accounts.models import ApiToken, ExchangeAccount
    from strategies.models import Strategy
    from trading.models import Fill, Order, Position

    users = get_user_model().objects
    owner = users.create_user("bench-stats", password="bench-stats-password")
    other = users.create_user("bench-stats-other", password="bench-stats-other-password")
    end = datetime.now(UTC).replace(microsecond=0)
    start = end - timedelta(days=400)
    ids = {"order": 0, "fill": 0, "position": 0}
    mine: list[int] = []

    def strategies_of(user: Any, count: int) -> list[tuple[int, str, Decimal]]:
        account = ExchangeAccount(owner=user, name="paper", exchange="paper", paper_balances={"USDT": "1000000"})
        account.save()
        made = []
        for i in range(count):
            symbol, price = STRATEGIES[i % len(STRATEGIES)]
            strategy = Strategy.objects.create(owner=user, account=account, name=f"grid {i}", symbol=symbol)
            made.append((strategy.pk, symbol, Decimal(price)))
        return made

    def trades(strategies: list[tuple[int, str, Decimal]], count: int) -> None:
        orders: list[Order] = []
        fills_made: list[Fill] = []
        positions: list[Position] = []
        trips = count // 2
        step = (end - start) / max(trips, 1)
        for n in range(trips):
            sid, symbol, price = strategies[n % len(strategies)]
            quote_ccy = symbol.split("/")[1]
            bought = start + step * n
            buy_price = price * (1 + Decimal((n % 17) - 8) / 1000)
            amount = (Decimal(20) / buy_price).quantize(Decimal("0.00001")) if quote_ccy == "USDT" else Decimal(1)
            closes = n % 20 != 19
            sell_price = buy_price * Decimal("1.01") if n % 5 else buy_price * Decimal("0.98")
            sold = bought + timedelta(minutes=30 + n % 600)
            legs = [("buy", buy_price, bought)] + ([("sell", sell_price, sold)] if closes else [])
            made: list[tuple[Order, Decimal]] = []
            for side, raw_price, at in legs:
                ids["order"] += 1
                ids["fill"] += 1
                at_price = raw_price.quantize(Decimal("1e-8"))
                fee = (at_price * amount * Decimal("0.001")).quantize(Decimal("1e-8"))
                order = Order(
                    id=ids["order"],
                    strategy_id=sid,
                    client_order_id=f"ab{sid}-{ids['order']}",
                    symbol=symbol,
                    side=side,
                    role="grid_buy" if side == "buy" else "take_profit",
                    price=at_price,
                    amount=amount,
                    filled=amount,
                    cost=at_price * amount,
                    fee=fee,
                    fee_currency=quote_ccy,
                    status="filled",
                    closed_at=at,
                )
                orders.append(order)
                fills_made.append(
                    Fill(
                        id=ids["fill"],
                        order_id=order.id,
                        strategy_id=sid,
                        side=side,
                        trade_id=f"t{ids['fill']}",
                        price=at_price,
                        amount=amount,
                        fee=fee,
                        fee_currency=quote_ccy,
                        executed_at=at,
                    )
                )
                made.append((order, at_price))
            ids["position"] += 1
            (entry, entry_price), exit_leg = made[0], made[1] if closes else None
            entry_fee = entry.fee
            exit_fee = exit_leg[0].fee if exit_leg else Decimal(0)
            pnl = (sell_price - buy_price) * amount - entry_fee - exit_fee if closes else None
            positions.append(
                Position(
                    id=ids["position"],
                    strategy_id=sid,
                    entry_order_id=entry.id,
                    exit_order_id=exit_leg[0].id if exit_leg else None,
                    quantity=amount,
                    entry_price=entry_price,
                    entry_cost=entry_price * amount,
                    entry_fee_quote=entry_fee,
                    opened_at=bought,
                    closed_at=sold if closes else None,
                    sold_quantity=amount if closes else Decimal(0),
                    exit_price=exit_leg[1] if exit_leg else None,
                    exit_proceeds=exit_leg[1] * amount if exit_leg else Decimal(0),
                    exit_fee_quote=exit_fee,
                    realized_pnl=pnl.quantize(Decimal("1e-12")) if pnl is not None else None,
                    exit_reason=("take_profit" if n % 5 else "stop_loss") if closes else "",
                )
            )
        Order.objects.bulk_create(orders, batch_size=2000)
        Fill.objects.bulk_create(fills_made, batch_size=2000)
        Position.objects.bulk_create(positions, batch_size=2000)

    strategies = strategies_of(owner, 10)
    mine = [sid for sid, _, _ in strategies]
    trades(strategies, fills)
    user_fills = Fill.objects.filter(strategy_id__in=mine).count()
    trades(strategies_of(other, 2), fills // 10)
    last = Fill.objects.filter(strategy_id__in=mine).order_by("-executed_at").values_list("executed_at", flat=True)[0]
    _, raw = ApiToken.objects.issue(owner, "bench")
    return Seeded(raw, user_fills, mine[0], (last - timedelta(days=30)).isoformat())


def get(port: int, token: str, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", path, headers={"Authorization": f"Token {token}", "Accept": "application/json"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def check(path: str, status: int, body: bytes, seeded: Seeded) -> str | None:
    if status != 200:
        return f"HTTP {status}: {body[:160]!r}"
    data = json.loads(body)
    if path == "/api/trades/stats" and data["count"] != seeded.fills:
        return f"count {data['count']}, expected {seeded.fills}"
    return None


def load(port: int, seeded: Seeded, path: str, requests: int, clients: int, label: str) -> Result:
    result = Result(label)
    lock = threading.Lock()
    remaining = [requests]

    def client() -> None:
        while True:
            with lock:
                if remaining[0] <= 0:
                    return
                remaining[0] -= 1
            began = time.perf_counter()
            try:
                status, body = get(port, seeded.token, path)
                elapsed = time.perf_counter() - began
                error = check(path, status, body, seeded)
            except (OSError, http.client.HTTPException, ValueError) as exc:
                elapsed, error = time.perf_counter() - began, f"{type(exc).__name__}: {exc}"
            with lock:
                result.latencies.append(elapsed)
                if error:
                    result.errors.append(error)

    busy0, total0 = machine_cpu()
    began = time.monotonic()
    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = time.monotonic() - began
    busy1, total1 = machine_cpu()
    result.machine_busy = (busy1 - busy0) / max(0.01, total1 - total0)
    return result


def run(engine: str, args: argparse.Namespace) -> list[Result]:
    results: list[Result] = []
    bench = Bench(f"stats_{engine}", max_seconds=args.max_minutes * 60, engine=engine)
    bench.env_extra["TIME_ZONE"] = "Europe/Berlin"
    with bench:
        started = time.monotonic()
        seeded = seed(args.fills)
        log(f"{engine}: {seeded.fills} fills of the user seeded in {time.monotonic() - started:.0f} s")
        # The scheduler's tally passes, as they run a minute apart: the first notes where the fills end, the second
        # seals them; the statistics then read the daily tallies and the fills above the watermark.
        from trading import tally

        started = time.monotonic()
        tally.seal()
        sealed = tally.seal()
        log(f"{engine}: {sealed.groups} daily tallies made in {time.monotonic() - started:.1f} s")
        port = free_port()
        gunicorn = str(Path(PYTHON).parent / "gunicorn")
        command = [gunicorn, "aresbot.wsgi:application", "--workers", "2", "--bind", f"127.0.0.1:{port}"]
        bench.spawn("gunicorn", [*command, "--timeout", "120", "--log-level", "warning"], bench.env())
        wait_until(lambda: _answers(port, seeded), 60, "gunicorn to answer", 0.2)
        paths = [
            ("stats", "/api/trades/stats"),
            ("stats, one strategy", f"/api/trades/stats?strategy={seeded.strategy}"),
            ("stats, last 30 days", f"/api/trades/stats?since={quote(seeded.since)}"),
            ("PnL per day", "/api/trades/pnl"),
            ("PnL per hour, last 30 days", f"/api/trades/pnl?bucket=hour&since={quote(seeded.since)}"),
            ("trades, first page", "/api/trades"),
        ]
        paths = [(label, path) for label, path in paths if not args.only or path.split("?")[0] in args.only]
        for label, path in paths:
            load(port, seeded, path, 6, 2, "warm-up")  # both workers: connections, imports, the database's caches
            results.append(load(port, seeded, path, args.requests, 1, f"{engine}: {label}"))
        if args.clients > 1:
            results.append(
                load(
                    port,
                    seeded,
                    "/api/trades/stats",
                    args.requests * 2,
                    args.clients,
                    f"{engine}: stats, {args.clients} clients at once",
                )
            )
    return results


def _answers(port: int, seeded: Seeded) -> bool:
    try:
        return get(port, seeded.token, "/api/trades?page_size=1")[0] == 200
    except OSError:
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fills", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=60, help="requests per endpoint, one client")
    parser.add_argument("--clients", type=int, default=20, help="clients of the concurrent pass (1: none)")
    parser.add_argument("--engines", default="sqlite,mysql")
    parser.add_argument("--only", default="", help="comma-separated paths to measure (e.g. /api/trades/stats)")
    parser.add_argument("--max-minutes", type=float, default=20)
    args = parser.parse_args()
    args.only = [p for p in args.only.split(",") if p]
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if len(engines) > 1:
        # Django is set up once per process, on one database: each engine runs in a process of its own.
        import subprocess

        others, skip = [], False
        for arg in sys.argv[1:]:
            if skip or arg.startswith("--engines"):
                skip = arg == "--engines"  # its value is the next argument
                continue
            others.append(arg)
        codes = [subprocess.call([sys.executable, __file__, *others, f"--engines={e}"]) for e in engines]
        return max(codes)
    results: list[Result] = []
    for engine in engines:
        results += run(engine, args)
    print_table(
        f"Trade statistics and PnL series over {args.fills:,} fills "
        "(gunicorn, 2 sync workers, TIME_ZONE Europe/Berlin)",
        ["endpoint", "requests", "ok", "p50 ms", "p95 ms", "max ms", "CPU busy"],
        [
            [
                r.label,
                len(r.latencies),
                len(r.latencies) - len(r.errors),
                f"{percentile(r.latencies, 50) * 1000:.1f}",
                f"{percentile(r.latencies, 95) * 1000:.1f}",
                f"{max(r.latencies) * 1000:.1f}",
                f"{r.machine_busy:.0%}",
            ]
            for r in results
        ],
    )
    for result in results:
        for error in sorted(set(result.errors))[:3]:
            print(f"  error ({result.label}): {error}")
    single = [r for r in results if "clients at once" not in r.label]
    met = all(percentile(r.latencies, 50) * 1000 < GOAL_MS for r in single)
    print(f"\nGoal: p50 under {GOAL_MS:.0f} ms for each endpoint with one client: {'met' if met else 'NOT met'}.")
    return 0 if not any(r.errors for r in results) else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
