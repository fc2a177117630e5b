"""An engine host in the test process: its rounds' Redis round trips do not grow with its engines, a hung engine is
dropped alone while the others tick, and a host that loses Redis fences all its engines. Real paper strategies in
the test database, real Redis; the host's threads are the ones a worker runs."""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from exchanges.paper.store import DbPaperStore, book_key
from strategies.models import Strategy
from tests.processes import RedisServer, wait_until
from tests.runtime.threaded import book_orders, still_strategy
from tests.test_metrics import value
from trading.runtime import coordination as co
from trading.runtime import runner as runtime
from trading.runtime.host import EngineHost, HostedEngine, Phase, limit_keys
from trading.runtime.spec import strategy_source

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def hosts() -> Iterator[Callable[..., tuple[EngineHost, list[HostedEngine]]]]:
    made: list[EngineHost] = []

    def make(client: redis.Redis, **kwargs: Any) -> tuple[EngineHost, list[HostedEngine]]:
        ended: list[HostedEngine] = []
        values: dict[str, Any] = {"capacity": 100, "threads": 4, "poll_interval": 0.1}
        values.update(kwargs)
        host = EngineHost(client, finished=ended.append, **values)
        made.append(host)
        return host, ended

    yield make
    for host in made:
        host.close(grace=20)


def all_running(host: EngineHost, count: int) -> bool:
    engines = list(host.engines.values())
    return len(engines) == count and all(e.phase is Phase.RUNNING for e in engines)


class RoundTrips:
    """Counts what one thread sends to Redis: one count per packet (a pipeline is one, whatever its length)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.thread: int | None = None
        self.sent = 0
        original = redis.connection.AbstractConnection.send_packed_command
        counter = self

        def send(conn: Any, command: Any, check_health: bool = True) -> None:
            if threading.get_ident() == counter.thread:
                counter.sent += 1
            original(conn, command, check_health)

        monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", send)

    def of(self, action: Callable[[], object]) -> int:
        self.thread, self.sent = threading.get_ident(), 0
        try:
            action()
        finally:
            self.thread = None
        return self.sent


def test_a_rounds_round_trips_do_not_grow_with_its_engines(alice, redis_client, hosts, monkeypatch):
    trips = RoundTrips(monkeypatch)
    per_round: dict[int, int] = {}
    for count in (2, 12):
        host, _ = hosts(redis_client)  # its rounds are run here, by the test, not by its own thread
        strategies = [still_strategy(alice, f"paper {count}-{n}", name=f"grid {count}-{n}") for n in range(count)]
        for strategy in strategies:
            host.admit(strategy.pk, f"job-{strategy.pk}")
        wait_until(lambda: all_running(host, count), 30, f"{count} engines to start")  # noqa: B023
        host.round()  # the first round also beats the node's heartbeat
        ticks = value("aresbot_ticks_total")
        rounds = []
        for _ in range(3):
            # A round that steps every engine (each has a tick due), then the round measured: it renews every
            # lease, reads every stop signal and writes every status those ticks published.
            time.sleep(0.6)
            host.round()
            wait_until(lambda: not any(e.busy for e in host.engines.values()), 20, "the ticks")  # noqa: B023
            assert all(e.runner.board.pending for e in host.engines.values())
            rounds.append(trips.of(host.round))
        per_round[count] = max(rounds)
        assert min(rounds) == max(rounds), rounds
        # Each round reports to /metrics: the engines it holds, and every tick it stepped.
        assert value("aresbot_engines_running", host=socket.gethostname()) == count
        assert value("aresbot_ticks_total") >= ticks + 3 * count
        # Every engine's lease was renewed and its status written by these rounds.
        for strategy in strategies:
            assert redis_client.get(co.LOCK_KEY.format(id=strategy.pk)) == f"job-{strategy.pk}"
            assert redis_client.hget(co.RUNNING_KEY.format(id=strategy.pk), "current_price") == "30000.00"
        host.close(grace=20)
    # Renews, stop signals, status writes: a pipeline each (and its script check), never one call per engine.
    assert per_round[12] == per_round[2] <= 6, per_round


class _Engines:
    """Engines for build_engine: the strategy `hung` blocks in its tick until released; the others count ticks."""

    def __init__(self, hung: int, hang_after: float) -> None:
        self.hung = hung
        self.hang_after = hang_after
        self.ticks: Counter[int] = Counter()
        self.entered = threading.Event()
        self.release = threading.Event()
        self.runners: dict[int, runtime.StrategyRunner] = {}

    def build(self, spec: Any, **kwargs: Any) -> Any:
        engines = self

        class Engine:
            def start(self, *, first_tick: bool = True) -> None:
                return None

            def tick(self) -> None:
                engines.ticks[spec.strategy_id] += 1
                if spec.strategy_id == engines.hung:
                    engines.entered.set()
                    engines.release.wait(60)

            def stop(self, *, cancel_all: bool = False) -> None:
                return None

            def reconfigure(self, config: Any) -> None:
                return None

        return Engine()


def test_a_hung_engine_is_dropped_alone_and_the_others_keep_ticking(alice, redis_client, hosts, monkeypatch):
    strategies = [still_strategy(alice, f"paper {n}", name=f"grid {n}") for n in range(5)]
    hung = strategies[0]
    engines = _Engines(hung.pk, hang_after=0.5)
    monkeypatch.setattr(runtime, "build_engine", engines.build)
    host, ended = hosts(redis_client, threads=2)
    host.start()
    admitted = {s.pk: host.admit(s.pk, f"job-{s.pk}") for s in strategies}
    wait_until(engines.entered.is_set, 20, "the hung engine to enter its tick")
    admitted[hung.pk].runner.hang_after = 0.5
    try:
        before = dict(engines.ticks)
        # Two threads, one held by the hung tick: the other four engines still tick every 0.5 s.
        wait_until(
            lambda: all(engines.ticks[s.pk] >= before.get(s.pk, 0) + 4 for s in strategies[1:]),
            10,
            "the other engines to tick on",
        )
        # Dropped: its job ends at once and frees its slot, while its tick still holds a thread.
        wait_until(lambda: any(e.strategy_id == hung.pk for e in ended), 10, "the host to drop the hung engine")
        assert len(host) == 4 and admitted[hung.pk].busy
        successor = co.Lease(redis_client, hung.pk, "job-next", ttl_seconds=30)
        wait_until(successor.acquire, 40, "the hung engine's lease to lapse")
        assert host.pool.threads == 3  # a thread in place of the one the hung tick holds
        for strategy in strategies[1:]:
            assert redis_client.get(co.LOCK_KEY.format(id=strategy.pk)) == f"job-{strategy.pk}"
    finally:
        engines.release.set()
    wait_until(lambda: host.pool.threads == 2, 10, "the hung tick's thread to come back and the extra one to retire")
    [result] = [str(e.result) for e in ended if e.strategy_id == hung.pk]
    assert result == "lease lost: the engine hung; its lease was left to lapse"
    assert redis_client.get(co.LOCK_KEY.format(id=hung.pk)) == "job-next"  # its successor's lease is left alone


def test_a_host_that_loses_redis_sends_nothing_and_ends_every_engine_after_a_lease(
    alice, hosts, tmp_path: Path, settings, caplog
):
    settings.STRATEGY_LOCK_TTL = 2
    server = RedisServer(tmp_path)
    server.start()
    try:
        client = redis.Redis.from_url(server.url, decode_responses=True, socket_timeout=0.5, socket_connect_timeout=0.5)
        strategies = [still_strategy(alice, f"paper {n}", name=f"grid {n}") for n in range(4)]
        host, ended = hosts(client)
        host.start()
        for strategy in strategies:
            host.admit(strategy.pk, f"job-{strategy.pk}")
        wait_until(
            lambda: all(book_orders(s, status="open").count() == 3 for s in strategies), 30, "every ladder on its book"
        )
        server.stop()
        wait_until(lambda: len(ended) == len(strategies), 30, "every engine to give its strategy up")
        assert {str(e.result) for e in ended} == {"lease lost: Redis unreachable for longer than the lease"}
        for strategy in strategies:
            assert book_orders(strategy).count() == 3  # nothing sent while no lease could be confirmed
        assert len(host) == 0
    finally:
        server.stop()


def test_an_engine_counts_against_its_account_and_the_exchange_it_waits_on(alice, redis_client):
    still = still_strategy(alice, "still", name="still")
    live = still_strategy(alice, "live", name="live")
    DbPaperStore(book_key(live.account_id)).ensure_feed_spec("ETH/USDT", {"kind": "ticker", "exchange": "binance"})
    Strategy.objects.filter(pk=live.pk).update(symbol="ETH/USDT")

    def keys(strategy: Strategy) -> tuple[str, ...]:
        runner = runtime.StrategyRunner(strategy.pk, "job", client=redis_client)
        runner.spec = strategy_source().load(strategy.pk)
        return limit_keys(runner)

    assert keys(still) == (f"account:{still.account_id}",)  # a paper book on a simulated feed waits on nobody
    assert keys(live) == (f"account:{live.account_id}", "exchange:binance")
