"""Fault injection for the paper exchange: the failures a real exchange produces, on demand, for tests.

Faults are queued per operation (`add`) or scheduled by call number over all operations (`schedule`, which is
how property tests draw random fault schedules). Operations: fetch_price, place_order, cancel_order,
fetch_order, fetch_open_orders, fetch_balance.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from enum import StrEnum


class Fault(StrEnum):
    NETWORK = "network"  # NetworkError before the request reaches the exchange: nothing happened
    RATE_LIMIT = "rate_limit"  # RateLimitExceeded before the request: nothing happened
    TIMEOUT_AFTER = "timeout_after"  # the exchange did the request, then the answer was lost (RequestTimeout)
    PARTIAL_FILL = "partial_fill"  # the next time a resting order is crossed, only half of it fills


class FaultInjector:
    def __init__(self, schedule: Mapping[int, Fault] | None = None) -> None:
        self._queued: dict[str, deque[Fault]] = {}
        self._schedule = dict(schedule or {})
        self.calls = 0  # operations seen, counting from 1
        self.partial_fills = 0  # partial fills still to make
        self.injected: list[tuple[int, str, Fault]] = []

    def add(self, operation: str, fault: Fault, times: int = 1) -> None:
        """Make the next `times` calls of `operation` fail with `fault`."""
        self._queued.setdefault(operation, deque()).extend([fault] * times)

    def next(self, operation: str) -> Fault | None:
        """The fault for this call of `operation`, if any (consumes it). PARTIAL_FILL is kept for matching."""
        self.calls += 1
        fault = self._schedule.pop(self.calls, None)
        queued = self._queued.get(operation)
        if fault is None and queued:
            fault = queued.popleft()
        if fault is None:
            return None
        self.injected.append((self.calls, operation, fault))
        if fault is Fault.PARTIAL_FILL:
            self.partial_fills += 1
            return None
        return fault

    def take_partial_fill(self) -> bool:
        if self.partial_fills:
            self.partial_fills -= 1
            return True
        return False
