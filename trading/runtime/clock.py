"""The runtime's one clock seam: the runner, its pulse and the supervisor read time and wait only through it.

Tests pass a fake that moves when told, so lease expiry, hang detection and the database-check cadence are
driven without sleeping. (The engine's own clock, `exchanges.clock.Clock`, tells the trading core the date.)
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class RuntimeClock(Protocol):
    def monotonic(self) -> float:
        """Seconds on a clock that never goes back: for intervals and deadlines."""
        ...

    def time(self) -> float:
        """Epoch seconds: for what other processes read (the status hash's timestamps)."""
        ...

    def sleep(self, seconds: float) -> None: ...

    def wait(self, event: threading.Event, seconds: float) -> bool:
        """Wait up to `seconds` for `event`; True when it is set."""
        ...


class SystemRuntimeClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def wait(self, event: threading.Event, seconds: float) -> bool:
        return event.wait(seconds)


SYSTEM_CLOCK: RuntimeClock = SystemRuntimeClock()
