"""Strategy events: what an engine did and why, as records a timeline and the notifier read. No Django.

The engine hands its events to the journal with the state change they describe (`Journal.save(events=…)`), so a
fill's event commits with the fill: none is lost across a crash and none is written for a change that rolled back.
The message text is not stored: readers render it in their language from the kind and the data, whose money
values are plain decimal strings.

A repeating event (the same error, pause or skip reason tick after tick) carries a `key`: the writer adds it to the
newest event of its strategy with that key when that one is recent (trading.events.REPEAT_WINDOW), as one record
with a count, not one per tick. So that an error raised every tick does not cost an UPDATE every tick, the engine
passes its events through a RepeatThrottle, which holds the repeats of a key back and hands them on as one event
with their count at most once per REPEAT_FLUSH.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from exchanges.base import plain_number


class EventKind(StrEnum):
    STARTED = "started"
    STOPPED = "stopped"
    HANDED_OVER = "handed_over"
    FAILED_OVER = "failed_over"
    BUY_FILLED = "buy_filled"
    TAKE_PROFIT_FILLED = "take_profit_filled"
    STOP_LOSS_SOLD = "stop_loss_sold"
    TIME_STOP_SOLD = "time_stop_sold"
    LADDER_PLACED = "ladder_placed"
    LADDER_TRAILED = "ladder_trailed"
    PAUSED = "paused"
    RESUMED = "resumed"
    LEVEL_SKIPPED = "level_skipped"
    ERROR = "error"
    BALANCE_GAP = "balance_gap"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


SEVERITY: dict[EventKind, Severity] = {
    EventKind.FAILED_OVER: Severity.WARNING,
    EventKind.STOP_LOSS_SOLD: Severity.WARNING,
    EventKind.TIME_STOP_SOLD: Severity.WARNING,
    EventKind.PAUSED: Severity.WARNING,
    EventKind.LEVEL_SKIPPED: Severity.WARNING,
    EventKind.BALANCE_GAP: Severity.WARNING,
    EventKind.ERROR: Severity.ERROR,
}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return plain_number(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened to a strategy. `data` holds JSON values only (see `event`)."""

    kind: EventKind
    at: datetime
    data: Mapping[str, Any] = field(default_factory=dict)
    key: str = ""  # repeats with the same key are counted on one record; empty: never merged
    count: int = 1  # how many times it happened (a RepeatThrottle's held-back repeats, handed on as one)

    @property
    def severity(self) -> Severity:
        return SEVERITY.get(self.kind, Severity.INFO)


def event(kind: EventKind, at: datetime, *, key: str = "", **data: Any) -> Event:
    """An Event with its data made JSON-safe: Decimals as plain strings, datetimes as ISO 8601, None left out."""
    return Event(kind, at, {name: _plain(value) for name, value in data.items() if value is not None}, key)


# How often the repeats of one key are handed on at most (an error raised every second: one write per this).
REPEAT_FLUSH = timedelta(seconds=30)

# Keys whose events take turns: a pause and the resume of the same cause. A repeat is counted on the last record
# only while nothing of its family came in between: pause, resume, pause is three records (merged into the first,
# the timeline would end on "resumed" while the strategy is paused, and the second pause would never be notified).
_TURNS = ("paused:", "resumed:")


def repeat_family(key: str) -> tuple[str, ...]:
    """The keys whose newest record decides whether an event of `key` is a repeat (`key` itself first)."""
    for prefix in _TURNS:
        if key.startswith(prefix):
            cause = key.removeprefix(prefix)
            return (key, *(other + cause for other in _TURNS if other != prefix))
    return (key,)


class RepeatThrottle:
    """Hands on the first event of a key at once, then its repeats at most once per `every`, as one event with their
    count and the latest one's time and data; events without a key pass straight through.

    The held-back repeats live in memory only until the next hand-on: a crash loses at most `every`'s worth of a
    repeat's count (never an event of its own: the first of a key always goes at once).
    """

    def __init__(self, every: timedelta = REPEAT_FLUSH) -> None:
        self.every = every
        self._handed_on: dict[str, datetime] = {}  # key → when its last event was handed on
        self._held: dict[str, Event] = {}  # key → its repeats since, as one event with their count
        self._last_of_family: dict[str, str] = {}  # a family's first key → the key of its latest event

    def admit(self, events: Sequence[Event], now: datetime, *, flush: bool = False) -> list[Event]:
        """What to write now: `events` with their repeats held back, and the held repeats that are due (all of them
        with `flush`, at a stop or a fatal error: the engine may not tick again)."""
        out: list[Event] = []
        for ev in events:
            if not ev.key:
                out.append(ev)
                continue
            family = repeat_family(ev.key)
            turn = min(family)
            if self._last_of_family.get(turn, ev.key) != ev.key:
                # a turn (a resume after a pause): what the other key holds goes first, and this one at once
                for other in family[1:]:
                    if other in self._held:
                        out.append(self._held.pop(other))
                    self._handed_on.pop(other, None)
                self._handed_on.pop(ev.key, None)
            self._last_of_family[turn] = ev.key
            held = self._held.pop(ev.key, None)
            if held is not None:
                ev = replace(ev, count=held.count + ev.count)
            last = self._handed_on.get(ev.key)
            if last is not None and ev.at - last < self.every:
                self._held[ev.key] = ev
            else:
                out.append(ev)
                self._handed_on[ev.key] = ev.at
        for key in list(self._held):
            if flush or now - self._handed_on[key] >= self.every:
                out.append(self._held.pop(key))
                self._handed_on[key] = now
        return out
