"""The body of one worker process in the shared-limiter test (a module, so `spawn` can import it)."""

from __future__ import annotations

import random
import time

import redis

from exchanges.ccxt.ratelimit import Bucket, SharedRateLimiter


def hammer(url: str, key: str, limit: int, window: float, seconds: float, seed: int) -> list[tuple[int, int]]:
    """Acquire random weights for `seconds`; return (grant time in Redis µs, weight) of each grant."""
    rng = random.Random(seed)
    client = redis.Redis.from_url(url, decode_responses=True)
    limiter = SharedRateLimiter(client, max_wait=30)
    bucket = Bucket(key, limit, window)
    grants = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        weight = rng.choice((1, 1, 2, 4, 6))
        grant = limiter.acquire([(bucket, weight)], ban_key=f"{key}:ban")
        grants.append((grant.at_us, weight))
    client.close()
    return grants
