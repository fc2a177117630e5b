"""Strategy events: what an engine did and why, as records a timeline and the notifier read. No Django.

The engine hands its events to the journal with the state change they describe (`Journal.save(events=…)`), so a
fill's event commits with the fill: none is lost across a crash and none is written for a change that rolled back.
The message text is not stored: readers render it in their language from the kind and the data, whose money
values are plain decimal strings.

A repeating event (the same error, pause or skip reason tick after tick) carries a `key`: the writer adds it to the
newest event of its strategy with that key when that one is recent (trading.events.REPEAT_WINDOW), as one record
with a count, not one per tick.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
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

    @property
    def severity(self) -> Severity:
        return SEVERITY.get(self.kind, Severity.INFO)


def event(kind: EventKind, at: datetime, *, key: str = "", **data: Any) -> Event:
    """An Event with its data made JSON-safe: Decimals as plain strings, datetimes as ISO 8601, None left out."""
    return Event(kind, at, {name: _plain(value) for name, value in data.items() if value is not None}, key)
