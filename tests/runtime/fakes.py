"""Stand-ins for the runtime's seams: a clock that moves only when the runner waits, a strategy source, an engine."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from trading.core.events import Event
from trading.core.types import EngineConfig
from trading.runtime.spec import AccountSpec, StrategySettings, StrategySpec

EPOCH = 1_700_000_000.0


class FakeClock:
    """Virtual time for the runner: `sleep` and `wait` move it forward at once instead of waiting.

    `beats`: how many waits the pulse gets before it is told to end (as if the job were done), or None for a
    pulse that never beats (its wait blocks, for real, until the job ends). A pulse that waits more than
    `max_waits` times, or a loop that sleeps past `max_time`, fails the test: it would never have ended.
    """

    def __init__(self, *, beats: int | None = None, max_waits: int = 10_000, max_time: float = 3600) -> None:
        self.now = 0.0
        self.beats = beats
        self.max_waits = max_waits
        self.max_time = max_time
        self.waits = 0

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return EPOCH + self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)
        if self.now > self.max_time:
            raise AssertionError(f"the runner was still looping after {self.max_time:.0f} virtual seconds")

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def wait(self, event: threading.Event, seconds: float) -> bool:
        if self.beats is None:
            return event.wait()
        self.waits += 1
        if self.waits > self.max_waits:
            raise AssertionError(f"the pulse never ended ({self.max_waits} waits)")
        if self.waits > self.beats:
            return True
        self.now += seconds
        return event.is_set()


def make_config(strategy_id: int, **overrides: object) -> EngineConfig:
    values: dict[str, object] = {
        "strategy_id": strategy_id,
        "symbol": "BTC/USDT",
        "grid_levels": 3,
        "buy_offset_pct": Decimal(1),
        "sell_offset_pct": Decimal(1),
        "order_size_quote": Decimal(20),
        "reprice_threshold_pct": Decimal(1),
        "loop_interval": Decimal(1),
    }
    values.update(overrides)
    return EngineConfig(**values)  # type: ignore[arg-type]


def make_spec(strategy_id: int, **overrides: object) -> StrategySpec:
    return StrategySpec(
        strategy_id=strategy_id,
        running=bool(overrides.pop("running", True)),
        version=datetime(2024, 1, 1, tzinfo=UTC),
        config=make_config(strategy_id, **overrides),
        owner_id=1,
        name="grid",
        account=AccountSpec(pk=1, name="paper", exchange="paper", paper_balances={"USDT": "10000"}),
    )


@dataclass
class FakeSource:
    """A strategy source whose answers a test scripts: `edits` maps a virtual time to what is true from then."""

    spec: StrategySpec
    clock: FakeClock
    edits: dict[float, Callable[[StrategySpec], StrategySpec | None]] = field(default_factory=dict)
    reads: list[float] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    def current(self) -> StrategySpec | None:
        spec: StrategySpec | None = self.spec
        for at, edit in sorted(self.edits.items()):
            if self.clock.monotonic() >= at and spec is not None:
                spec = edit(spec)
        return spec

    def load(self, strategy_id: int) -> StrategySpec | None:
        return self.current()

    def settings(self, strategy_id: int) -> StrategySettings | None:
        self.reads.append(self.clock.monotonic())
        return self.current()

    def record_events(self, strategy_id: int, events: Sequence[Event]) -> None:
        self.events.extend(events)

    def last_run_event(self, strategy_id: int) -> Event | None:
        runs = [e for e in self.events if e.kind in ("started", "stopped", "handed_over")]
        return runs[-1] if runs else None

    def run_ended_on_error(self, strategy_id: int, job: str) -> None:
        for index in range(len(self.events) - 1, -1, -1):
            started = self.events[index]
            if started.kind == "started":
                if started.data.get("job") == job:
                    self.events[index] = replace(started, data={**started.data, "ended": "error"})
                return

    def wanted_ids(self) -> list[int]:
        current = self.current()
        return [current.strategy_id] if current is not None and current.running else []


def edited(**changes: object) -> Callable[[StrategySpec], StrategySpec]:
    """An edit of the strategy's parameters, as saving the form would make it (a new version)."""

    def apply(spec: StrategySpec) -> StrategySpec:
        config = replace(spec.config, **changes)  # type: ignore[arg-type]
        return replace(spec, config=config, version=spec.version + timedelta(seconds=1))

    return apply


def stopped(spec: StrategySpec) -> StrategySpec:
    return replace(spec, running=False, stopped_by="owner")


def stopped_cancelling_all(spec: StrategySpec) -> StrategySpec:
    return replace(spec, running=False, cancel_all_on_stop=True, stopped_by="admin")


class FakeEngine:
    """Records what the runner asks of the engine, at which virtual time."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.ticks: list[float] = []
        self.reconfigured: list[tuple[float, EngineConfig]] = []
        self.stopped: list[tuple[float, bool]] = []

    def start(self, *, first_tick: bool = True) -> None:
        pass

    def tick(self) -> None:
        self.ticks.append(self.clock.monotonic())

    def reconfigure(self, config: EngineConfig) -> None:
        self.reconfigured.append((self.clock.monotonic(), config))

    def stop(self, *, cancel_all: bool = False) -> None:
        self.stopped.append((self.clock.monotonic(), cancel_all))
