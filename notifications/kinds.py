"""The event kinds a channel can subscribe to (the events contract, /work/events-contract.md), plus the daily
summary, which is not an event. Kept here as plain strings so a channel can be set up before any event exists."""

from __future__ import annotations

EVENT_KINDS: tuple[str, ...] = (
    "started",
    "stopped",
    "handed_over",
    "failed_over",
    "buy_filled",
    "take_profit_filled",
    "stop_loss_sold",
    "time_stop_sold",
    "ladder_placed",
    "ladder_trailed",
    "paused",
    "resumed",
    "level_skipped",
    "error",
    "balance_gap",
)
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
