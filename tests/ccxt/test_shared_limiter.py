"""The Redis limiter shared by every process: N processes hammering one account stay under the weight per window."""

from __future__ import annotations

import multiprocessing
import uuid
from concurrent.futures import ProcessPoolExecutor

import pytest
from django.conf import settings

from exchanges.base import RateLimitExceeded
from exchanges.ccxt.limits import BINANCE_DEFAULT_LIMITS, BinanceSpotPlan, CostPlan
from exchanges.ccxt.ratelimit import Bucket, SharedRateLimiter
from tests.ccxt.limiter_worker import hammer

LIMIT, WINDOW, SECONDS, PROCESSES = 100, 2.0, 5.0, 6


def heaviest_window(grants: list[tuple[int, int]], window_us: int) -> int:
    """The most weight granted in any half-open window (t − window, t]: the limiter's own definition."""
    grants = sorted(grants)
    heaviest = total = start = 0
    for at, weight in grants:
        total += weight
        while grants[start][0] <= at - window_us:
            total -= grants[start][1]
            start += 1
        heaviest = max(heaviest, total)
    return heaviest


@pytest.mark.slow  # six processes for five seconds
def test_n_processes_hammering_one_account_stay_under_the_weight_per_window(redis_client):
    key = f"ratelimit:test:{uuid.uuid4().hex[:12]}"
    try:
        with ProcessPoolExecutor(PROCESSES, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = [
                pool.submit(hammer, settings.REDIS_URL, key, LIMIT, WINDOW, SECONDS, seed) for seed in range(PROCESSES)
            ]
            results = [f.result(timeout=120) for f in futures]
    finally:
        redis_client.delete(key, f"{key}:sum", f"{key}:ban")
    grants = [g for worker in results for g in worker]
    assert all(worker for worker in results), "every process got some grants"
    assert heaviest_window(grants, int(WINDOW * 1_000_000)) <= LIMIT
    span = (max(g[0] for g in grants) - min(g[0] for g in grants)) / 1_000_000
    granted = sum(w for _, w in grants)
    # Together they used most of what the limit allows over the span (one full window up front, then the rate).
    # (0.6, not more: on a loaded CI machine a process may wake late from its wait and leave a little unused.)
    assert granted >= 0.6 * LIMIT * (span / WINDOW), (granted, span)


def test_a_request_waits_for_room_then_goes(redis_client, scope):
    sleeps: list[float] = []
    limiter = SharedRateLimiter(redis_client, max_wait=5, sleep=sleeps.append)
    bucket = Bucket(f"ratelimit:test:{scope}", 10, 0.3)
    limiter.acquire([(bucket, 10)], ban_key=f"ratelimit:test:{scope}:ban")
    with pytest.raises(RateLimitExceeded, match=r"frees up in 0\.[123]"):
        limiter.acquire([(bucket, 1)], ban_key=f"ratelimit:test:{scope}:ban", max_wait=0.05)
    real = SharedRateLimiter(redis_client, max_wait=5)
    grant = real.acquire([(bucket, 1)], ban_key=f"ratelimit:test:{scope}:ban")
    # It waited for the room to free up (the refusal above says when), and went then, not at the 5 s maximum; the
    # upper bound is loose because a loaded machine wakes a sleeper late.
    assert 0.1 < grant.waited < 2.5


def test_a_request_is_charged_to_all_its_buckets_or_none(redis_client, scope):
    limiter = SharedRateLimiter(redis_client, max_wait=0)
    weight = Bucket(f"ratelimit:test:ip:{scope}", 100, 60)
    orders = Bucket(f"ratelimit:test:{scope}:orders:10s", 1, 10)
    limiter.acquire([(weight, 1), (orders, 1)], ban_key="ratelimit:test:none:ban")
    with pytest.raises(RateLimitExceeded):
        limiter.acquire([(weight, 1), (orders, 1)], ban_key="ratelimit:test:none:ban")
    assert redis_client.get(f"{weight.key}:sum") == "1"  # the refused request took no weight either
    limiter.acquire([(weight, 5)], ban_key="ratelimit:test:none:ban")
    assert redis_client.get(f"{weight.key}:sum") == "6"


def test_a_weight_above_the_limit_is_refused_at_once(redis_client, scope):
    limiter = SharedRateLimiter(redis_client)
    with pytest.raises(RateLimitExceeded, match="can never fit"):
        limiter.acquire([(Bucket(f"ratelimit:test:{scope}", 5, 1), 6)], ban_key="ratelimit:test:none:ban")


def test_binance_charges_weight_per_ip_and_orders_per_account():
    plan = BinanceSpotPlan("binance", "12", "203.0.113.7", limits=dict(BINANCE_DEFAULT_LIMITS))
    new_order = plan.charge("order", "private", "POST", 0.2)
    assert {(b.key, b.limit, b.window, w) for b, w in new_order.charges} == {
        ("ratelimit:binance:ip:203.0.113.7", 960, 60.0, 1),
        ("ratelimit:binance:ip:203.0.113.7:raw", 4880, 300.0, 1),
        ("ratelimit:binance:12:orders:10s", 40, 10.0, 1),
        ("ratelimit:binance:12:orders:1d", 128000, 86400.0, 1),
    }
    assert new_order.ban_key == "ratelimit:binance:ip:203.0.113.7:ban"
    # CCXT's table holds Binance's published weights × 0.2: GET order 4, account 20, exchangeInfo 20.
    assert [w for b, w in plan.charge("order", "private", "GET", 0.8).charges if b.key.endswith("7")] == [4]
    assert [w for b, w in plan.charge("account", "private", "GET", 4).charges if b.key.endswith("7")] == [20]
    assert len(plan.charge("order", "private", "DELETE", 0.2).charges) == 2  # a cancel is no new order


def test_the_limits_follow_the_exchange_info_rate_limits_for_every_client_of_the_process():
    plan = BinanceSpotPlan("binance-learning", "12", "ip")
    rate_limits = [
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
    ]
    plan.learn("exchangeInfo", {"rateLimits": rate_limits})
    later = BinanceSpotPlan("binance-learning", "13", "ip")  # a client made after the markets were cached
    limits = {b.key: b.limit for b, _ in later.charge("order", "private", "POST", 0.2).charges}
    assert limits["ratelimit:binance-learning:ip:ip"] == 4800
    assert limits["ratelimit:binance-learning:13:orders:10s"] == 80


def test_other_exchanges_are_limited_per_account_by_ccxts_rate_limit():
    plan = CostPlan("kraken", "9", rate_limit_ms=3000)
    [(bucket, weight)] = plan.charge("Balance", "private", "POST", 1).charges
    assert (bucket.key, bucket.limit, bucket.window, weight) == ("ratelimit:kraken:9", 1600, 60.0, 100)
