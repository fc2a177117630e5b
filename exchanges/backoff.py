"""Retries with exponential backoff and jitter, for reads only: an order is never sent twice by a retry."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from exchanges.base import RateLimitExceeded, RetryableError

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Backoff:
    """`attempts` tries; before try n+1 wait between half and all of min(cap, base × factor^n) seconds."""

    attempts: int = 4
    base: float = 0.25
    factor: float = 2.0
    cap: float = 8.0
    rate_limit_pause: float = 1.0  # the shared limiter already waits for room; this only spaces out retries

    def delay(self, attempt: int, rng: random.Random) -> float:
        ceiling = min(self.cap, self.base * self.factor**attempt)
        # "Equal jitter": never retry at once, and workers that failed together do not retry together.
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


def retry_read(
    read: Callable[[], T],
    *,
    backoff: Backoff,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
    on_retry: Callable[[RetryableError], None] | None = None,
) -> T:
    """`read()`, retried on RetryableError up to `backoff.attempts` times; the last error is raised."""
    rng = rng or random.Random()  # noqa: S311 (jitter, not a secret)
    for attempt in range(backoff.attempts):
        try:
            return read()
        except RetryableError as exc:
            if attempt == backoff.attempts - 1:
                raise
            if on_retry is not None:
                on_retry(exc)
            pause = backoff.delay(attempt, rng)
            if isinstance(exc, RateLimitExceeded):
                pause = max(pause, backoff.rate_limit_pause)
            sleep(pause)
    raise AssertionError("unreachable: the loop returns or raises")
