"""How much the shared Redis limiter costs per request: latency of an uncontended acquire, and the grant rate of
N processes against one bucket. Run: .venv/bin/python bench/ratelimit_bench.py [redis-url] [processes]"""

from __future__ import annotations

import multiprocessing
import statistics
import sys
import time
import uuid
from concurrent.futures import ProcessPoolExecutor

import redis

sys.path.insert(0, ".")
from exchanges.ccxt.ratelimit import Bucket, SharedRateLimiter


def latency(url: str, n: int = 2000) -> list[float]:
    client = redis.Redis.from_url(url, decode_responses=True)
    key = f"ratelimit:bench:{uuid.uuid4().hex[:8]}"
    limiter = SharedRateLimiter(client)
    bucket, ban = Bucket(key, 10**9, 60), f"{key}:ban"
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        limiter.acquire([(bucket, 1)], ban_key=ban)
        samples.append(time.perf_counter() - start)
    client.delete(key, f"{key}:sum")
    return samples


def worker(url: str, key: str, seconds: float) -> list[float]:
    client = redis.Redis.from_url(url, decode_responses=True)
    limiter = SharedRateLimiter(client, max_wait=60)
    bucket, grants, end = Bucket(key, 600, 1.0), [], time.monotonic() + seconds
    while time.monotonic() < end:
        # Redis's own clock decides the window, so the grants are timed by it, not by this process's clock.
        grants.append(limiter.acquire([(bucket, 1)], ban_key=f"{key}:ban").at_us / 1e6)
    return grants


def busiest_window(stamps: list[float], width: float) -> int:
    """Most grants in any window of `width` seconds (two pointers over the sorted times)."""
    best, lo = 0, 0
    for hi, at in enumerate(stamps):
        while at - stamps[lo] >= width:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else "redis://127.0.0.1:6379/14"
    processes = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    samples = sorted(latency(url))
    p50, p99 = statistics.median(samples), samples[int(len(samples) * 0.99)]
    print(f"uncontended acquire: p50 {p50 * 1e6:.0f} µs, p99 {p99 * 1e6:.0f} µs")
    key, seconds = f"ratelimit:bench:{uuid.uuid4().hex[:8]}", 5.0
    with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn")) as pool:
        runs = list(pool.map(worker, [url] * processes, [key] * processes, [seconds] * processes))
    redis.Redis.from_url(url).delete(key, f"{key}:sum")
    stamps = sorted(t for run in runs for t in run)
    # The processes start and stop at different moments, so the rate is taken between the first and last grant.
    span = stamps[-1] - stamps[0]
    print(
        f"{processes} processes, limit 600 per 1 s window: {len(stamps)} grants in {span:.2f} s "
        f"({len(stamps) / span:.0f}/s), busiest 1 s window {busiest_window(stamps, 1.0)}"
    )


if __name__ == "__main__":
    main()
