"""AresBot's Prometheus metrics: the families, the typed calls that move them, and the two ways they are served.

Every label has a bounded set of values: a host name, an exchange id, an error class of `exchanges.base`, a
rate-limit bucket (exchange, account id or outbound IP: never a credential), a Redis command name, a database
alias. Strategy ids are never labels: a thousand strategies would make a thousand series per family.

Served per process: the web app at `/metrics` (aresbot/metrics_view.py; with PROMETHEUS_MULTIPROC_DIR set, as
gunicorn.conf.py does, one scrape sums all of gunicorn's workers), and each worker or engine host on its own port
through `serve_worker(index)`. Both answer only a bearer token equal to METRICS_TOKEN when it is set, and only
loopback or private addresses when it is not.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.exposition import ThreadingWSGIServer

import exchanges.base as exchange_errors

log = logging.getLogger(__name__)

OTHER = "other"  # the label value of anything outside a label's known set, so a surprise cannot add series
# Latencies from a sub-millisecond Redis call on the same host to a database or tick stalled for many seconds.
_FAST_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_TICK_LAG_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)

ENGINES_RUNNING = Gauge("aresbot_engines_running", "Engines this host runs now.", ["host"], multiprocess_mode="livesum")
ENGINE_CAPACITY = Gauge(
    "aresbot_engine_capacity", "Engines this host may run at most.", ["host"], multiprocess_mode="livesum"
)
TICK_LAG = Histogram(
    "aresbot_tick_lag_seconds",
    "How late a tick started after its scheduled time (loop interval after the previous one).",
    buckets=_TICK_LAG_BUCKETS,
)
TICKS = Counter("aresbot_ticks", "Engine ticks done.")
ORDERS_SENT = Counter("aresbot_orders_sent", "Orders sent to an exchange (each attempt).", ["exchange"])
ORDERS_REJECTED = Counter(
    "aresbot_orders_rejected",
    "Orders sent that came back as an error, by the adapter's error class (a Retryable one: outcome unknown, "
    "reconciled by client order id).",
    ["exchange", "reason"],
)
LEASE_RENEW_FAILURES = Counter("aresbot_lease_renew_failures", "Strategy lease renewals that failed or were lost.")
FAILOVERS = Counter("aresbot_failovers", "Strategies resumed on this host after another holder's lease ended.")
RATELIMIT_USED = Gauge(
    "aresbot_ratelimit_used",
    "Weight granted in the shared rate-limit bucket's window, as of this process's last request on it.",
    ["exchange", "bucket"],
    multiprocess_mode="mostrecent",
)
RATELIMIT_LIMIT = Gauge(
    "aresbot_ratelimit_limit",
    "The weight the shared rate-limit bucket hands out per window (the exchange's limit times the share).",
    ["exchange", "bucket"],
    multiprocess_mode="mostrecent",
)
RATELIMIT_WAIT = Histogram(
    "aresbot_ratelimit_wait_seconds",
    "Seconds a request waited for the shared rate limiter before it was granted.",
    ["exchange"],
    buckets=(0.0, 0.05, 0.25, 1.0, 5.0, 15.0, 30.0, 60.0),
)
DB_QUERY = Histogram("aresbot_db_query_duration_seconds", "Database query latency.", ["alias"], buckets=_FAST_BUCKETS)
REDIS_COMMAND = Histogram(
    "aresbot_redis_command_duration_seconds",
    "Redis command latency (a pipeline is one PIPELINE observation).",
    ["command"],
    buckets=_FAST_BUCKETS,
)

# The label values an error may have: the adapter's error classes, whatever module raised them.
REJECT_REASONS = frozenset(
    name
    for name, value in vars(exchange_errors).items()
    if isinstance(value, type) and issubclass(value, exchange_errors.ExchangeError)
)
# Who may scrape without a token: loopback and the RFC 1918 / unique-local ranges a private network uses. Not
# ipaddress's is_private, which also counts the documentation and benchmarking ranges, and 0.0.0.0.
_PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(net)
    for net in ("127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "::1/128", "fc00::/7")
)
_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_host = socket.gethostname()


def _bounded(value: str) -> str:
    return value if _NAME.match(value) else OTHER


def set_host(name: str) -> None:
    """The `host` label of this process's engine gauges (default: the machine's host name)."""
    global _host
    _host = _bounded(name)


# --- the calls the runtime makes ---------------------------------------------------------------------------------
def engines_running(count: int) -> None:
    ENGINES_RUNNING.labels(_host).set(count)


def engine_capacity(count: int) -> None:
    ENGINE_CAPACITY.labels(_host).set(count)


def tick_done(lag_seconds: float) -> None:
    """One engine tick done, `lag_seconds` after it was due (0 when on time)."""
    TICKS.inc()
    TICK_LAG.observe(max(lag_seconds, 0.0))


def lease_renew_failed(count: int = 1) -> None:
    if count > 0:
        LEASE_RENEW_FAILURES.inc(count)


def round_done(*, engines: int, capacity: int, tick_lags: Iterable[float], renew_failures: int) -> None:
    """An engine host's round: the engines it holds and may hold, each tick it stepped (with how late it was), and
    the leases its renew found lost."""
    engines_running(engines)
    engine_capacity(capacity)
    for lag in tick_lags:
        tick_done(lag)
    lease_renew_failed(renew_failures)


def failed_over() -> None:
    FAILOVERS.inc()


def order_sent(exchange: str) -> None:
    ORDERS_SENT.labels(_bounded(exchange)).inc()


def order_rejected(exchange: str, reason: str) -> None:
    """An order that came back as the adapter's error class `reason` (its class name)."""
    ORDERS_REJECTED.labels(_bounded(exchange), reason if reason in REJECT_REASONS else OTHER).inc()


def rate_limit_granted(usage: Iterable[tuple[str, int, int]], waited: float) -> None:
    """A grant of the shared limiter after `waited` seconds; `usage` holds, per bucket it charged, the bucket's Redis
    key, the weight in its window after the grant, and its budget.

    A key (exchanges/ccxt/limits.py) is `ratelimit:{exchange}:{scope}`, whose scope is `ip:{outbound ip}[:raw]` or
    `{account id}[:orders:…]`: ids, never credentials. The `bucket` label is that scope."""
    exchange = OTHER
    for key, used, limit in usage:
        _, _, rest = key.partition("ratelimit:")
        exchange, _, scope = rest.partition(":")
        exchange, scope = _bounded(exchange), _bounded(scope or "all")
        RATELIMIT_USED.labels(exchange, scope).set(used)
        RATELIMIT_LIMIT.labels(exchange, scope).set(limit)
    RATELIMIT_WAIT.labels(exchange).observe(max(waited, 0.0))


def db_query_done(alias: str, seconds: float) -> None:
    DB_QUERY.labels(_bounded(alias)).observe(seconds)


def redis_command_done(command: str, seconds: float) -> None:
    REDIS_COMMAND.labels(_bounded(command.upper()[:32])).observe(seconds)


# --- database latency ----------------------------------------------------------------------------------------------
class _TimedQueries:
    """A Django execute wrapper (one per connection alias) timing each query, failed ones included."""

    def __init__(self, alias: str) -> None:
        self.alias = alias

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            db_query_done(self.alias, time.perf_counter() - started)


def time_queries(connection: Any, **kwargs: Any) -> None:
    """The connection_created receiver (aresbot/apps.py): time every query of this connection. Django keeps the
    wrapper object (and its execute_wrappers) across reconnects, hence the check."""
    if not any(isinstance(wrapper, _TimedQueries) for wrapper in connection.execute_wrappers):
        connection.execute_wrappers.append(_TimedQueries(connection.alias))


# --- exposition ------------------------------------------------------------------------------------------------------
def exposition() -> tuple[bytes, str]:
    """This process's metrics, or with PROMETHEUS_MULTIPROC_DIR those of every process writing there."""
    registry: CollectorRegistry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    return generate_latest(registry), CONTENT_TYPE_LATEST


def scrape_refusal(authorization: str, address: str | None, token: str) -> tuple[int, str] | None:
    """Why a scrape is refused, as (HTTP status, message), or None when it may read the metrics.

    With a token, the caller must send `Authorization: Bearer <token>` (compared in constant time); without one,
    only loopback and private addresses may scrape, so an unconfigured server never shows its figures publicly."""
    if token:
        scheme, _, sent = authorization.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(sent.strip().encode(), token.encode()):
            return None
        return 401, "metrics: send Authorization: Bearer <METRICS_TOKEN>"
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return 403, "metrics: set METRICS_TOKEN to scrape from an address that is not loopback or private"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if any(ip in network for network in _PRIVATE_NETWORKS):
        return None
    return 403, "metrics: set METRICS_TOKEN to scrape from an address that is not loopback or private"


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes come every few seconds; a line each would drown the worker's log."""


def _metrics_app(token: str) -> Callable[..., Iterable[bytes]]:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        refused = scrape_refusal(environ.get("HTTP_AUTHORIZATION", ""), environ.get("REMOTE_ADDR"), token)
        if refused is not None:
            status, message = refused
            headers = [("Content-Type", "text/plain; charset=utf-8")]
            if status == 401:
                headers.append(("WWW-Authenticate", 'Bearer realm="metrics"'))
            start_response(f"{status} {'Unauthorized' if status == 401 else 'Forbidden'}", headers)
            return [message.encode()]
        body, content_type = exposition()
        start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body)))])
        return [body]

    return app


def serve(port: int, *, addr: str = "0.0.0.0", token: str = "") -> WSGIServer:  # noqa: S104 - guarded by scrape_refusal
    """Serve this process's metrics over HTTP on `addr:port` from a daemon thread (any path answers them)."""
    server = make_server(addr, port, _metrics_app(token), ThreadingWSGIServer, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name=f"metrics:{port}", daemon=True).start()
    return server


def serve_worker(index: int, *, host: str | None = None) -> int | None:
    """The metrics server of a worker or engine host: on METRICS_PORT + `index` (0, the first worker: METRICS_PORT),
    with METRICS_TOKEN; `host` names this process in the engine gauges. None, and nothing started, when METRICS_PORT
    is 0 (the default). A port already taken is logged, never fatal: metrics are not worth a worker."""
    from django.conf import settings

    if host:
        set_host(host)
    base = int(settings.METRICS_PORT)
    if not base:
        return None
    port = base + index
    if not 0 < port <= 65535:
        log.warning("metrics: METRICS_PORT %s + worker %s is not a port; this worker serves no metrics", base, index)
        return None
    try:
        serve(port, addr=settings.METRICS_ADDR, token=settings.METRICS_TOKEN)
    except OSError as exc:
        log.warning(
            "metrics: cannot listen on %s:%s (%s); this worker serves no metrics", settings.METRICS_ADDR, port, exc
        )
        return None
    return port
