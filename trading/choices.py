"""The trade-record models' choices, made from the enums the core trades with: `Side`, `OrderType` and
`OrderStatus` (exchanges.base), `Role` and `ExitReason` (trading.core.types). Each value is defined there once;
a label is its value in words ("partially_filled" → "Partially filled")."""

from __future__ import annotations

from enum import StrEnum


def choices_of(enum: type[StrEnum]) -> list[tuple[str, str]]:
    """[(value, label)] for a model field's or a filter's `choices`."""
    return [(member.value, member.value.replace("_", " ").capitalize()) for member in enum]
