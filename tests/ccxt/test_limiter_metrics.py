"""The shared limiter's usage per exchange key and IP reaches /metrics when a real adapter makes requests."""

from __future__ import annotations

from prometheus_client import REGISTRY

from exchanges.ccxt.limits import BINANCE_DEFAULT_LIMITS, DEFAULT_SHARE


def used(bucket: str) -> float:
    return REGISTRY.get_sample_value("aresbot_ratelimit_used", {"exchange": "binance", "bucket": bucket}) or 0.0


def test_a_price_read_moves_the_ip_buckets_usage_against_its_budget(binance, scope):
    assert used(f"ip:{scope}") == 0
    binance.fetch_price("BTC/USDT")
    first = used(f"ip:{scope}")
    assert first > 0  # exchangeInfo (markets) and the ticker, by their published weights
    binance.fetch_price("BTC/USDT")
    assert used(f"ip:{scope}") > first
    budget = int(BINANCE_DEFAULT_LIMITS[("REQUEST_WEIGHT", 60.0)] * DEFAULT_SHARE)
    limit = REGISTRY.get_sample_value("aresbot_ratelimit_limit", {"exchange": "binance", "bucket": f"ip:{scope}"})
    assert limit == budget
    assert used(f"ip:{scope}:raw") >= 2  # one per request, on the raw-requests bucket of the same IP
