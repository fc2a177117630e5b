"""Prometheus metrics: /metrics (token or private address), the workers' metrics servers, what the families count."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from prometheus_client import REGISTRY

from aresbot import metrics
from aresbot.redis import get_redis
from exchanges.base import (
    ExchangeError,
    InsufficientFunds,
    NetworkError,
    OrderNotSent,
    OrderRequest,
    OrderState,
    OrderStatus,
    OrderType,
    Side,
)
from exchanges.ccxt.ratelimit import Bucket, SharedRateLimiter
from tests.processes import free_port, wait_until
from trading.runtime.metered import MeteredExchange

TOKEN = "scrape-token-0123456789abcdef"


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def scrape(client: Any, address: str = "127.0.0.1", **headers: str) -> Any:
    return client.get("/metrics", REMOTE_ADDR=address, **headers)


# --- /metrics -------------------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_with_a_token_set_a_scrape_without_it_or_with_another_is_401(client, settings):
    settings.METRICS_TOKEN = TOKEN
    for headers in ({}, {"HTTP_AUTHORIZATION": "Bearer wrong-token-0123456789"}, {"HTTP_AUTHORIZATION": TOKEN}):
        response = scrape(client, **headers)
        assert response.status_code == 401, headers
        assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
        assert b"aresbot_" not in response.content


@pytest.mark.django_db
def test_with_a_token_set_the_right_bearer_token_reads_the_metrics_from_any_address(client, settings):
    settings.METRICS_TOKEN = TOKEN
    response = scrape(client, "203.0.113.9", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    assert b"# TYPE aresbot_ticks_total counter" in response.content


@pytest.mark.django_db
@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "10.1.2.3", "192.168.0.7", "172.18.0.2"])
def test_without_a_token_loopback_and_private_addresses_may_scrape(client, settings, address):
    settings.METRICS_TOKEN = ""
    assert scrape(client, address).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("address", ["203.0.113.9", "8.8.8.8", "2001:4860:4860::8888"])
def test_without_a_token_a_public_address_is_refused_with_a_message_naming_the_setting(client, settings, address):
    settings.METRICS_TOKEN = ""
    response = scrape(client, address)
    assert response.status_code == 403
    assert b"METRICS_TOKEN" in response.content


@pytest.mark.django_db
def test_behind_a_proxy_the_forwarded_client_address_decides_not_the_proxys(client, settings):
    settings.METRICS_TOKEN = ""
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    assert scrape(client, "172.18.0.2", HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 403
    assert scrape(client, "172.18.0.2", HTTP_X_FORWARDED_FOR="10.0.0.5").status_code == 200


@pytest.mark.django_db
def test_the_output_has_the_families_after_activity(client, settings, redis_client):
    settings.METRICS_TOKEN = ""
    metrics.engines_running(3)
    metrics.engine_capacity(50)
    metrics.tick_done(0.2)
    metrics.lease_renew_failed()
    metrics.failed_over()
    metrics.order_sent("binance")
    metrics.order_rejected("binance", "InsufficientFunds")
    SharedRateLimiter(redis_client).acquire([(Bucket("ratelimit:binance:ip:shared", 960, 60), 4)], ban_key="b")
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    text = scrape(client).content.decode()
    for sample in (
        'aresbot_engines_running{host="',
        'aresbot_engine_capacity{host="',
        "aresbot_tick_lag_seconds_bucket{le=",
        "aresbot_ticks_total ",
        'aresbot_orders_sent_total{exchange="binance"}',
        'aresbot_orders_rejected_total{exchange="binance",reason="InsufficientFunds"}',
        "aresbot_lease_renew_failures_total ",
        "aresbot_failovers_total ",
        'aresbot_ratelimit_used{bucket="ip:shared",exchange="binance"}',
        'aresbot_ratelimit_limit{bucket="ip:shared",exchange="binance"} 960.0',
        'aresbot_ratelimit_wait_seconds_count{exchange="binance"}',
        'aresbot_db_query_duration_seconds_count{alias="default"}',
        'aresbot_redis_command_duration_seconds_count{command="EVALSHA"}',
    ):
        assert sample in text, sample


def test_a_hosts_round_sets_its_gauges_and_counts_its_ticks_and_renew_failures():
    metrics.set_host("round-host")
    try:
        ticks, failures = value("aresbot_ticks_total"), value("aresbot_lease_renew_failures_total")
        late = value("aresbot_tick_lag_seconds_bucket", le="1.0") - value("aresbot_tick_lag_seconds_bucket", le="0.5")
        metrics.round_done(engines=12, capacity=200, tick_lags=[0.01, 0.7, 0.02], renew_failures=2)
        assert value("aresbot_engines_running", host="round-host") == 12
        assert value("aresbot_engine_capacity", host="round-host") == 200
        assert value("aresbot_ticks_total") == ticks + 3
        assert value("aresbot_lease_renew_failures_total") == failures + 2
        now_late = value("aresbot_tick_lag_seconds_bucket", le="1.0") - value(
            "aresbot_tick_lag_seconds_bucket", le="0.5"
        )
        assert now_late == late + 1  # the 0.7 s tick
    finally:
        metrics.set_host(socket.gethostname())


# --- latency instrumentation ----------------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_every_database_query_is_timed_once_even_after_a_reconnect():
    connection.close()
    connection.ensure_connection()  # Django keeps the wrapper object, and connection_created fires again
    before = value("aresbot_db_query_duration_seconds_count", alias="default")
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.execute("SELECT 2")
    assert value("aresbot_db_query_duration_seconds_count", alias="default") == before + 2
    wrappers = [w for w in connection.execute_wrappers if isinstance(w, metrics._TimedQueries)]
    assert len(wrappers) == 1


def test_a_failed_query_is_timed_too(db):
    before = value("aresbot_db_query_duration_seconds_count", alias="default")
    with pytest.raises(Exception), connection.cursor() as cursor:  # noqa: B017, PT011 - any driver's error
        cursor.execute("SELECT * FROM no_such_table_here")
    assert value("aresbot_db_query_duration_seconds_count", alias="default") == before + 1


def test_redis_commands_and_pipelines_are_timed_by_name(redis_client):
    key = f"metrics-test:{uuid.uuid4().hex}"
    sets = value("aresbot_redis_command_duration_seconds_count", command="SET")
    pipelines = value("aresbot_redis_command_duration_seconds_count", command="PIPELINE")
    get_redis().set(key, "1")
    with get_redis().pipeline() as pipe:
        pipe.incr(key)
        pipe.expire(key, 10)
        pipe.execute()
    assert value("aresbot_redis_command_duration_seconds_count", command="SET") == sets + 1
    assert value("aresbot_redis_command_duration_seconds_count", command="PIPELINE") == pipelines + 1
    assert value("aresbot_redis_command_duration_seconds_sum", command="SET") > 0


# --- rate limiter ---------------------------------------------------------------------------------------------------
def test_the_limiter_reports_each_buckets_weight_after_a_grant_against_its_budget(redis_client):
    ip = f"198.51.100.{uuid.uuid4().int % 250}"
    weight = Bucket(f"ratelimit:binance:ip:{ip}", 960, 60)
    orders = Bucket("ratelimit:binance:17:orders:10s", 40, 10)
    limiter = SharedRateLimiter(redis_client)
    limiter.acquire([(weight, 5), (orders, 1)], ban_key=f"ratelimit:binance:ip:{ip}:ban")
    limiter.acquire([(weight, 3)], ban_key=f"ratelimit:binance:ip:{ip}:ban")
    assert value("aresbot_ratelimit_used", exchange="binance", bucket=f"ip:{ip}") == 8
    assert value("aresbot_ratelimit_limit", exchange="binance", bucket=f"ip:{ip}") == 960
    assert value("aresbot_ratelimit_used", exchange="binance", bucket="17:orders:10s") == 1
    assert value("aresbot_ratelimit_limit", exchange="binance", bucket="17:orders:10s") == 40


def test_labels_outside_their_known_set_become_other():
    before = value("aresbot_orders_rejected_total", exchange="other", reason="other")
    metrics.order_rejected("bad exchange id with spaces", "SomethingNew")
    metrics.order_rejected("paper", "KeyError")
    assert value("aresbot_orders_rejected_total", exchange="other", reason="other") == before + 1
    assert value("aresbot_orders_rejected_total", exchange="paper", reason="other") >= 1


# --- orders ---------------------------------------------------------------------------------------------------------
class Stub:
    order_visibility_delay = timedelta(0)

    def __init__(self, outcome: OrderState | ExchangeError, batch: Sequence[OrderState | ExchangeError] = ()) -> None:
        self.outcome = outcome
        self.batch = list(batch)

    def place_order(self, request: OrderRequest) -> OrderState:
        if isinstance(self.outcome, ExchangeError):
            raise self.outcome
        return self.outcome

    def place_orders(self, requests: Sequence[OrderRequest]) -> list[OrderState | ExchangeError]:
        return self.batch

    def fetch_price(self, symbol: str) -> D:
        return D(100)


def order(status: OrderStatus = OrderStatus.OPEN) -> OrderState:
    return OrderState("c1", "e1", "BTC/USDT", Side.BUY, OrderType.LIMIT, D(1), D(100), D(0), status)


def request() -> OrderRequest:
    return OrderRequest("c1", "BTC/USDT", Side.BUY, OrderType.LIMIT, D(1), D(100))


def test_an_order_is_counted_sent_and_its_error_counted_by_class():
    exchange = MeteredExchange(Stub(InsufficientFunds("no USDT")), "mexc")  # type: ignore[arg-type]
    with pytest.raises(InsufficientFunds):
        exchange.place_order(request())
    assert value("aresbot_orders_sent_total", exchange="mexc") == 1
    assert value("aresbot_orders_rejected_total", exchange="mexc", reason="InsufficientFunds") == 1
    assert exchange.fetch_price("BTC/USDT") == D(100)  # everything else passes through


def test_in_a_batch_an_order_never_sent_counts_neither_way():
    batch = [order(), NetworkError("timeout"), OrderNotSent("c3 not sent")]
    exchange = MeteredExchange(Stub(order(), batch), "kraken")  # type: ignore[arg-type]
    assert exchange.place_orders([request()] * 3) == batch
    assert value("aresbot_orders_sent_total", exchange="kraken") == 2
    assert value("aresbot_orders_rejected_total", exchange="kraken", reason="NetworkError") == 1
    assert value("aresbot_orders_rejected_total", exchange="kraken", reason="OrderNotSent") == 0


def test_an_order_answered_rejected_counts_as_rejected():
    exchange = MeteredExchange(Stub(order(OrderStatus.REJECTED)), "okx")  # type: ignore[arg-type]
    exchange.place_order(request())
    assert value("aresbot_orders_rejected_total", exchange="okx", reason="OrderRejected") == 1


# --- a worker's metrics server --------------------------------------------------------------------------------------
def get(url: str, token: str | None = None, timeout: float = 30) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout) as response:  # noqa: S310
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def listens(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.fixture
def worker_server(settings: Any) -> Iterator[int]:
    port = free_port()
    settings.METRICS_PORT, settings.METRICS_ADDR, settings.METRICS_TOKEN = port - 2, "127.0.0.1", TOKEN
    yield port
    metrics.set_host(socket.gethostname())


def test_a_worker_serves_on_metrics_port_plus_its_index_with_the_token(worker_server):
    assert metrics.serve_worker(2, host="node-a-w2") == worker_server
    metrics.engines_running(7)
    url = f"http://127.0.0.1:{worker_server}/metrics"
    assert get(url)[0] == 401
    assert get(url, "not-the-token-at-all")[0] == 401
    status, text = get(url, TOKEN)
    assert status == 200
    assert 'aresbot_engines_running{host="node-a-w2"} 7.0' in text


def test_a_worker_serves_nothing_when_metrics_port_is_0_or_taken(settings, worker_server):
    settings.METRICS_PORT = 0
    assert metrics.serve_worker(1) is None
    settings.METRICS_PORT = worker_server
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", worker_server))
        taken.listen()
        assert metrics.serve_worker(0) is None


def test_the_workers_server_without_a_token_answers_loopback():
    port = free_port()
    server = metrics.serve(port, addr="127.0.0.1")
    try:
        assert get(f"http://127.0.0.1:{port}/")[0] == 200
    finally:
        server.shutdown()
        server.server_close()


# --- the Grafana dashboard -----------------------------------------------------------------------------------------
def test_the_grafana_dashboard_is_json_over_a_datasource_variable_and_only_metrics_that_exist():
    root = Path(__file__).resolve().parent.parent
    dashboard = json.loads((root / "docs" / "grafana" / "aresbot.json").read_text())
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    exposed = {
        sample
        for family in REGISTRY.collect()
        if family.name.startswith("aresbot_")
        for sample in (family.name, f"{family.name}_total", f"{family.name}_bucket", f"{family.name}_count")
    }
    used = set()
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        for target in panel["targets"]:
            used |= set(re.findall(r"\baresbot_[a-z_]+", target["expr"]))
    assert used, "the scan found no metrics: it is broken"
    assert used <= exposed, used - exposed
    families = {name.removesuffix("_total") for name in used}
    for wanted in ("aresbot_engines_running", "aresbot_tick_lag_seconds_bucket", "aresbot_ticks", "aresbot_failovers"):
        assert wanted in families


# --- gunicorn ---------------------------------------------------------------------------------------------------
@pytest.mark.slow  # a real gunicorn with three workers
def test_under_gunicorn_one_scrape_sums_every_workers_figures(tmp_path):
    root = Path(__file__).resolve().parent.parent
    port = free_port()
    stale = tmp_path / "histogram_999999.db"
    stale.write_bytes(b"an earlier run's figures")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "METRICS_TOKEN": ""}
    env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "aresbot.wsgi:application", "--bind", f"127.0.0.1:{port}", "--workers", "3"],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: listens(port), 60, "gunicorn to listen")
        assert not stale.exists()
        with ThreadPoolExecutor(6) as pool:  # at once, so that several workers take some
            statuses = list(pool.map(lambda _: get(f"http://127.0.0.1:{port}/health/redis")[0], range(30)))
        assert statuses == [200] * 30
        workers = {path.stem.split("_")[-1] for path in tmp_path.glob("histogram_*.db")}
        assert len(workers) > 1, "one worker took every request: the test proves nothing"
        status, text = get(f"http://127.0.0.1:{port}/metrics")
        assert status == 200
        [count] = re.findall(r'^aresbot_redis_command_duration_seconds_count\{command="PING"\} (\S+)$', text, re.M)
        assert float(count) == 30  # every /health/redis sent one PING, whichever worker took it
    finally:
        server.terminate()
        server.wait(30)
