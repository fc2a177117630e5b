"""The event kinds a channel can subscribe to (trading/core/events.py), plus the daily
summary, which is not an event."""

from __future__ import annotations

from trading.core.events import EventKind

EVENT_KINDS: tuple[str, ...] = tuple(kind.value for kind in EventKind)
DAILY_SUMMARY = "daily_summary"
CHANNEL_KINDS: tuple[str, ...] = (*EVENT_KINDS, DAILY_SUMMARY)
# What a new channel receives unless told otherwise: what a trader wants on the phone, not every ladder move.
DEFAULT_KINDS: tuple[str, ...] = (
    "stopped",
    "failed_over",
    "take_profit_filled",
    "stop_loss_sold",
    "time_stop_sold",
    "paused",
    "error",
    "balance_gap",
    DAILY_SUMMARY,
)
