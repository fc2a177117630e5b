"""Latency of `GET /api/strategies/running` for a user with 100 running strategies, 20 concurrent clients.

    .venv/bin/python bench/api_running.py [--requests 5000] [--clients 20] [--strategies 100] [--workers 4]

The app runs under gunicorn (`gunicorn aresbot.wsgi:application --workers 4`, sync workers, DEBUG off) on a free
loopback port, on a scratch MariaDB database and a private redis-server. The user has 100 strategies whose
desired_state is running (set in the database directly, so no run job is queued), each with a lease and a
realistic `strategy:running:{id}` hash written through `trading.runtime.coordination` (Lease.acquire + write_status):
no engine runs, because the endpoint only reads the rows and the hashes; an engine would only change the values.
The same user also has 20 stopped strategies without a hash (filtered out), and another user 50 running ones
(never shown), so the owner filter and the running filter both do work. Authentication is an API token
(`Authorization: Token …`), as a script would use.

Each client is a thread that opens a connection per request (gunicorn's sync workers close it after each
response) and checks every answer: status 200 and exactly the user's 100 running strategies. After a warm-up
(every gunicorn worker has its database and Redis connections), a sequential pass (1 client) gives the service
time, then the clients share a fixed number of requests. The client threads run on the same 2 cores as the
server; their CPU share is printed.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import resource
import sys
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import (
    PYTHON,
    Bench,
    cpu_seconds,
    log,
    machine_cpu,
    percentile,
    pids_named,
    print_table,
)
from tests.processes import free_port, wait_until

PATH = "/api/strategies/running"
GOAL_P99_MS = 50.0


@dataclass
class Result:
    label: str
    clients: int
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    machine_busy: float = 0.0
    client_cpu: float = 0.0  # cores used by this process (the client threads)
    server_cpu: float = 0.0  # cores used by the gunicorn processes
    db_cpu: float = 0.0
    redis_cpu: float = 0.0

    @property
    def other_cpu(self) -> float:
        """Cores used by processes outside this benchmark (other users of the machine)."""
        ours = self.server_cpu + self.client_cpu + self.db_cpu + self.redis_cpu
        return max(0.0, self.machine_busy * (os.cpu_count() or 1) - ours)


def seed(count: int) -> tuple[str, set[int]]:
    """The user, their strategies and status hashes; returns the raw API token and the ids the API must list."""
    from django.contrib.auth import get_user_model

    from accounts.models import ApiToken, ExchangeAccount
    from aresbot.redis import get_redis
    from strategies.models import Strategy
    from trading.runtime import coordination as co

    users = get_user_model().objects
    alice = users.create_user("bench-api", password="bench-api-password")
    bob = users.create_user("bench-api-other", password="bench-api-other-password")
    client = get_redis()
    expected: set[int] = set()
    started = time.time() - 3600
    for owner, running, stopped in ((alice, count, 20), (bob, 50, 0)):
        accounts = []
        for i in range(10):
            account = ExchangeAccount(
                owner=owner, name=f"paper {i}", exchange="paper", paper_balances={"USDT": "10000"}
            )
            account.full_clean()
            account.save()
            accounts.append(account)
        for i in range(running + stopped):
            strategy = Strategy(
                owner=owner,
                account=accounts[i % len(accounts)],
                name=f"grid {i:03d}",
                symbol=("BTC/USDT", "ETH/USDT", "SOL/USDT")[i % 3],
                grid_levels=5,
                buy_offset_pct=Decimal("0.5"),
                sell_offset_pct=Decimal("0.5"),
                order_size_quote=Decimal("20"),
            )
            strategy.full_clean()
            strategy.save()
            if i >= running:
                continue
            Strategy.objects.filter(pk=strategy.pk).update(desired_state="running")
            holder = f"strategy-{strategy.pk}-{os.urandom(6).hex()}"
            lease = co.Lease(client, strategy.pk, holder, ttl_seconds=3600, status_ttl=3600)
            lease.acquire()
            node = i % 4
            lease.write_status(
                {
                    "task_id": holder,
                    "worker_ip": f"10.0.0.{11 + node}",
                    "worker_hostname": f"aresbot-worker-{node}",
                    "status": "running",
                    "started_at": f"{started + i:.3f}",
                    "current_price": f"{30000 + i * 1.37:.2f}",
                    "pending_buys": 5,
                    "pending_sells": i % 4,
                    "position_count": i % 4,
                    "last_error": "" if i % 10 else "insufficient balance for level 5",
                },
                ttl_seconds=3600,
            )
            if owner == alice:
                expected.add(strategy.pk)
    _, raw = ApiToken.objects.issue(alice, "bench")
    return raw, expected


def get(port: int, token: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", PATH, headers={"Authorization": f"Token {token}", "Accept": "application/json"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def check(status: int, body: bytes, expected: set[int]) -> str | None:
    if status != 200:
        return f"HTTP {status}: {body[:120]!r}"
    rows = json.loads(body)
    ids = {row["id"] for row in rows}
    if len(rows) != len(expected) or ids != expected:
        return f"{len(rows)} rows, expected {len(expected)}"
    if not all(row["running"] and row["status"]["task_id"] for row in rows):
        return "a row is not shown as running"
    return None


def load(
    port: int,
    token: str,
    expected: set[int],
    clients: int,
    requests: int,
    label: str,
    gunicorn_pids: list[int],
    redis_pid: int,
    poll_every: float = 0.0,
) -> Result:
    """`requests` in all, each client sending its next request as soon as it has the last answer (a closed loop);
    or, with `poll_every`, each client sending one request every `poll_every` s (as a dashboard polls), until
    `requests` have been sent."""
    result = Result(label=label, clients=clients)
    lock = threading.Lock()
    remaining = [requests]
    start = time.monotonic()

    def client(index: int) -> None:
        next_at = start + poll_every * index / clients
        while True:
            if poll_every:
                time.sleep(max(0.0, next_at - time.monotonic()))
                next_at = max(next_at + poll_every, time.monotonic())
            with lock:
                if remaining[0] <= 0:
                    return
                remaining[0] -= 1
            began = time.perf_counter()
            try:
                status, body = get(port, token)
                elapsed = time.perf_counter() - began
                error = check(status, body, expected)
            except (OSError, http.client.HTTPException, ValueError) as exc:
                elapsed, error = time.perf_counter() - began, f"{type(exc).__name__}: {exc}"
            with lock:
                result.latencies.append(elapsed)
                if error:
                    result.errors.append(error)

    servers = [*gunicorn_pids]
    db_pids = pids_named("mariadbd", "mysqld")
    redis_pids = [redis_pid]
    server0 = sum(cpu_seconds(p) for p in servers)
    db0 = sum(cpu_seconds(p) for p in db_pids)
    redis0 = sum(cpu_seconds(p) for p in redis_pids)
    self0 = resource.getrusage(resource.RUSAGE_SELF)
    busy0, total0 = machine_cpu()
    began = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,), name=f"client-{i}", daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = time.monotonic() - began
    self1 = resource.getrusage(resource.RUSAGE_SELF)
    busy1, total1 = machine_cpu()
    result.machine_busy = (busy1 - busy0) / max(0.01, total1 - total0)
    result.client_cpu = (self1.ru_utime + self1.ru_stime - self0.ru_utime - self0.ru_stime) / result.seconds
    result.server_cpu = (sum(cpu_seconds(p) for p in servers) - server0) / result.seconds
    result.db_cpu = (sum(cpu_seconds(p) for p in db_pids) - db0) / result.seconds
    result.redis_cpu = (sum(cpu_seconds(p) for p in redis_pids) - redis0) / result.seconds
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--strategies", type=int, default=100)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn --workers")
    parser.add_argument("--sequential", type=int, default=300, help="requests of the 1-client pass")
    parser.add_argument("--poll-every", type=float, default=1.0, help="seconds between a polling client's requests")
    parser.add_argument("--poll-seconds", type=float, default=20, help="length of the polling pass (0: none)")
    parser.add_argument("--max-minutes", type=float, default=10)
    args = parser.parse_args()

    results: list[Result] = []
    with Bench("api", max_seconds=args.max_minutes * 60) as bench:
        token, expected = seed(args.strategies)
        port = free_port()
        gunicorn = str(Path(PYTHON).parent / "gunicorn")
        server = bench.spawn(
            "gunicorn",
            [
                *(gunicorn, "aresbot.wsgi:application", "--workers", str(args.workers), "--bind", f"127.0.0.1:{port}"),
                *("--graceful-timeout", "5", "--log-level", "warning"),
            ],
            bench.env(),
        )

        def answers() -> bool:
            try:
                return get(port, token)[0] == 200
            except OSError:
                return False

        wait_until(answers, 60, "gunicorn to answer", 0.2)
        pids = server.family()
        assert bench.redis.proc is not None
        redis_pid = bench.redis.proc.pid
        log(f"gunicorn up: {len(pids)} processes; warming up")
        warm = load(port, token, expected, args.clients, max(200, 20 * args.workers), "warm-up", pids, redis_pid)
        if warm.errors:
            raise RuntimeError(f"warm-up failed: {warm.errors[0]}")
        results.append(load(port, token, expected, 1, args.sequential, "1 client (service time)", pids, redis_pid))
        log(f"{args.clients} clients, {args.requests} requests")
        results.append(
            load(
                port,
                token,
                expected,
                args.clients,
                args.requests,
                f"{args.clients} clients, closed loop",
                pids,
                redis_pid,
            )
        )
        if args.poll_seconds > 0:
            polls = int(args.clients * args.poll_seconds / args.poll_every)
            log(f"{args.clients} clients polling every {args.poll_every:g} s, {polls} requests")
            label = f"{args.clients} clients, 1 req per {args.poll_every:g} s each"
            results.append(load(port, token, expected, args.clients, polls, label, pids, redis_pid, args.poll_every))
        rows_seen = len(expected)

    print_table(
        f"GET {PATH}: {rows_seen} running strategies, gunicorn --workers {args.workers} (sync), MariaDB, Redis",
        [
            "load",
            "requests",
            "ok",
            "req/s",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "max ms",
            "CPU busy",
            "gunicorn cores",
            "client cores",
            "mariadbd cores",
            "others' cores",
        ],
        [
            [
                r.label,
                len(r.latencies),
                len(r.latencies) - len(r.errors),
                f"{len(r.latencies) / r.seconds:.0f}",
                f"{percentile(r.latencies, 50) * 1000:.1f}",
                f"{percentile(r.latencies, 90) * 1000:.1f}",
                f"{percentile(r.latencies, 99) * 1000:.1f}",
                f"{max(r.latencies) * 1000:.1f}",
                f"{r.machine_busy:.0%}",
                f"{r.server_cpu:.2f}",
                f"{r.client_cpu:.2f}",
                f"{r.db_cpu:.2f}",
                f"{r.other_cpu:.2f}",
            ]
            for r in results
        ],
    )
    for result in results:
        for error in sorted(set(result.errors))[:5]:
            print(f"  error ({result.label}): {error}")
    print()
    for result in results[1:]:
        p99 = percentile(result.latencies, 99) * 1000
        print(
            f"Goal p99 < {GOAL_P99_MS:.0f} ms, {result.label}: {'met' if p99 < GOAL_P99_MS else 'NOT met'}"
            f" ({p99:.1f} ms); every response 200 with {rows_seen} rows: {'yes' if not result.errors else 'NO'}."
        )
    closed = results[1]
    throughput = len(closed.latencies) / closed.seconds
    cpu_ms = (closed.server_cpu + closed.client_cpu + closed.db_cpu + closed.redis_cpu) / throughput * 1000
    cores = os.cpu_count() or 1
    print(
        f"A closed loop of {closed.clients} clients keeps {closed.clients} requests in the system, so its mean latency"
        f" is {closed.clients} / throughput (Little's law): {closed.clients} / {throughput:.0f} req/s ="
        f" {closed.clients / throughput * 1000:.0f} ms. Each request cost {cpu_ms:.1f} ms of CPU (gunicorn + client +"
        f" MariaDB + Redis); on {cores} cores a mean under {GOAL_P99_MS:.0f} ms at {closed.clients} clients needs"
        f" at most {GOAL_P99_MS * cores / closed.clients:.1f} ms, a p99 under it less still."
    )
    return 0 if not any(r.errors for r in results) else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
